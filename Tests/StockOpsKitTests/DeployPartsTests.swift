import Foundation
import Testing

@testable import StockOpsKit

@Suite struct DeployPartsTests {
    static var config: PipelineConfig {
        get throws {
            try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        }
    }

    // MARK: Tags

    @Test func theEnvironmentTagsComeFromTheTemplates() throws {
        let environments = EnvironmentConfig.defaults
        let dev = try ReleaseTags.compute(environment: .dev, config: environments[.dev]!, commit: "1a2b3c4d5e", ref: "refs/heads/develop")
        #expect(dev.tag.name == "dev-1a2b3c4")
        #expect(dev.following.isEmpty)
        let stage = try ReleaseTags.compute(environment: .stage, config: environments[.stage]!, commit: "1a2b3c4", ref: nil)
        #expect(stage.tag.name == "stage-1a2b3c4")
        let prod = try ReleaseTags.compute(environment: .prod, config: environments[.prod]!, commit: "1a2b3c4", ref: "refs/tags/v1.3.0")
        #expect(prod.tag.name == "v1.3.0")
        #expect(prod.following.map(\.name) == ["latest"])
        #expect(try ReleaseTags.commit(ofBuildTag: "git-1a2b3c4") == "1a2b3c4")
    }

    @Test func aProdReleaseNeedsASemanticVersionTag() {
        let prod = EnvironmentConfig.defaults[.prod]!
        #expect(throws: ReleaseTagError.self) { try ReleaseTags.compute(environment: .prod, config: prod, commit: "1a2b3c4", ref: nil) }
        do {
            _ = try ReleaseTags.compute(environment: .prod, config: prod, commit: "1a2b3c4", ref: "refs/tags/release-3")
            Issue.record("a non-semver prod tag was accepted")
        } catch {
            #expect(error.message.contains("\"release-3\" is not a semantic version"))
        }
        #expect(throws: ReleaseTagError.self) { try ReleaseTags.commit(ofBuildTag: "latest") }
    }

    @Test func theNearestTagsOfAMissingOne() {
        let tags = ["v1.2.0", "v1.2.9", "v1.3.1", "v2.0.0", "latest", "stage-1a2b3c4", "dev-1a2b3c4"]
        #expect(NearestTags.rank("v1.3.0", among: tags, limit: 4) == ["v1.2.9", "v1.3.1", "v1.2.0", "v2.0.0"])
        #expect(NearestTags.rank("v3.0.0", among: tags, limit: 2) == ["v2.0.0", "v1.3.1"])
        #expect(NearestTags.rank("stage-1a2b3c5", among: tags, limit: 2) == ["stage-1a2b3c4", "dev-1a2b3c4"])
        #expect(NearestTags.rank("v9.9.9", among: ["latest"]) == ["latest"])
        #expect(NearestTags.rank("x", among: []).isEmpty)
        #expect(NearestTags.editDistance("kitten", "sitting") == 3)
    }

    @Test func theRegistryHostAndCredentialsFollowTheImageStages() throws {
        let config = RegistryAccess.effective(try Self.config, environment: ["STOCKOPS_REGISTRY": "127.0.0.1:5999"])
        #expect(config.registry.host == "127.0.0.1:5999")
        #expect(RegistryAccess.client(config.registry, credentials: nil).baseURL == "http://127.0.0.1:5999")
        #expect(RegistryAccess.credentials(fetched: nil, environment: [:]) == nil)
        let fromEnvironment = RegistryAccess.credentials(
            fetched: nil, environment: ["STOCKOPS_REGISTRY_USERNAME": "robot", "STOCKOPS_REGISTRY_PASSWORD": "pw"])
        #expect(fromEnvironment == RegistryCredentials(username: "robot", password: Secret("pw")))
    }

    // MARK: Graph

