import Foundation
import Testing

@testable import StockOpsKit

@Suite struct SecretMaskingTests {
    @Test func nodeLogsMaskSecretsSplitAcrossWrites() throws {
        let secret = Secret("split-\(UUID().uuidString)").registered()
        let multiLine = Secret("first-\(UUID().uuidString)\nsecond-\(UUID().uuidString)").registered()
        let path = temporaryDirectory() + "/node.log"
        let log = NodeLog(path: path)
        let value = secret.reveal()
        log.write("token: " + String(value.prefix(10)))
        log.write(String(value.dropFirst(10)) + "\n")
        log.write("key:\n" + multiLine.reveal() + "\nend")
        let text = log.contents()
        #expect(text == "token: ***\nkey:\n***\nend")
        #expect(!text.contains(value))
    }

    @Test func consolesRecordsAndJUnitAreMasked() async throws {
        let secret = Secret("console-\(UUID().uuidString)").registered()
        var builder = GraphBuilder()
        builder.add("leak", Probe { _ in throw StageFailure.failed("bad \(secret.reveal())") })
        let root = temporaryDirectory()
        let result = await scheduler(root: root).run(try builder.build())
        #expect(result["leak"]?.reason == "bad ***")
        let record = String(decoding: try RunRecord(runID: "x", environment: nil, exitCode: 1, result: result, paths: nil).encoded(), as: UTF8.self)
        #expect(!record.contains(secret.reveal()))
        #expect(!JUnitReport.render(result).contains(secret.reveal()))
        let path = root + "/out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        Console(fd: fd, isTTY: false, colors: false, githubActions: true).write("echo \(secret.reveal())\n")
        close(fd)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "echo ***\n")
    }

    @Test func fetchedSecretsAreRecordedWithoutValues() throws {
        let fetched = FetchedSecrets(
            values: ["SONAR_TOKEN": Secret("v")], paths: ["secret/data/sonarqube/token": ["SONAR_TOKEN"]], token: Secret("t"), address: "http://vault")
        let json = String(decoding: try GraphBuilder.encode(fetched), as: UTF8.self)
        #expect(json == #"{"address":"http:\/\/vault","paths":{"secret\/data\/sonarqube\/token":["SONAR_TOKEN"]},"values":{}}"#)
    }
}

@Suite struct SecretsPipelineTests {
    func config(replacing old: String = "", with new: String = "") throws -> PipelineConfig {
        var text = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("pipelines/stockops.yml"), encoding: .utf8)
        if !old.isEmpty { text = text.replacingOccurrences(of: old, with: new) }
        let path = temporaryDirectory() + "/stockops.yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try PipelineConfig.load(path: path, displayPath: "pipelines/stockops.yml")
    }

    @Test func theRepositoryConfigReadsOnlyWhatTheCIPolicyGrants() throws {
        let config = try config()
        let policy = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/policies/ci.hcl"), encoding: .utf8)
        let granted = policy.split(separator: "\n").filter { $0.hasPrefix("path \"") }.map {
            $0.split(separator: "\"")[1].replacingOccurrences(of: "*", with: "")
        }
        #expect(!config.vault.isEmpty)
        for secret in config.vault {
            #expect(granted.contains { secret.path.hasPrefix($0) }, "\(secret.path) is outside vault/policies/ci.hcl")
        }
        let seeded = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/init.sh"), encoding: .utf8)
        for secret in config.vault {
            let line = try #require(
                seeded.split(separator: "\n").first { $0.hasPrefix("seed \(secret.path.replacingOccurrences(of: "secret/data/", with: "")) ") })
            for key in secret.keys { #expect(line.contains("\(key):"), "init.sh does not seed \(key)") }
        }
        #expect(config.notify == NotifyConfig(on: [.failure], webhookKey: "SLACK_WEBHOOK_URL"))
    }

    @Test func theGraphHasTheSecretNodes() throws {
        let graph = try StockOpsPipeline.graph(config: try config(), options: .init(environment: .dev))
        let ids = graph.nodes.map(\.id.description)
        #expect(ids.first == "fetch-secrets")
        #expect(Array(ids.suffix(2)) == ["revoke-vault-token", "notify"])
        #expect(graph.node("paths-filter")?.dependencies == [])
        #expect(graph.node("revoke-vault-token")?.policy.kind == .finally)
        #expect(graph.node("notify")?.policy.kind == .finally)
        #expect(Set(graph.node("notify")!.dependencies) == Set(graph.nodes.map(\.id).filter { $0 != "notify" }))
        #expect(GraphFormat.mermaid.render(graph).contains("fetch_secrets"))
    }

    @Test func configErrorsNameTheKey() throws {
        let event = #expect(throws: ConfigError.self) { try config(replacing: "on: [failure]", with: "on: [sometimes]") }
        #expect(event?.description.contains("unknown event 'sometimes'") == true)
        let path = #expect(throws: ConfigError.self) { try config(replacing: "secret/data/sonarqube/token", with: "sonarqube/token") }
        #expect(path?.description.contains("not a KV v2 data path") == true)
        let duplicate = #expect(throws: ConfigError.self) { try config(replacing: "keys: [SONAR_TOKEN]", with: "keys: [SIGNING_KEY]") }
        #expect(duplicate?.description.contains("key SIGNING_KEY is already read from another path") == true)
    }
}
