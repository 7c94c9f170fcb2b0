import Foundation
import Testing

@testable import StockOpsKit

@Suite("vault/init.sh against a real OpenBao")
struct VaultInitScriptTests {
    /// Runs `vault/init.sh` on a separate thread, so the wait does not hold a cooperative thread.
    private func runInit(address: String, token: Secret?, output: String) async throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/init.sh").path, output]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_ADDR"] = address
        environment["VAULT_TOKEN"] = token?.reveal()
        process.environment = environment
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let reader = log.fileHandleForReading
        let data = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: reader.readDataToEndOfFile()) }
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func permissions(_ path: String) throws -> Int {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    @Test func setsUpRolesThatCanLogInAndIsIdempotent() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }

        let first = try await runInit(address: server.address, token: server.rootToken, output: output)
        #expect(first.status == 0, "\(first.log)")
        #expect(!first.log.contains(server.rootToken.reveal()))

        for role in ["ci", "app"] {
            for file in ["role_id", "secret_id"] {
                #expect(try permissions("\(output)/\(role)/\(file)") == 0o600)
            }
        }
        func credentials(_ role: String) throws -> (Secret, Secret) {
            (
                Secret(try String(contentsOfFile: "\(output)/\(role)/role_id", encoding: .utf8)),
                Secret(try String(contentsOfFile: "\(output)/\(role)/secret_id", encoding: .utf8))
            )
        }

        let (appRole, appSecret) = try credentials("app")
        #expect(first.log.contains("app role_id \(appRole.reveal())\n"))
        let app = server.anonymousClient()
        let appAuth = try await app.loginAppRole(roleID: appRole, secretID: appSecret)
        #expect(appAuth.leaseDuration == .seconds(12 * 3600))
        #expect(appAuth.renewable)
        let appRoleConfig = try await server.rootClient().request(.get, "auth/approle/role/app")?["data"]
        #expect((appRoleConfig?["token_max_ttl"]?.intValue ?? 0) > 12 * 3600)
        let database = try await app.read("db/stockops")
        #expect(database["password"]?.reveal() == "CHANGE_ME")
        #expect(database["url"]?.reveal() == "postgres://stockops:CHANGE_ME@postgres:5432/stockops?sslmode=require")
        let appDenied = await #expect(throws: VaultError.self) { try await app.read("harbor/robot") }
        #expect(appDenied?.code == .permissionDenied)

        let (ciRole, ciSecret) = try credentials("ci")
        #expect(first.log.contains("ci role_id \(ciRole.reveal())\n"))
        let ci = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration)
        let ciAuth = try await ci.loginAppRole(roleIDFile: "\(output)/ci/role_id", secretIDFile: "\(output)/ci/secret_id")
        #expect(ciAuth.leaseDuration == .seconds(3600))
        #expect(try await ci.read("harbor/robot")["HARBOR_PASSWORD"]?.reveal() == "CHANGE_ME")
        #expect(try await ci.read("sonarqube/token")["SONAR_TOKEN"]?.reveal() == "CHANGE_ME")
        let pipeline = try await ci.read("ci/pipeline")
        #expect(pipeline["SIGNING_KEY"]?.reveal() == "CHANGE_ME" && pipeline["SLACK_WEBHOOK_URL"]?.reveal() == "CHANGE_ME")
        let ciDenied = await #expect(throws: VaultError.self) { try await ci.read("db/stockops") }
        #expect(ciDenied?.code == .permissionDenied)

        let second = try await runInit(address: server.address, token: server.rootToken, output: output)
        #expect(second.status == 0, "\(second.log)")
        #expect(try credentials("ci").1 == ciSecret)
        #expect(second.log.contains("ci role_id \(ciRole.reveal())\n"))
        #expect(!second.log.contains("seeded"))
        for path in ["db/stockops", "app/stockops", "ci/pipeline", "harbor/robot", "sonarqube/token"] {
            #expect(try await server.rootClient().read(path).version.version == 1, "\(path) was written again")
        }
        try await ci.loginAppRole(roleID: ciRole, secretID: ciSecret)
    }

    @Test func aKeyAddedToADeclaredPathIsSeededWithoutTouchingTheOthers() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let root = server.rootClient()
        try await root.write("ci/pipeline", data: ["SIGNING_KEY": "a-real-key"])
        let result = try await runInit(address: server.address, token: server.rootToken, output: output)
        #expect(result.status == 0, "\(result.log)")
        let pipeline = try await root.read("ci/pipeline")
        #expect(pipeline["SIGNING_KEY"]?.reveal() == "a-real-key")
        #expect(pipeline["SLACK_WEBHOOK_URL"]?.reveal() == "CHANGE_ME")
    }

    @Test func theDefaultOutputDirectoryIsIgnoredByGit() async throws {
        for path in ["vault-out/init.json", "vault/vault-out/ci/secret_id"] {
            let result = try await runTool(["git", "check-ignore", "--quiet", "--no-index", path], directory: OpenBaoDevServer.repositoryRoot.path)
            #expect(result.status == 0, "\(path) is not ignored: \(result.output)")
        }
    }

    @Test func failsClearlyWhenVaultIsUnreachable() async throws {
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let address = "http://127.0.0.1:\(try freeLoopbackPort())"
        let result = try await runInit(address: address, token: nil, output: output)
        #expect(result.status != 0)
        #expect(result.log.contains("Vault unreachable at \(address)"))
    }
}
