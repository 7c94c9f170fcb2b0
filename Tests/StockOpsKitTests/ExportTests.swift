import Foundation
import Testing
import Yams

@testable import StockOpsKit

@Suite struct ExportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The repository's own pipeline graph.
    func pipelineGraph() throws -> PipelineGraph {
        let config = try PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml", displayPath: "pipelines/stockops.yml")
        return try StockOpsPipeline.graph(config: config, options: StockOpsPipeline.Options(environment: .dev))
    }

    /// A graph with a fan-out, a join, a manual node and a `finally` node.
    func syntheticGraph() throws -> PipelineGraph {
        var builder = GraphBuilder()
        let source = builder.add("paths-filter", Produce(value: { 1 }))
        let trade = builder.add(NodeID("test", key: "trade"), AddOne(input: source))
        let listing = builder.add(NodeID("test", key: "stock-listing"), AddOne(input: source))
        let deploy = builder.add("deploy", Probe(dependencies: [trade.id, listing.id]), policy: NodePolicy(.manual))
        builder.add("notify", Probe(dependencies: [deploy.id]), policy: NodePolicy(.finally))
        return try builder.build()
    }

    /// Jobs of a rendered workflow, parsed back.
    func jobs(_ yaml: String) throws -> [String: [String: Any]] {
        let workflow = try #require(try Yams.load(yaml: yaml, Resolver.default.removing(.bool)) as? [String: Any])
        return try #require(workflow["jobs"] as? [String: [String: Any]])
    }

    @Test func jobIDsAreSanitizedAndUnique() throws {
        var builder = GraphBuilder()
        builder.add(NodeID("test", key: "trade"), Probe())
        builder.add("test-trade", Probe())
        builder.add(NodeID("scan", key: "stock.listing"), Probe())
        builder.add("9lives", Probe())
        let ids = GitHubActionsWorkflow.jobIDs(for: try builder.build())
        #expect(ids[NodeID("test", key: "trade")] == "test-trade")
        #expect(ids["test-trade"] == "test-trade-2")
        #expect(ids[NodeID("scan", key: "stock.listing")] == "scan-stock-listing")
        #expect(ids["9lives"] == "node-9lives")
    }

    @Test(arguments: ["pipeline", "synthetic"])
    func needsEqualTheGraphsEdges(_ which: String) throws {
        let graph = try which == "pipeline" ? pipelineGraph() : syntheticGraph()
        let ids = GitHubActionsWorkflow.jobIDs(for: graph)
        var jobs = try jobs(GitHubActionsWorkflow().render(graph))
        #expect(jobs.removeValue(forKey: GitHubActionsWorkflow.buildJob)?["needs"] == nil)
        #expect(jobs.removeValue(forKey: GitHubActionsWorkflow.pullRequestJob)?["needs"] == nil)
        // The token is revoked inside each job that logs in to Vault, not by a job of its own.
        let nodes = graph.nodes.filter { $0.id != GitHubActionsWorkflow.revokeVaultToken }
        #expect(Set(jobs.keys) == Set(nodes.map { ids[$0.id]! }))
        var edges: Set<[String]> = []
        for (id, job) in jobs {
            let needs = job["needs"] as? [String] ?? []
            #expect(needs.first == GitHubActionsWorkflow.buildJob, "\(id) does not need the job that builds stockops")
            for dependency in needs.dropFirst() { edges.insert([dependency, id]) }
        }
        let expected = Set(
            nodes.flatMap { node in node.dependencies.filter { $0 != GitHubActionsWorkflow.revokeVaultToken }.map { [ids[$0]!, ids[node.id]!] } })
        #expect(edges == expected)
        #expect(!expected.isEmpty)
    }

    @Test func jobsRunTheirNodeAndExchangeOutputs() throws {
        let graph = try syntheticGraph()
        let jobs = try jobs(GitHubActionsWorkflow().render(graph))
        let trade = try #require(jobs["test-trade"])
        #expect(trade["name"] as? String == "test[trade]")
        let steps = try #require(trade["steps"] as? [[String: Any]])
        let download = try #require(
            steps.first {
                ($0["uses"] as? String)?.hasPrefix("actions/download-artifact@") == true && ($0["with"] as? [String: String])?["name"] != "stockops-binary"
            })
        #expect((download["with"] as? [String: String])?["name"] == "stockops-output-paths-filter")
        let run = try #require(steps.first { ($0["env"] as? [String: String])?["NODE"] != nil })
        #expect((run["env"] as? [String: String])?["NODE"] == "test[trade]")
        #expect((run["run"] as? String)?.contains("--outputs-dir .stockops/outputs") == true)
        let upload = try #require(steps.first { ($0["with"] as? [String: String])?["name"] == "stockops-output-test-trade" })
        #expect((upload["with"] as? [String: String])?["path"] == ".stockops/outputs/test_trade_.json")
        #expect(jobs["notify"]?["if"] as? String == "${{ always() && github.event_name != 'pull_request' }}")
        #expect(jobs["test-trade"]?["if"] as? String == "${{ github.event_name != 'pull_request' }}")
        #expect(jobs["deploy"]?["environment"] as? String == "prod")
        let deploySteps = try #require(jobs["deploy"]?["steps"] as? [[String: Any]])
        let deployRun = try #require(deploySteps.first { ($0["env"] as? [String: String])?["NODE"] != nil })
        #expect((deployRun["env"] as? [String: String])?["GITHUB_TOKEN"] == "${{ github.token }}")
        #expect((run["env"] as? [String: String])?["GITHUB_TOKEN"] == nil)
        #expect(deploySteps.contains { ($0["run"] as? String)?.contains("--approve \"$NODE\"") == true })
        #expect(!steps.contains { ($0["run"] as? String)?.contains("--approve") == true })
    }

    /// The node(s) a parsed job runs: its matrix entries' `node`, or the NODE of its run step.
    func nodesOf(_ job: [String: Any]) throws -> [String] {
        if let include = ((job["strategy"] as? [String: Any])?["matrix"] as? [String: Any])?["include"] as? [[String: Any]] {
            return include.compactMap { $0["node"] as? String }
        }
        let steps = try #require(job["steps"] as? [[String: Any]])
        return steps.compactMap { ($0["env"] as? [String: String])?["NODE"] }
    }

    @Test(arguments: ["pipeline", "synthetic"])
    func matrixJobsRunEveryNodeOnceAndNeedTheJobsOfTheirEntriesDependencies(_ which: String) throws {
        let graph = try which == "pipeline" ? pipelineGraph() : syntheticGraph()
        var workflow = GitHubActionsWorkflow()
        workflow.matrix = true
        let jobs = try jobs(workflow.render(graph))
        var jobOfNode: [String: String] = [:]
        for (id, job) in jobs {
            for node in try nodesOf(job) {
                #expect(jobOfNode[node] == nil, "\(node) runs in \(jobOfNode[node] ?? "") and \(id)")
                jobOfNode[node] = id
            }
        }
        let revoke = GitHubActionsWorkflow.revokeVaultToken
        #expect(Set(jobOfNode.keys) == Set(graph.nodes.map(\.id).filter { $0 != revoke }.map(\.description)))
        #expect(jobs.count - 2 < graph.nodes.count)  // less the jobs that build stockops and run pull requests
        for (id, job) in jobs {
            let nodes = try nodesOf(job)
            let dependencies = graph.nodes.filter { nodes.contains($0.id.description) }.flatMap(\.dependencies).filter { $0 != revoke }
            let expected = Set(dependencies.map { jobOfNode[$0.description]! })
            if nodes.isEmpty { continue }  // the jobs that build stockops and run pull requests
            #expect(Set(job["needs"] as? [String] ?? []) == expected.union([GitHubActionsWorkflow.buildJob]), "\(id)")
            #expect(!expected.contains(id))
            if nodes.count > 1 {
                #expect(Set(nodes.map { NodeID(parsing: $0).name }).count == 1, "\(id) mixes stages: \(nodes)")
                #expect(job["name"] as? String == "${{ matrix.node }}")
            }
        }
        if which == "pipeline" {
            for stage in ["test", "build", "scan", "sbom", "sign", "sonar"] {
                #expect(try nodesOf(try #require(jobs[stage])).sorted() == ["\(stage)[stock-listing]", "\(stage)[trade]"])
            }
        }
    }

    @Test func matrixEntriesPassTheirOwnOutputs() throws {
        var workflow = GitHubActionsWorkflow()
        workflow.matrix = true
        let jobs = try jobs(workflow.render(try syntheticGraph()))
        let test = try #require(jobs["test"])
        let include = try #require(((test["strategy"] as? [String: Any])?["matrix"] as? [String: Any])?["include"] as? [[String: String]])
        #expect(
            include == [
                ["node": "test[trade]", "artifact": "test-trade", "output": "test_trade_.json"],
                ["node": "test[stock-listing]", "artifact": "test-stock-listing", "output": "test_stock-listing_.json"],
            ])
        #expect((test["strategy"] as? [String: Any])?["fail-fast"] as? String == "false")
        let steps = try #require(test["steps"] as? [[String: Any]])
        let run = try #require(steps.first { ($0["env"] as? [String: String])?["NODE"] != nil })
        #expect((run["env"] as? [String: String])?["NODE"] == "${{ matrix.node }}")
        let upload = try #require(steps.first { ($0["with"] as? [String: String])?["name"] == "stockops-output-${{ matrix.artifact }}" })
        #expect((upload["with"] as? [String: String])?["path"] == ".stockops/outputs/${{ matrix.output }}")
        let deploySteps = try #require(jobs["deploy"]?["steps"] as? [[String: Any]])
        let downloads = deploySteps.compactMap { step -> String? in
            guard (step["uses"] as? String)?.hasPrefix("actions/download-artifact@") == true, (step["with"] as? [String: String])?["name"] != "stockops-binary"
            else { return nil }
            return (step["with"] as? [String: String])?["name"]
        }
        #expect(downloads == ["stockops-output-test-trade", "stockops-output-test-stock-listing"])
        #expect(jobs["deploy"]?["needs"] as? [String] == [GitHubActionsWorkflow.buildJob, "test"])
    }

    @Test func matrixRefusesFoldsThatWouldNeedThemselves() throws {
        var workflow = GitHubActionsWorkflow()
        workflow.matrix = true
        var inside = GraphBuilder()
        let first = inside.add(NodeID("test", key: "a"), Produce(value: { 1 }))
        inside.add(NodeID("test", key: "b"), AddOne(input: first))
        let folded = try inside.build()
        do {
            _ = try workflow.render(folded)
            Issue.record("a matrix job needing itself was rendered")
        } catch {
            #expect(error.message.contains("cannot fold the test nodes into one job: one of them depends on test[a]"), "\(error.message)")
        }
        // a[x] → b[x] and b[y] → a[y]: the jobs a and b would need each other.
        var crossing = GraphBuilder()
        let ax = crossing.add(NodeID("a", key: "x"), Produce(value: { 1 }))
        crossing.add(NodeID("b", key: "x"), AddOne(input: ax))
        let by = crossing.add(NodeID("b", key: "y"), Produce(value: { 1 }))
        crossing.add(NodeID("a", key: "y"), AddOne(input: by))
        let graph = try crossing.build()
        do {
            _ = try workflow.render(graph)
            Issue.record("a cycle of matrix jobs was rendered")
        } catch {
            #expect(error.message.contains("need each other in a cycle"), "\(error.message)")
        }
        #expect(try GitHubActionsWorkflow().jobs(for: graph).count == 4)
    }

    @Test func theExportedWorkflowPassesTheLinters() async throws {
        let directory = temporaryDirectory("export-lint")
        try FileManager.default.createDirectory(atPath: directory + "/.github/workflows", withIntermediateDirectories: true)
        var matrix = GitHubActionsWorkflow()
        matrix.matrix = true
        var files: [String] = []
        for (name, graph) in [("pipeline", try pipelineGraph()), ("synthetic", try syntheticGraph())] {
            for (flavor, workflow) in [("nodes", GitHubActionsWorkflow()), ("matrix", matrix)] {
                let file = ".github/workflows/\(name)-\(flavor).yml"
                try Data(workflow.render(graph).utf8).write(to: URL(fileURLWithPath: directory + "/" + file))
                files.append(file)
            }
        }
        let findings = try await WorkflowLinters.findings(in: files, root: directory)
        #expect(findings.isEmpty, "\(findings.joined(separator: "\n"))")
    }

    /// Permissions a parsed job grants its token.
    func permissions(_ job: [String: Any]?) -> [String: String] {
        job?["permissions"] as? [String: String] ?? [:]
    }

    @Test(arguments: [false, true])
    func keylessSigningGivesOnlyTheSignJobsAnOIDCToken(matrix: Bool) throws {
        var workflow = GitHubActionsWorkflow()
        workflow.matrix = matrix
        let graph = try pipelineGraph()
        for (id, job) in try jobs(workflow.render(graph)) {
            #expect(permissions(job) == ["contents": "read"], "\(id)")
        }
        workflow.keylessSigning = true
        let jobs = try jobs(workflow.render(graph))
        var signing = 0
        for (id, job) in jobs {
            if try nodesOf(job).contains(where: { $0.hasPrefix("sign[") }) {
                signing += 1
                #expect(permissions(job) == ["contents": "read", "id-token": "write"], "\(id)")
            } else {
                #expect(permissions(job) == ["contents": "read"], "\(id)")
            }
        }
        #expect(signing > 0)
    }

    @Test func exportGrantsTheOIDCTokenWhenTheConfigSignsKeyless() throws {
        let directory = temporaryDirectory("export-keyless")
        let config = try String(contentsOfFile: Self.root + "/pipelines/stockops.yml", encoding: .utf8)
        let keyless = config.replacingOccurrences(
            of: "  sign:\n    required: false\n",
            with: "  sign:\n    required: false\n    keyless: {identity: ci@example.com, issuer: https://token.actions.githubusercontent.com}\n")
        #expect(keyless != config)
        try Data(keyless.utf8).write(to: URL(fileURLWithPath: directory + "/stockops.yml"))
        let request = RunRequest(root: Self.root, configPath: directory + "/stockops.yml", processEnvironment: [:])
        let jobs = try jobs(try ExportedWorkflow.export(request).text)
        let signJobs = jobs.filter { $0.key.hasPrefix("sign-") }
        #expect(!signJobs.isEmpty)
        #expect(signJobs.allSatisfy { permissions($0.value)["id-token"] == "write" })
        #expect(jobs.filter { permissions($0.value)["id-token"] != nil }.count == signJobs.count)
    }

    @Test func exportWritesTheWorkflow() async throws {
        let directory = temporaryDirectory("export")
        let exported = try ExportedWorkflow.export(RunRequest(root: Self.root, processEnvironment: [:]))
        #expect(try exported.text == GitHubActionsWorkflow().render(pipelineGraph()))
        let missing = #expect(throws: StockOpsError.self) {
            try ExportedWorkflow.export(RunRequest(root: Self.root, configPath: "missing.yml", processEnvironment: [:]))
        }
        #expect(missing?.exitStatus == .usage)
        var matrix = GitHubActionsWorkflow()
        matrix.matrix = true
        #expect(try ExportedWorkflow.export(RunRequest(root: Self.root, processEnvironment: [:]), matrix: true).text == matrix.render(pipelineGraph()))

        let written = try await runTool(
            [EnvironmentLockTests.binary, "export", "github-actions", "--root", Self.root, "--matrix", "--output", directory + "/matrix.yml"],
            environment: ["PATH": "/usr/bin:/bin"], directory: directory)
        #expect(written.status == 0, "\(written.output)")
        #expect(try String(contentsOfFile: directory + "/matrix.yml", encoding: .utf8) == matrix.render(pipelineGraph()))
        let nodes = try pipelineGraph().nodes.count
        #expect(written.output.contains("matrix.yml: \(try matrix.jobs(for: pipelineGraph()).count) jobs for \(nodes) nodes"), "\(written.output)")
    }

    /// The run step of a parsed job: the step with NODE in its environment.
    func runStep(_ job: [String: Any]?) throws -> [String: Any] {
        let steps = try #require(job?["steps"] as? [[String: Any]])
        return try #require(steps.first { ($0["env"] as? [String: String])?["NODE"] != nil })
    }

    @Test(arguments: [false, true])
    func stockopsIsBuiltOnceAndOnlyVaultReadersGetTheAppRoleAndRevokeTheirToken(matrix: Bool) throws {
        var workflow = GitHubActionsWorkflow()
        workflow.matrix = matrix
        let graph = try pipelineGraph()
        let text = try workflow.render(graph)
        let jobs = try jobs(text)
        #expect(text.components(separatedBy: "swift build -c release --product stockops").count == 3, "built in the stockops and pull-request jobs only")
        let build = try #require(jobs[GitHubActionsWorkflow.buildJob])
        let buildSteps = try #require(build["steps"] as? [[String: Any]])
        #expect(
            buildSteps.contains {
                ($0["with"] as? [String: String])?["name"] == "stockops-binary" && ($0["uses"] as? String)?.hasPrefix("actions/upload-artifact@") == true
            })
        var readers: [String] = []
        for (id, job) in jobs where id != GitHubActionsWorkflow.buildJob && id != GitHubActionsWorkflow.pullRequestJob {
            let steps = try #require(job["steps"] as? [[String: Any]])
            #expect(steps.contains { ($0["with"] as? [String: String])?["name"] == "stockops-binary" }, "\(id) does not download stockops")
            #expect((try runStep(job)["run"] as? String)?.contains(".stockops/bin/stockops") == true, "\(id)")
            let environment = try runStep(job)["env"] as? [String: String] ?? [:]
            let logsIn = (try runStep(job)["run"] as? String)?.contains("--only fetch-secrets --only revoke-vault-token") == true
            #expect(logsIn == (environment["VAULT_SECRET_ID"] != nil), "\(id): a job with the AppRole logs in and revokes its token itself")
            if environment["VAULT_SECRET_ID"] != nil { readers += try nodesOf(job) }
        }
        // fetch-secrets and the nodes reading its output (registry login, signing key, webhook): secrets never travel
        // between jobs, as outputs are stored without them.
        let expected = graph.nodes.filter { node in
            node.id != GitHubActionsWorkflow.revokeVaultToken
                && (node.id.name == "fetch-secrets" || node.dependencies.contains(StockOpsPipeline.fetchSecrets.id))
        }
        #expect(expected.contains { $0.id.name == "sign" } && expected.contains { $0.id.name == "deploy" })
        let readingJobs = Set(expected.map(\.id.description))
        #expect(Set(readers).isSuperset(of: readingJobs))
        #expect(
            Set(readers).subtracting(readingJobs).allSatisfy { reader in expected.contains { $0.id.name == NodeID(parsing: reader).name } },
            "only matrix siblings of a reader")
        let pullRequest = try #require(jobs[GitHubActionsWorkflow.pullRequestJob])
        #expect(pullRequest["if"] as? String == "${{ github.event_name == 'pull_request' }}")
        #expect(try !Yams.dump(object: pullRequest).contains("secrets."))
        let prSteps = try #require(pullRequest["steps"] as? [[String: Any]])
        #expect(prSteps.contains { ($0["run"] as? String)?.contains("--only test --only secret-scan --only sast --only sca") == true })
    }

    @Test func jobsRunOnTheEnvironmentsRunnerAndDeployInItsConcurrencyGroup() throws {
        let directory = temporaryDirectory("export-runner")
        let config = try String(contentsOfFile: Self.root + "/pipelines/stockops.yml", encoding: .utf8)
        let custom = config.replacingOccurrences(of: "    runner: [self-hosted, stockops-stage]\n", with: "    runner: [self-hosted, linux, stage-host]\n")
        #expect(custom != config)
        try Data(custom.utf8).write(to: URL(fileURLWithPath: directory + "/stockops.yml"))
        let request = RunRequest(root: Self.root, configPath: directory + "/stockops.yml", environment: .stage, processEnvironment: [:])
        let text = try ExportedWorkflow.export(request).text
        let workflow = try #require(try Yams.load(yaml: text, Resolver.default.removing(.bool)) as? [String: Any])
        #expect(((workflow["on"] as? [String: Any])?["push"] as? [String: Any])?["branches"] as? [String] == ["release/**"])
        let jobs = try jobs(text)
        for (id, job) in jobs {
            let expected = id == GitHubActionsWorkflow.pullRequestJob ? ["self-hosted", "stockops-pr"] : ["self-hosted", "linux", "stage-host"]
            #expect(job["runs-on"] as? [String] == expected, "\(id)")
        }
        for id in ["promote", "deploy"] {
            #expect(jobs[id]?["environment"] as? String == "stage", "\(id)")
            let concurrency = jobs[id]?["concurrency"] as? [String: Any]
            #expect(concurrency?["group"] as? String == "stockops-stage", "\(id)")
            #expect(concurrency?["cancel-in-progress"] as? String == "false", "\(id)")
        }
        #expect(jobs["test-trade"]?["environment"] == nil)
        #expect(jobs["test-trade"]?["concurrency"] == nil)
    }
}

