import Foundation
import Testing

@testable import StockOpsKit

struct PipelineImagesTests {
    static func graph(environment: [String: String] = [:]) throws -> PipelineGraph {
        let config = try PipelineConfig.load(path: ImageStagesTests.root + "/pipelines/stockops.yml")
        var options = StockOpsPipeline.Options(environment: .dev)
        options.processEnvironment = RunEnvironment(environment)
        return try StockOpsPipeline.graph(config: config, options: options)
    }

    @Test func imageNodesFollowTestAndSonarForEveryService() throws {
        let graph = try Self.graph()
        func node(_ id: NodeID) throws -> GraphNode { try #require(graph.node(id)) }
        for service in ["stock-listing", "trade"] {
            // paths-filter too: their condition reads which services changed.
            #expect(Set(try node(NodeID("sonar", key: service)).dependencies) == ["fetch-secrets", "paths-filter", NodeID("test", key: service)])
            #expect(
                Set(try node(NodeID("build", key: service)).dependencies) == [
                    "fetch-secrets", "paths-filter", NodeID("test", key: service), NodeID("sonar", key: service),
                ])
            for stage in ["scan", "sbom", "sign"] {
                #expect(Set(try node(NodeID(stage, key: service)).dependencies) == [NodeID("build", key: service), "fetch-secrets"])
            }
            #expect(try node(NodeID("scan", key: service)).policy.resources == [ImageSettings.trivyResource])
            #expect(try node(NodeID("sbom", key: service)).policy.resources == [ImageSettings.trivyResource])
            #expect(try node(NodeID("build", key: service)).policy.resources == ["swiftpm-build"])
            #expect(try node(NodeID("sonar", key: service)).policy.skipPropagates == false)
            #expect(try node(NodeID("sign", key: service)).policy.skipPropagates == false)
            // An unchanged service's build is skipped without skipping promote; scan, sbom and sign skip themselves.
            #expect(try node(NodeID("build", key: service)).policy.skipPropagates == false)
            #expect(try node(NodeID("scan", key: service)).policy.skipPropagates == false)
            #expect(try node(NodeID("sbom", key: service)).policy.skipPropagates == false)
        }
        let logout = try node("docker-logout")
        #expect(logout.policy.kind == .finally)
        #expect(Set(logout.dependencies).isSuperset(of: ["build[trade]", "scan[trade]", "sbom[trade]", "sign[trade]"]))
    }

    /// A skipped optional check lets its dependents run; any other skip still skips them.
    @Test func aSkippedOptionalCheckDoesNotSkipItsDependents() async throws {
        var graph = GraphBuilder()
        let ran = Recorder<String>()
        graph.add("sonar", Probe(), policy: NodePolicy(.gate, skipPropagates: false), when: { _ in "sonar-scanner not installed; install it" })
        graph.add("build", Probe(body: { _ in ran.append("build") }), after: ["sonar"])
        graph.add("filter", Probe(), when: { _ in "unchanged" })
        graph.add("test", Probe(body: { _ in ran.append("test") }), after: ["filter"])
        let result = await scheduler().run(try graph.build())
        #expect(result["sonar"]?.status == .skipped)
        #expect(result["sonar"]?.reason == "sonar-scanner not installed; install it")
        #expect(result["build"]?.status == .passed)
        #expect(result["test"]?.status == .skipped)
        #expect(ran.values == ["build"])
    }

    @Test func theSandboxOverridesRegistryAndScanners() throws {
        let graph = try Self.graph(environment: ["STOCKOPS_REGISTRY": "127.0.0.1:5999", "STOCKOPS_TRIVY_SCANNERS": "secret"])
        let summary = try #require(graph.node("scan[trade]")?.summary)
        #expect(summary.contains("(secret)"))
        #expect(try #require(graph.node("build[trade]")?.summary).contains("127.0.0.1:5999/stockapp/trade:git-<sha7>"))
    }

    @Test func imageSettingsAreValidated() throws {
        for (yaml, message) in [
            ("images:\n  scanners: [vuln, viruses]\n", "unknown trivy scanner 'viruses'"),
            ("images:\n  build-configuration: fast\n", "'fast' is not a SwiftPM configuration"),
            ("sonarqube:\n  host-url: sonar.example.com\n", "'sonar.example.com' is not an http(s) URL"),
            ("images:\n  sign:\n    keyless: {identity: ci@example.com}\n", "issuer"),
        ] {
            #expect(throws: ConfigError.self) { try PipelineConfig.parse(Self.minimal + yaml, file: "test.yml") }
            do {
                _ = try PipelineConfig.parse(Self.minimal + yaml, file: "test.yml")
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
        let parsed = try PipelineConfig.parse(
            Self.minimal
                + "images:\n  scratch-path: .build-images\n  scanners: [secret]\nsonarqube:\n  host-url: https://sonar.example.com\n  required: true\n",
            file: "test.yml")
        #expect(parsed.images.scratchPath == ".build-images")
        #expect(parsed.images.scanners == ["secret"])
        #expect(parsed.images.sonarHostURL == "https://sonar.example.com")
        #expect(parsed.images.sonarRequired)
    }

    @Test func sonarBranchSupportIsOffUnlessConfigured() throws {
        let sonar = Self.minimal + "sonarqube:\n  host-url: https://sonar.example.com\n"
        #expect(try PipelineConfig.parse(sonar, file: "test.yml").images.sonarBranches == false)
        #expect(try PipelineConfig.parse(sonar + "  branches: true\n", file: "test.yml").images.sonarBranches)
        #expect(throws: ConfigError.self) { try PipelineConfig.parse(sonar + "  branches: developer\n", file: "test.yml") }
    }

    static let minimal = """
        version: 1
        services:
          - name: trade
            paths: [services/trade/]
            product: trade
            test-target: TradeServiceTests
            ports: {dev: 8001}
        registry:
          host: localhost:5000
          project: stockapp

        """

    @Test func sandboxEnvironmentLinesAreParsedAndCommentsIgnored() {
        let parsed = SandboxEnvironment.parse("# comment\nVAULT_ADDR=http://127.0.0.1:8200\n\nBAD NAME=x\nSTOCKOPS_TRIVY_SCANNERS=secret\nEMPTY=\n")
        #expect(parsed.map(\.0) == ["VAULT_ADDR", "STOCKOPS_TRIVY_SCANNERS", "EMPTY"])
        #expect(parsed.first?.1 == "http://127.0.0.1:8200")
    }
}
