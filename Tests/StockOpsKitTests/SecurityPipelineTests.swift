import Foundation
import Testing

@testable import StockOpsKit

/// The security nodes inside the real pipeline graph: ordering, the planted-secret run, the DefectDojo import.
@Suite struct SecurityPipelineTests {
    static let root = OpenBaoDevServer.repositoryRoot.path

    @Test func secretScanComesBeforeEveryTestAndBuild() throws {
        let config = try PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml")
        let graph = try StockOpsPipeline.graph(config: config, options: .init(environment: .stage))
        func dependsOnSecretScan(_ id: NodeID) -> Bool {
            var stack = graph.node(id)?.dependencies ?? []
            var seen: Set<NodeID> = []
            while let next = stack.popLast() {
                if next == StockOpsPipeline.secretScan.id { return true }
                if seen.insert(next).inserted { stack += graph.node(next)?.dependencies ?? [] }
            }
            return false
        }
        let work = graph.nodes.filter { ["test", "sonar", "build", "scan", "sbom", "sign"].contains($0.id.name) }
        #expect(work.count == 12)
        #expect(work.allSatisfy { dependsOnSecretScan($0.id) })
        for id in ["fetch-secrets", "paths-filter", "sast", "sca"] as [NodeID] {
            #expect(!dependsOnSecretScan(id), "\(id)")
        }
        #expect(graph.node(StockOpsPipeline.secretScan.id)?.policy.kind == .gate)
        #expect(graph.node(StockOpsPipeline.sast.id)?.policy.kind == .allowFailure)
        #expect(graph.node(StockOpsPipeline.sca.id)?.policy.kind == .gate)
        #expect(graph.node(StockOpsPipeline.dast(.stage).id)?.policy.kind == .allowFailure)
        #expect(try StockOpsPipeline.graph(config: config, options: .init(environment: .dev)).node(StockOpsPipeline.dast(.stage).id) == nil)
    }