@Suite struct OutputsDirectoryTests {
    @Test func dependenciesComeFromTheDirectoryAndTheNodesOutputGoesBack() async throws {
        var builder = GraphBuilder()
        let ran = Recorder<String>()
        let source = builder.add(
            "source",
            Produce(value: {
                ran.append("source")
                return 41
            }))
        builder.add("next", AddOne(input: source))
        builder.add(
            "unrelated",
            Produce(value: {
                ran.append("unrelated")
                return 0
            }))
        builder.add("cleanup", Probe(), policy: NodePolicy(.finally))
        let graph = try builder.build()
        let directory = OutputsDirectory(path: temporaryDirectory("outputs"))
        try Data("41".utf8).write(to: URL(fileURLWithPath: directory.file(for: "source")))

        let exclusions = try graph.exclusions(only: ["next"], skip: [])
        let inputs = directory.inputs(for: graph, only: ["next"], excluded: exclusions)
        #expect(inputs.outputs.keys.sorted() == ["source"])
        #expect(inputs.exclusions.keys.sorted() == ["cleanup"])
        var engine = scheduler(exclusions: exclusions.merging(inputs.exclusions) { first, _ in first })
        engine.externalOutputs = inputs.outputs
        let result = await engine.run(graph)

        #expect(ran.values.isEmpty)
        #expect(result["source"]?.status == .external)
        #expect(result["next"]?.status == .passed)
        #expect(result["unrelated"]?.status == .skipped)
        #expect(result["cleanup"]?.status == .skipped)
        #expect(result.status == .passed)
        #expect(try directory.write(result, only: ["next"]) == [directory.file(for: "next")])
        #expect(try String(contentsOfFile: directory.file(for: "next"), encoding: .utf8) == "42")
    }