    @Test func promoteFollowsEveryBuildAndDeployIsManualWhereApprovalIsRequired() throws {
        let config = try Self.config
        for environment in Environment.standard {
            let graph = try StockOpsPipeline.releaseGraph(config: config, options: StockOpsPipeline.Options(environment: environment))
            let promote = try #require(graph.node(StockOpsPipeline.promote.id))
            #expect(Set(promote.dependencies) == [NodeID("build", key: "stock-listing"), NodeID("build", key: "trade")])
            #expect(promote.policy.kind == .gate)
            let deploy = try #require(graph.node(StockOpsPipeline.deploy.id))
            #expect(deploy.dependencies == [StockOpsPipeline.promote.id])
            #expect(deploy.policy.kind == (environment == .prod ? .manual : .gate))
        }
        let pipeline = try StockOpsPipeline.graph(config: config, options: StockOpsPipeline.Options(environment: .dev))
        let promote = try #require(pipeline.node(StockOpsPipeline.promote.id))
        var expected: Set<NodeID> = [StockOpsPipeline.fetchSecrets.id]
        for service in ["stock-listing", "trade"] {
            for stage in ["build", "scan", "sbom", "sign", "attest"] { expected.insert(NodeID(stage, key: service)) }
        }
        #expect(Set(promote.dependencies) == expected, "promote waits for every image and its checks")
        #expect(pipeline.node(StockOpsPipeline.deploy.id)?.dependencies == [StockOpsPipeline.promote.id, StockOpsPipeline.fetchSecrets.id])
        #expect(pipeline.node(NodeID("build", key: "trade"))?.policy.skipPropagates == false)
        #expect(pipeline.node(NodeID("scan", key: "trade"))?.policy.skipPropagates == false)
        var gitOps = config
        gitOps.gitOps[.stage] = GitOpsTarget(repository: "/srv/infra.git", overlay: "overlays/stage")
        let gitOpsStage = try StockOpsPipeline.graph(config: gitOps, options: StockOpsPipeline.Options(environment: .stage))
        #expect(gitOpsStage.node(StockOpsPipeline.promote.id) == nil, "a kind: gitops environment is deployed by gitops-deploy")
        #expect(gitOpsStage.node(StockOpsPipeline.deploy.id) == nil)
        #expect(gitOpsStage.node(NodeID("gitops-deploy", key: "trade")) != nil)
        #expect(try StockOpsPipeline.graph(config: gitOps, options: StockOpsPipeline.Options(environment: .dev)).node(StockOpsPipeline.deploy.id) != nil)

        // dast scans what was deployed: after promote and deploy, or after the gitops-deploy nodes.
        var scanned = config
        scanned.security.dast = DASTConfig()
        let composeStage = try StockOpsPipeline.graph(config: scanned, options: StockOpsPipeline.Options(environment: .stage))
        let dast = try #require(composeStage.node(StockOpsPipeline.dast(.stage).id))
        #expect(Set(dast.dependencies).isSuperset(of: [StockOpsPipeline.promote.id, StockOpsPipeline.deploy.id]))
        scanned.gitOps[.stage] = GitOpsTarget(repository: "/srv/infra.git", overlay: "overlays/stage")
        let gitOpsDast = try #require(
            try StockOpsPipeline.graph(config: scanned, options: StockOpsPipeline.Options(environment: .stage)).node(StockOpsPipeline.dast(.stage).id))
        #expect(Set(gitOpsDast.dependencies).isSuperset(of: [NodeID("gitops-deploy", key: "stock-listing"), NodeID("gitops-deploy", key: "trade")]))
    }

    /// The skip rules of the image and deploy nodes, with the scheduler: a skipped build skips its image checks but
    /// not promote, unless every build was skipped.
    @Test(arguments: [false, true])
    func aSkippedBuildSkipsItsChecksAndPromoteOnlyWhenNothingWasBuilt(_ everyBuildSkipped: Bool) async throws {
        var graph = GraphBuilder()
        let ran = Recorder<String>()
        var builds: [StageRef<BuiltImage>] = []
        var checks: [NodeID] = []
        for service in ["a", "b"] {
            let id = NodeID("build", key: service)
            let skipped = everyBuildSkipped || service == "a"
            graph.add(
                id, Probe(body: { _ in ran.append(id.description) }), policy: NodePolicy(.gate, skipPropagates: false),
                when: { _ in skipped ? "unchanged" : nil })
            let build = StageRef<BuiltImage>(id)
            builds.append(build)
            let scan = NodeID("scan", key: service)
            checks.append(
                graph.add(
                    scan, Probe(body: { _ in ran.append(scan.description) }), policy: NodePolicy(.gate, skipPropagates: false), after: [id],
                    when: StockOpsPipeline.imageBuilt(build)
                ).id)
        }
        graph.add(
            StockOpsPipeline.promote.id, Probe(body: { _ in ran.append("promote") }), after: builds.map(\.id) + checks, when: PromoteStage.skipReason(builds))
        let result = await scheduler().run(try graph.build())
        #expect(result["scan[a]"]?.status == .skipped)
        #expect(result["scan[a]"]?.reason == "build[a] was skipped")
        if everyBuildSkipped {
            #expect(ran.values.isEmpty)
            #expect(result["promote"]?.reason == "no image was built in this run")
        } else {
            #expect(Set(ran.values) == ["build[b]", "scan[b]", "promote"])
            #expect(result["promote"]?.status == .passed)
        }
    }

    // MARK: Compose

    @Test func composeGetsTheTagPortsAndPassThroughVariablesOnly() throws {
        let config = try Self.config
        let compose = ComposeEnvironment.command(flavor: .standalone, environment: .stage, root: "/repo", processEnvironment: [:])
        let environment = ComposeEnvironment(
            compose: compose, config: config, environment: .stage,
            processEnvironment: [
                "TRADE_PORT": "18011", "VAULT_ADDR": "http://vault:8200", "SECRET_TOKEN": "s3cr3t", "POSTGRES_IMAGE": "stockops-local/postgres:15",
            ])
        let variables = try environment.variables(tag: RegistryTag("stage-1a2b3c4"))
        #expect(variables["IMAGE_TAG"] == "stage-1a2b3c4")
        #expect(variables["REGISTRY"] == "localhost:5000")
        #expect(variables["REGISTRY_PROJECT"] == "stockapp")
        #expect(variables["STOCK_LISTING_PORT"] == "8010")
        #expect(variables["TRADE_PORT"] == "18011")
        #expect(variables["DB_PORT"] == "5433")
        #expect(variables["VAULT_ADDR"] == "http://vault:8200")
        #expect(variables["POSTGRES_IMAGE"] == "stockops-local/postgres:15")
        #expect(variables["SECRET_TOKEN"] == nil)
        let command = try environment.command(compose.up(), tag: RegistryTag("stage-1a2b3c4"))
        #expect(command.executable == "docker-compose")
        #expect(command.arguments == ["-p", "stocks-stage", "-f", "/repo/environments/compose.yml", "up", "-d", "--remove-orphans"])
        #expect(
            compose.pull(["stock-listing", "trade"]) == [
                "docker-compose", "-p", "stocks-stage", "-f", "/repo/environments/compose.yml", "pull", "stock-listing", "trade",
            ])
        #expect(try environment.smokeTest(timeout: .seconds(5)).targets.map(\.baseURL) == ["http://127.0.0.1:8010", "http://127.0.0.1:18011"])
        #expect(
            ComposeEnvironment.command(flavor: .plugin, environment: .dev, root: nil, processEnvironment: ["STOCKOPS_COMPOSE_PROJECT": "e2e-1"]).projectName
                == "e2e-1")
    }

    @Test func aBadPortVariableIsRefusedByName() throws {
        let environment = ComposeEnvironment(
            compose: ComposeCommand(flavor: .plugin, environment: "dev"), config: try Self.config, environment: .dev,
            processEnvironment: ["STOCK_LISTING_PORT": "eighty"])
        #expect {
            _ = try environment.ports()
        } throws: { error in
            (error as? StockOpsError)?.message == "STOCK_LISTING_PORT=eighty is not a TCP port (1-65535)"
        }
    }

    @Test func theSmokeHostFollowsTheBindAddress() throws {
        func host(_ bind: String?) throws -> String {
            ComposeEnvironment(
                compose: ComposeCommand(flavor: .plugin, environment: "dev"), config: try Self.config, environment: .dev,
                processEnvironment: bind.map { ["BIND_ADDRESS": $0] } ?? [:]
            ).smokeHost
        }
        #expect(try host(nil) == "127.0.0.1")
        #expect(try host("0.0.0.0") == "127.0.0.1")
        #expect(try host("10.1.2.3") == "10.1.2.3")
        #expect(try host("fd00::1") == "[fd00::1]")
    }

    @Test func dockerPsLinesOfAComposeProjectAreParsed() throws {
        // Captured from `docker ps` (CLI 28.2, engine 20.10) for a running dev environment.
        let output = """
            stock-listing\trunning\tUp 5 seconds (healthy)\t127.0.0.1:15000/stockapp/stock-listing:dev-aaaaaaa
            trade\trunning\tUp 4 seconds (health: starting)\t127.0.0.1:15000/stockapp/trade:dev-aaaaaaa
            db\texited\tExited (0) 2 seconds ago\tstockops-local/postgres:15
            vault-agent\trunning\tUp 11 seconds (unhealthy)\tstockops-local/openbao:2

            """
        let containers = try ContainerStatus.parse(output)
        #expect(containers.map(\.service) == ["db", "stock-listing", "trade", "vault-agent"])
        #expect(containers.map(\.health) == [nil, "healthy", "starting", "unhealthy"])
        #expect(containers[0].state == "exited")
        #expect(containers[1].image == "127.0.0.1:15000/stockapp/stock-listing:dev-aaaaaaa")
        #expect(throws: ToolOutputError.self) { try ContainerStatus.parse("just one field\n") }
        #expect(ContainerStatus.list(project: "stocks-dev").contains("label=com.docker.compose.project=stocks-dev"))
    }

    // MARK: Approval

    /// Under GitHub Actions only GitHub's review history of the run approves, checked against a stand-in of the API.
    @Test func underGitHubActionsOnlyGitHubsReviewHistoryApproves() async throws {
        func server(_ reviews: [[String]]) async throws -> FakeAPIServer {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: reviews), as: UTF8.self)
            return try await FakeAPIServer.start(try FakeAPIServer.gitHubApprovals, arguments: ["job-token", "acme/stocks", "42", json])
        }
        func job(_ api: FakeAPIServer, token: String = "job-token", extra: [String: String] = [:]) -> [String: String] {
            [
                "GITHUB_ACTIONS": "true", "GITHUB_API_URL": api.baseURL, "GITHUB_REPOSITORY": "acme/stocks", "GITHUB_RUN_ID": "42", "GITHUB_TOKEN": token,
                "GITHUB_ACTOR": "mallory", "STOCKOPS_GITHUB_ENVIRONMENT": "prod",
            ].merging(extra) { $1 }
        }
        func refusal(_ body: () async throws(StockOpsError) -> Approval) async -> String {
            do {
                let approval = try await body()
                return "approved by \(approval.approver)"
            } catch {
                return error.message
            }
        }

        let approved = try await server([["approved", "stage", "carol"], ["approved", "prod", "octocat"]])
        defer { approved.stop() }
        let approval = try await Approval.resolve(environment: .prod, approver: nil, processEnvironment: RunEnvironment(job(approved)), confirm: nil)
        #expect(approval == Approval(approver: "octocat", source: .githubEnvironment))
        let requests = try await approved.requests()
        #expect(requests.first?["path"] as? String == "/repos/acme/stocks/actions/runs/42/approvals")
        #expect(requests.first?["version"] as? String == "2022-11-28")

        // The variables anyone on the runner can set approve nothing: no review of prod, a rejection, a wrong token.
        let none = try await server([["approved", "stage", "carol"]])
        defer { none.stop() }
        let noReview = await refusal { () async throws(StockOpsError) in
            try await Approval.resolve(environment: .prod, approver: nil, processEnvironment: RunEnvironment(job(none)), confirm: nil)
        }
        #expect(noReview.contains("GitHub records no approval of the prod environment for run 42 (nobody reviewed it)"), "\(noReview)")
        let rejected = try await server([["approved", "prod", "carol"], ["rejected", "prod", "dave"]])
        defer { rejected.stop() }
        let rejection = await refusal { () async throws(StockOpsError) in
            try await Approval.resolve(environment: .prod, approver: nil, processEnvironment: RunEnvironment(job(rejected)), confirm: nil)
        }
        #expect(rejection.contains("its newest review is rejected by dave"), "\(rejection)")
        let badToken = await refusal { () async throws(StockOpsError) in
            try await Approval.resolve(environment: .prod, approver: nil, processEnvironment: RunEnvironment(job(approved, token: "forged")), confirm: nil)
        }
        #expect(badToken.contains("GitHub answered 401") && badToken.contains("actions: read"), "\(badToken)")
        let noToken = await refusal { () async throws(StockOpsError) in
            try await Approval.resolve(
                environment: .prod, approver: nil, processEnvironment: RunEnvironment(job(approved).filter { $0.key != "GITHUB_TOKEN" }), confirm: nil)
        }
        #expect(noToken.contains("needs GITHUB_TOKEN"), "\(noToken)")
        let named = await refusal { () async throws(StockOpsError) in
            try await Approval.resolve(environment: .prod, approver: "mallory", processEnvironment: RunEnvironment(job(approved)), confirm: { "mallory" })
        }
        #expect(named.contains("--approver is for a terminal"), "\(named)")
    }

    @Test func outsideGitHubOnlyATerminalConfirmationApproves() async throws {
        #expect(
            try await Approval.resolve(environment: .prod, approver: nil, processEnvironment: [:], confirm: { "dave" })
                == Approval(approver: "dave", source: .terminal))
        #expect(
            try await Approval.resolve(environment: .prod, approver: "erin", processEnvironment: [:], confirm: { "dave" })
                == Approval(approver: "erin", source: .commandLine))
        for confirm in [nil, { nil }] as [(() -> String?)?] {
            do {
                _ = try await Approval.resolve(
                    environment: .prod, approver: "erin", processEnvironment: ["STOCKOPS_GITHUB_ENVIRONMENT": "prod"], confirm: confirm)
                Issue.record("--approver without a confirmation approved")
            } catch {
                #expect(
                    error.message.contains(confirm == nil ? "prod requires an approval: confirm on a terminal" : "prod was not confirmed"), "\(error.message)")
            }
        }
        await #expect(throws: StockOpsError.self) {
            try await Approval.resolve(environment: .prod, approver: " ", processEnvironment: [:], confirm: { "dave" })
        }
    }

    @Test func aProdRunThatDeploysIsRefusedWithoutAnApprovalBeforeAnythingRuns() async throws {
        let root = temporaryDirectory("approval")
        try FileManager.default.createDirectory(atPath: root + "/pipelines", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml", toPath: root + "/pipelines/stockops.yml")
        var request = RunRequest(root: root, processEnvironment: ["GITHUB_REF": "refs/tags/v1.2.3"])
        request.approvals = ["deploy"]
        request.confirm = { _, _ in nil }
        let run = await request.attemptRun()
        #expect(run.exitStatus == .usage)
        #expect(run.message.contains("prod was not confirmed; nothing was changed"), "\(run.message)")
        #expect(!FileManager.default.fileExists(atPath: root + "/.stockops/runs"))
    }

    // MARK: Config

    @Test func smokeChecksAreReadFromThePipelineFile() throws {
        let config = try Self.config
        #expect(config.service(named: "stock-listing")?.smoke == [SmokeCheck(path: "/stocks?limit=1", expect: .nonEmptyList)])
        #expect(config.service(named: "trade")?.smoke == [SmokeCheck(path: "/portfolio/stockops-smoke", expect: .ok)])
        let yaml = try String(contentsOfFile: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml", encoding: .utf8)
            .replacingOccurrences(of: "expect: non-empty-list", with: "expect: lots")
        #expect {
            _ = try PipelineConfig.parse(yaml, file: "pipelines/stockops.yml")
        } throws: { error in
            "\(error)".contains("services[0].smoke[0].expect: unknown expectation 'lots'; use ok or non-empty-list")
        }
    }

    // MARK: Smoke test against a real HTTP server

    /// `python3 -m http.server` serving `files` on a free loopback port.
    final class FileServer: ChildServer, @unchecked Sendable {
        let process = Process()
        let port: Int

        init(files: [String: String]) async throws {
            let directory = temporaryDirectory("smoke")
            for (name, content) in files {
                try content.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            }
            port = try freeLoopbackPort()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, String(port)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }
    }

    @Test func theSmokeTestWaitsForHealthThenChecksTheAPI() async throws {
        let server = try await FileServer(files: ["health": #"{"status":"ok"}"#, "stocks": #"[{"symbol":"AAPL"}]"#, "empty": "[]"])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let lines = Recorder<String>()
        let passing = SmokeTest(
            targets: [
                SmokeTest.Target(
                    service: "stock-listing", baseURL: base,
                    checks: [SmokeCheck(path: "/stocks?limit=1", expect: .nonEmptyList), SmokeCheck(path: "/health", expect: .ok)])
            ],
            timeout: .seconds(30))
        let report = await passing.run { lines.append($0) }
        #expect(report.passed, "\(report)")
        #expect(report.results.map(\.status) == [200, 200, 200])
        #expect(lines.values.first == "✓ stock-listing: GET /health 200")

        let empty = await SmokeTest(
            targets: [SmokeTest.Target(service: "stock-listing", baseURL: base, checks: [SmokeCheck(path: "/empty", expect: .nonEmptyList)])],
            timeout: .seconds(30)
        ).run()
        #expect(!empty.passed)
        #expect(empty.failure == "stock-listing: GET /empty answered an empty list")
        let missing = await SmokeTest(
            targets: [SmokeTest.Target(service: "trade", baseURL: base, checks: [SmokeCheck(path: "/portfolio/x", expect: .ok)])], timeout: .seconds(30)
        ).run()
        #expect(missing.failure == "trade: GET /portfolio/x answered 404, expected 200")
    }

    @Test func aServiceThatNeverAnswersFailsItsHealthCheckAtTheTimeout() async throws {
        let port = try freeLoopbackPort()
        let report = await SmokeTest(
            targets: [SmokeTest.Target(service: "trade", baseURL: "http://127.0.0.1:\(port)")], timeout: .seconds(1), interval: .milliseconds(100)
        ).run()
        #expect(!report.passed)
        #expect(report.failure?.hasPrefix("trade: GET /health did not answer 200 within 1.0 s (last: couldNotConnect") == true, "\(report.failure ?? "")")
    }
}