    @Test func aPlantedSecretBlocksTheRunBeforeAnyBuildStarts() async throws {
        // A copy of this repository, with an AWS-style key planted in a service's sources.
        let clone = temporaryDirectory("planted") + "/repo"
        try await ProcessRunner().run(Command("git", ["clone", "-q", Self.root, clone])).check("git clone")
        let key = plantedAWSKey()
        try "enum DeployCredentials {\n    static let accessKeyID = \"\(key)\"\n}\n"
            .write(toFile: clone + "/services/trade/Sources/TradeService/DeployCredentials.swift", atomically: true, encoding: .utf8)

        var request = RunRequest(root: clone, environment: .dev, processEnvironment: [:])
        request.selectAll = true
        // sca cannot pass here (no vulnerability DB): its infrastructure error would turn the exit status into 3.
        request.skip = ["sca"]
        let progress = CapturedConsole()
        let outcome = try await request.run(progress: progress.console)
        #expect(outcome.exitStatus == .gateFailed)

        let record = outcome.record
        let nodes = Dictionary(uniqueKeysWithValues: record.nodes.map { ($0.id, $0) })
        #expect(nodes[StockOpsPipeline.secretScan.id]?.status == .failed)
        #expect(
            nodes[StockOpsPipeline.secretScan.id]?.reason?.contains("services/trade/Sources/TradeService/DeployCredentials.swift:2: aws-access-key-id") == true)
        let work = record.nodes.filter { ["test", "sonar", "build", "scan", "sbom", "sign"].contains($0.id.name) }
        #expect(work.count == 12)
        for node in work {
            #expect(node.status == .blocked, "\(node.id) is \(node.status)")
            #expect(node.started == nil, "\(node.id) started")
        }
        let run = clone + "/.stockops/runs/" + record.runID
        #expect(!FileManager.default.fileExists(atPath: run + "/logs/test_trade_.log"))
        #expect(!FileManager.default.fileExists(atPath: run + "/logs/build_trade_.log"))
        for file in filesUnder(run) {
            #expect(!file.text.contains(key), "\(file.path) holds the planted secret")
        }
        #expect(progress.text.contains("secret-scan") && !progress.text.contains(key), "the run's progress shows the planted secret")
        #expect(filesUnder(run).contains { $0.path == "reports/secret-scan-trivy.json" })
    }

    @Test func everyReportOfTheRunIsImportedIntoDefectDojo() async throws {
        // Real reports: trivy's secret scan and CycloneDX SBOM, semgrep's JSON; ZAP's XML in its documented shape.
        let repository = try await Repository()
        try repository.write("Sources/App/Keys.swift", "let key = \"\(plantedAWSKey())\"\n")
        try repository.write("Sources/App/Shell.swift", "func run(_ user: String) { system(user) }\n")
        try repository.write("Package.resolved", SecurityScanTests.packageResolved)
        try FileManager.default.createDirectory(atPath: repository.root + "/pipelines", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.root + "/pipelines/semgrep", toPath: repository.root + "/pipelines/semgrep")
        _ = try await repository.commit("reports")
        let context = stageContext(
            StockOpsPipeline.defectDojo.id, root: repository.root,
            outputs: [
                StockOpsPipeline.fetchSecrets.id: FetchedSecrets(values: ["DEFECTDOJO_API_KEY": Secret("dojo-key-0123456789").registered()])
            ])
        let reports = context.paths.reportsDirectory
        _ = try? await SecretScanStage(config: SecretScanConfig(scanner: .trivy)).run(context)
        _ = try? await SASTStage(config: SASTConfig(paths: ["Sources/"])).run(context)
        try await ProcessRunner().run(TrivyFilesystemCommand(cacheDirectory: context.paths.runDirectory + "/trivy-cache").version()).check("trivy")
        try await ProcessRunner().run(
            Command(
                "trivy",
                [
                    "fs", "--format", "cyclonedx", "--output", reports + "/sbom-trade.cdx.json", "--cache-dir", context.paths.runDirectory + "/trivy-cache",
                    repository.root,
                ])
        ).check("trivy sbom")
        try FileManager.default.createDirectory(atPath: reports + "/dast-stage", withIntermediateDirectories: true)
        try SecurityFixtures.zapXML.write(toFile: reports + "/dast-stage/zap-trade.xml", atomically: true, encoding: .utf8)
        try SecurityFixtures.zapJSON.write(toFile: reports + "/dast-stage/zap-trade.json", atomically: true, encoding: .utf8)
        try "<?xml version=\"1.0\"?><testsuites/>".write(toFile: reports + "/junit-trade.xml", atomically: true, encoding: .utf8)

        let dojo = try await FakeAPIServer.start(FakeAPIServer.defectDojo, arguments: ["dojo-key-0123456789"])
        defer { dojo.stop() }
        let stage = DefectDojoStage(
            config: DefectDojoConfig(url: dojo.baseURL, product: "stockapp"), services: ["stock-listing", "trade"],
            fetched: StockOpsPipeline.fetchSecrets, processEnvironment: ["GITHUB_SHA": "0123abcd", "GITHUB_REF_NAME": "release/1.4"])
        let result = try await stage.run(context)
        #expect(
            result.imported.map(\.report) == [
                "reports/dast-stage/zap-trade.xml", "reports/sast-semgrep.json", "reports/sbom-trade.cdx.json", "reports/secret-scan-trivy.json",
            ])
        #expect(result.imported.map(\.scanType) == ["ZAP Scan", "Semgrep JSON Report", "CycloneDX Scan", "Trivy Scan"])
        #expect(result.imported.map(\.engagement) == ["trade", "repository", "trade", "repository"])
        #expect(result.imported.map(\.test) == [1, 2, 3, 4])

        let requests = try await dojo.requests()
        #expect(requests.count == 4)
        for request in requests {
            #expect(request["authorization"] as? Bool == true)
            let fields = request["fields"] as? [String: String] ?? [:]
            #expect(fields["product_name"] == "stockapp" && fields["product_type_name"] == "stockops" && fields["auto_create_context"] == "true")
            #expect(fields["commit_hash"] == "0123abcd" && fields["branch_tag"] == "release/1.4")
            #expect(fields["build_id"] == (context.paths.runDirectory as NSString).lastPathComponent)
            #expect(request["status"] as? Int == 201)
        }
        #expect(!context.log.contents().contains("dojo-key-0123456789"))

        let refused = DefectDojoStage(
            config: DefectDojoConfig(url: dojo.baseURL, product: "stockapp"), services: ["trade"], fetched: StockOpsPipeline.fetchSecrets,
            processEnvironment: [:])
        let badKey = stageContext(
            StockOpsPipeline.defectDojo.id, root: repository.root,
            outputs: [
                StockOpsPipeline.fetchSecrets.id: FetchedSecrets(values: ["DEFECTDOJO_API_KEY": Secret("wrong")])
            ])
        try FileManager.default.createDirectory(atPath: badKey.paths.reportsDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: reports + "/sast-semgrep.json", toPath: badKey.paths.reportsDirectory + "/sast-semgrep.json")
        let failure = await #expect(throws: StageFailure.self) { try await refused.run(badKey) }
        #expect(failure?.kind == .infrastructure)
        #expect(failure?.message.contains("DefectDojo refused the API key (401)") == true)
    }

    @Test func withoutFetchedSecretsDefectDojoIsSkippedAndSaysWhy() async throws {
        var config = try PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml")
        config.vault[0].keys.append("DEFECTDOJO_API_KEY")
        config.security = SecurityConfig(defectDojo: DefectDojoConfig(url: "http://127.0.0.1:9", product: "stockapp"))
        let graph = try StockOpsPipeline.graph(config: config, options: .init(environment: .dev))
        #expect(graph.node(StockOpsPipeline.defectDojo.id)?.policy.kind == .finally)
        let root = temporaryDirectory()
        let result = await scheduler(
            root: root,
            exclusions: Dictionary(
                uniqueKeysWithValues: graph.nodes.filter { !["fetch-secrets", "defectdojo"].contains($0.id.description) }.map { ($0.id, "not selected") })
        ).run(graph)
        #expect(result[StockOpsPipeline.defectDojo.id]?.status == .skipped)
        #expect(result[StockOpsPipeline.defectDojo.id]?.reason == "no DefectDojo API key: fetch-secrets produced no secrets")
    }
}