    @Test func aMissingDependencyOutputSkipsItsDependents() async throws {
        var builder = GraphBuilder()
        let source = builder.add("source", Produce(value: { 1 }))
        builder.add("next", AddOne(input: source))
        let graph = try builder.build()
        let directory = OutputsDirectory(path: temporaryDirectory("outputs"))
        let inputs = directory.inputs(for: graph, only: ["next"], excluded: [:])
        let result = await scheduler(exclusions: inputs.exclusions).run(graph)
        #expect(result["source"]?.status == .skipped)
        #expect(result["source"]?.reason?.contains("no output in") == true)
        #expect(result["next"]?.status == .skipped)
        #expect(try directory.write(result, only: ["next"]).isEmpty)
    }

    @Test func anUnreadableOutputFailsTheRun() async throws {
        var builder = GraphBuilder()
        let source = builder.add("source", Produce(value: { 1 }))
        builder.add("next", AddOne(input: source))
        let graph = try builder.build()
        var engine = scheduler()
        engine.externalOutputs = ["source": Data("not json".utf8)]
        let result = await engine.run(graph)
        #expect(result["source"]?.status == .failed)
        #expect(result["next"]?.status == .blocked)
        #expect(result.hasInfrastructureFailure)
    }

    @Test func testTradeUsesAPreWrittenPathsFilterOutput() async throws {
        let repository = try await RunOperationTests().repository()
        let outputs = repository.root + "/.stockops/outputs"
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        let changes = ChangeSet(
            base: "0123456789abcdef", baseSource: "push event before", files: ["services/stock-listing/README.md"], sharedChanged: false,
            services: ["stock-listing"])
        try GraphBuilder.encode(changes).write(to: URL(fileURLWithPath: outputs + "/paths-filter.json"))
        let scanned = SecretScanResult(
            scanner: "trivy", version: "Version: 0.76.0", findings: [], allowed: [], report: "reports/secret-scan-trivy.json", skippedPaths: 0)
        try GraphBuilder.encode(scanned).write(to: URL(fileURLWithPath: outputs + "/secret-scan.json"))
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: [:])
        request.only = ["test[trade]"]
        request.outputsDirectory = ".stockops/outputs"
        let outcome = try await request.run(progress: .discarding)
        #expect(outcome.exitStatus == .success)
        let record = outcome.record
        let nodes = Dictionary(uniqueKeysWithValues: record.nodes.map { ($0.id, $0) })
        #expect(nodes["paths-filter"]?.status == .external)
        #expect(nodes["paths-filter"]?.log == nil)
        #expect(nodes[NodeID("test", key: "trade")]?.status == .skipped)
        #expect(nodes[NodeID("test", key: "trade")]?.reason?.hasPrefix("unchanged") == true)
        #expect(nodes[NodeID("test", key: "stock-listing")]?.reason == "not selected by --only")
        #expect(nodes["paths-filter"]?.output != nil)
        let runs = try FileManager.default.contentsOfDirectory(atPath: repository.root + "/.stockops/runs")
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs/" + runs[0] + "/logs/paths-filter.log"))

        let selected = ChangeSet(
            base: nil, baseSource: "none", files: ["services/trade/Sources/TradeService/Trade.swift"], sharedChanged: false, services: ["trade"])
        try GraphBuilder.encode(selected).write(to: URL(fileURLWithPath: outputs + "/paths-filter.json"))
        _ = await request.attemptRun()
        let latest = try #require(try FileManager.default.contentsOfDirectory(atPath: repository.root + "/.stockops/runs").first { !runs.contains($0) })
        let second = try JSONDecoder.stockops.decode(
            RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: repository.root + "/.stockops/runs/" + latest + "/run.json")))
        let trade = try #require(second.nodes.first { $0.id == NodeID("test", key: "trade") })
        #expect(second.nodes.first { $0.id == "paths-filter" }?.status == .external)
        #expect(trade.attempts >= 1, "test[trade] ran on the loaded selection")
    }
}
