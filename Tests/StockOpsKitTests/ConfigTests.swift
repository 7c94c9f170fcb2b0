import Foundation
import Testing

@testable import StockOpsKit

@Suite struct ConfigTests {
    static let valid = """
        version: 1
        services:
          - name: stock-listing
            paths: [services/stock-listing/]
            product: stock-listing
            test-target: StockListingServiceTests
            ports: {dev: 8000, stage: 8010, prod: 8020}
          - name: trade
            paths: [services/trade/]
            product: trade
            test-target: TradeServiceTests
            health: /health
            ports: {dev: 8001, stage: 8011, prod: 8021}
        shared:
          paths: [Package.swift, Sources/ServiceKit/]
        registry:
          host: localhost:5000
          project: stockapp
        vault:
          - path: secret/data/ci
            keys: [SONAR_TOKEN]
        gates:
          coverage:
            minimum: 70
          vulnerabilities:
            fail-on: [critical]
        """

    @Test func parsesTheRepositoryPipeline() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let config = try PipelineConfig.load(path: root + "/pipelines/stockops.yml")
        #expect(config.services.map(\.name) == ["stock-listing", "trade"])
        #expect(config.service(named: "trade")?.ports == [.dev: 8001, .stage: 8011, .prod: 8021])
        #expect(config.service(named: "trade")?.testTarget == "TradeServiceTests")
        #expect(config.databasePorts == [.dev: 5432, .stage: 5433, .prod: 5434])
        #expect(config.sharedPaths.contains("services/Sources/"))
        #expect(config.service(named: "trade")?.package == "services")
        #expect(config.environments[.prod]?.approval == true)
    }

    @Test func parsesTypedValues() throws {
        let config = try PipelineConfig.parse(Self.valid, file: "p.yml")
        #expect(config.service(named: "stock-listing")?.healthPath == "/health")
        #expect(config.gates == GateThresholds(minimumCoverage: 70, failingSeverities: [.critical]))
        #expect(config.vault == [VaultSecret(path: "secret/data/ci", keys: ["SONAR_TOKEN"])])
        #expect(config.registry == RegistryConfig(host: "localhost:5000", project: "stockapp"))
        #expect(config.defaultBranch == "main")
        #expect(config.environments == EnvironmentConfig.defaults)
    }

    func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try PipelineConfig.parse(yaml, file: "pipelines/stockops.yml")
            return nil
        } catch {
            return error
        }
    }

    @Test func aWrongTypeNamesFileKeyAndLine() throws {
        let yaml = Self.valid.replacingOccurrences(of: "{dev: 8001,", with: "{dev: eight,")
        let error = try #require(self.error(yaml))
        #expect(error.code == .wrongType)
        #expect(error.file == "pipelines/stockops.yml")
        #expect(error.keyPath == "services[1].ports.dev")
        #expect(error.line == 13)
        #expect(error.description == "pipelines/stockops.yml:13: services[1].ports.dev: expected an integer, found 'eight'")
    }

    @Test func aMissingKeyIsNamed() throws {
        let yaml = Self.valid.replacingOccurrences(of: "    test-target: TradeServiceTests\n", with: "")
        let error = try #require(self.error(yaml))
        #expect(error.code == .missingKey)
        #expect(error.keyPath == "services[1].test-target")
        #expect(error.line == 8)
    }

    @Test func anUnknownKeyIsRefused() throws {
        let yaml = Self.valid.replacingOccurrences(of: "    health: /health", with: "    helth: /health")
        let error = try #require(self.error(yaml))
        #expect(error.code == .unknownKey)
        #expect(error.keyPath == "services[1].helth")
        #expect(error.line == 12)
    }

    @Test func invalidValuesAreExplained() throws {
        let port = try #require(error(Self.valid.replacingOccurrences(of: "prod: 8020", with: "prod: 80200")))
        #expect(port.code == .invalidValue)
        #expect(port.keyPath == "services[0].ports.prod")
        #expect(port.message.contains("80200"))
        let severity = try #require(error(Self.valid.replacingOccurrences(of: "[critical]", with: "[severe]")))
        #expect(severity.keyPath == "gates.vulnerabilities.fail-on[0]")
        #expect(severity.line == 26)
        let coverage = try #require(error(Self.valid.replacingOccurrences(of: "minimum: 70", with: "minimum: 170")))
        #expect(coverage.keyPath == "gates.coverage.minimum")
        let duplicate = try #require(error(Self.valid.replacingOccurrences(of: "name: trade", with: "name: stock-listing")))
        #expect(duplicate.keyPath == "services[1].name")
        #expect(duplicate.line == 8)
    }

    /// `services[].package` names a directory inside the repository; `./services/` is `services`, the default `.`.
    @Test func aServicePackageIsADirectoryOfTheRepository() throws {
        let inside = try PipelineConfig.parse(
            Self.valid.replacingOccurrences(of: "    product: trade\n", with: "    package: ./services/\n    product: trade\n"), file: "p.yml")
        #expect(inside.service(named: "trade")?.package == "services")
        #expect(inside.service(named: "trade")?.packageDirectory(root: "/repo") == "/repo/services")
        #expect(inside.service(named: "stock-listing")?.packageDirectory(root: "/repo") == "/repo")
        for outside in ["../elsewhere", "/abs/services", "services/../../x"] {
            let refused = try #require(
                error(Self.valid.replacingOccurrences(of: "    product: trade\n", with: "    package: \(outside)\n    product: trade\n")))
            #expect(refused.code == .invalidValue && refused.keyPath == "services[1].package", "\(outside): \(refused.message)")
            #expect(refused.message.contains("inside the repository"))
        }
    }

    @Test func runnerLabelsAreParsedAndChecked() throws {
        let defaults = try PipelineConfig.parse(Self.valid, file: "stockops.yml")
        #expect(defaults.environments[.stage]?.runsOn(.stage) == ["self-hosted", "stockops-stage"])
        #expect(defaults.pullRequestRunner == ["self-hosted", "stockops-pr"])
        let custom = try PipelineConfig.parse(
            Self.valid + """

                environments:
                  prod: {ref: "refs/tags/v*", tag: "{ref}", runner: [self-hosted, linux, prod-host]}
                pull-requests:
                  runner: [self-hosted, untrusted]
                """, file: "stockops.yml")
        #expect(custom.environments[.prod]?.runsOn(.prod) == ["self-hosted", "linux", "prod-host"])
        #expect(custom.environments[.dev]?.runsOn(.dev) == ["self-hosted", "stockops-dev"])
        #expect(custom.pullRequestRunner == ["self-hosted", "untrusted"])
        for (runner, message) in [
            ("[]", "at least one"), ("[linux]", "self-hosted"), ("[self-hosted, \"a b\"]", "not a runner label"), ("[self-hosted, self-hosted]", "twice"),
        ] {
            let error = try #require(self.error(Self.valid + "\nenvironments:\n  dev: {ref: refs/heads/develop, tag: x, runner: \(runner)}\n"))
            #expect(error.keyPath.hasPrefix("environments.dev.runner"), "\(runner): \(error.keyPath)")
            #expect(error.message.contains(message), "\(runner): \(error.message)")
        }
        let unknown = try #require(self.error(Self.valid + "\npull-requests:\n  runs-on: [self-hosted]\n"))
        #expect(unknown.code == .unknownKey)
        #expect(unknown.keyPath == "pull-requests.runs-on")
    }

    @Test func aSyntaxErrorHasALine() throws {
        let error = try #require(self.error("version: 1\nservices:\n  - name: [unclosed\n"))
        #expect(error.code == .syntax)
        #expect(error.line != nil)
        #expect(error.description.hasPrefix("pipelines/stockops.yml:"))
    }

    @Test func anUnreadableFileSaysWhatToDo() {
        #expect {
            try PipelineConfig.load(path: "/nonexistent/stockops.yml")
        } throws: { error in
            (error as? ConfigError)?.code == .unreadable && "\(error)".contains("--config")
        }
    }
}
