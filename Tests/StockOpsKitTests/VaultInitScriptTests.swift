import Foundation
import Testing

@testable import StockOpsKit

@Suite("vault/init.sh against a real OpenBao")
struct VaultInitScriptTests {
    /// Runs `vault/init.sh` on a separate thread, so the wait does not hold a cooperative thread.
    private func runInit(address: String, token: Secret?, output: String, extra: [String: String] = [:]) async throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/init.sh").path, output]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_ADDR"] = address
        environment["VAULT_TOKEN"] = token?.reveal()
        environment.merge(extra) { $1 }
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

    /// `STOCKOPS_ENVIRONMENTS` names the environments: an added `qa` gets its own role reading `secret/qa/` only.
    @Test func makesOneRolePerNamedEnvironment() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }

        let refused = try await runInit(address: server.address, token: server.rootToken, output: output, extra: ["STOCKOPS_ENVIRONMENTS": "dev QA"])
        #expect(refused.status != 0)
        #expect(refused.log.contains("STOCKOPS_ENVIRONMENTS: 'QA' is not an environment name"), "\(refused.log)")

        let result = try await runInit(address: server.address, token: server.rootToken, output: output, extra: ["STOCKOPS_ENVIRONMENTS": "dev qa"])
        #expect(result.status == 0, "\(result.log)")
        #expect(!FileManager.default.fileExists(atPath: output + "/app-prod"))
        let app = server.anonymousClient()
        _ = try await app.loginAppRole(roleIDFile: output + "/app-qa/role_id", secretIDFile: output + "/app-qa/secret_id")
        #expect(try await app.read("qa/db/stockops")["password"]?.reveal() == "CHANGE_ME")
        let denied = await #expect(throws: VaultError.self) { try await app.read("dev/db/stockops") }
        #expect(denied?.code == .permissionDenied)
    }

    @Test func setsUpRolesThatCanLogInAndIsIdempotent() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }

        let first = try await runInit(address: server.address, token: server.rootToken, output: output)
        #expect(first.status == 0, "\(first.log)")
        #expect(!first.log.contains(server.rootToken.reveal()))

        for role in ["ci", "app-dev", "app-stage", "app-prod", "admin"] {
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

        // Each environment's role reads its own environment's settings and nothing else.
        for environment in ["dev", "stage", "prod"] {
            let (appRole, appSecret) = try credentials("app-" + environment)
            #expect(first.log.contains("app-\(environment) role_id \(appRole.reveal())\n"))
            let app = server.anonymousClient()
            let appAuth = try await app.loginAppRole(roleID: appRole, secretID: appSecret)
            #expect(appAuth.leaseDuration == .seconds(12 * 3600))
            #expect(appAuth.renewable)
            let appRoleConfig = try await server.rootClient().request(.get, "auth/approle/role/app-\(environment)")?["data"]
            #expect((appRoleConfig?["token_max_ttl"]?.intValue ?? 0) > 12 * 3600)
            let database = try await app.read("\(environment)/db/stockops")
            #expect(database["password"]?.reveal() == "CHANGE_ME")
            #expect(database["url"]?.reveal() == "postgres://stockops:CHANGE_ME@postgres:5432/stockops?sslmode=require")
            let others = ["dev", "stage", "prod"].filter({ $0 != environment }).flatMap({ ["\($0)/db/stockops", "\($0)/app/stockops"] })
            for denied in ["harbor/robot"] + others {
                let refused = await #expect(throws: VaultError.self, "app-\(environment) read \(denied)") { try await app.read(denied) }
                #expect(refused?.code == .permissionDenied)
            }
        }

        let (ciRole, ciSecret) = try credentials("ci")
        #expect(first.log.contains("ci role_id \(ciRole.reveal())\n"))
        let ci = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration)
        let ciAuth = try await ci.loginAppRole(roleIDFile: "\(output)/ci/role_id", secretIDFile: "\(output)/ci/secret_id")
        #expect(ciAuth.leaseDuration == .seconds(3600))
        #expect(try await ci.read("harbor/robot")["HARBOR_PASSWORD"]?.reveal() == "CHANGE_ME")
        #expect(try await ci.read("sonarqube/token")["SONAR_TOKEN"]?.reveal() == "CHANGE_ME")
        let pipeline = try await ci.read("ci/pipeline")
        #expect(pipeline["SIGNING_KEY"]?.reveal() == "CHANGE_ME" && pipeline["SLACK_WEBHOOK_URL"]?.reveal() == "CHANGE_ME")
        let ciDenied = await #expect(throws: VaultError.self) { try await ci.read("prod/db/stockops") }
        #expect(ciDenied?.code == .permissionDenied)

        let second = try await runInit(address: server.address, token: server.rootToken, output: output)
        #expect(second.status == 0, "\(second.log)")
        #expect(try credentials("ci").1 == ciSecret)
        #expect(second.log.contains("ci role_id \(ciRole.reveal())\n"))
        #expect(!second.log.contains("seeded"))
        for path in ["dev/db/stockops", "prod/app/stockops", "ci/pipeline", "harbor/robot", "sonarqube/token"] {
            #expect(try await server.rootClient().read(path).version.version == 1, "\(path) was written again")
        }
        try await ci.loginAppRole(roleID: ciRole, secretID: ciSecret)
    }

    /// The CI secret id is bounded: it stops working after its logins (STOCKOPS_CI_SECRET_ID_USES) and carries a TTL.
    @Test func theCISecretIDStopsAfterItsUses() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let output = NSTemporaryDirectory() + "vault-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try await runInit(
            address: server.address, token: server.rootToken, output: output, extra: ["STOCKOPS_CI_SECRET_ID_USES": "2", "STOCKOPS_CI_SECRET_ID_TTL": "2h"])
        #expect(result.status == 0, "\(result.log)")
        let role = try await server.rootClient().request(.get, "auth/approle/role/ci")?["data"]
        #expect(role?["secret_id_num_uses"]?.intValue == 2)
        #expect(role?["secret_id_ttl"]?.intValue == 7200)
        for attempt in 1...2 {
            let ci = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration)
            _ = try await ci.loginAppRole(roleIDFile: "\(output)/ci/role_id", secretIDFile: "\(output)/ci/secret_id")
            #expect(attempt <= 2)
        }
        let third = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration)
        await #expect(throws: VaultError.self, "a third login with a two-use secret id") {
            _ = try await third.loginAppRole(roleIDFile: "\(output)/ci/role_id", secretIDFile: "\(output)/ci/secret_id")
        }
        // The next run of init.sh finds it used up and issues a new one.
        let again = try await runInit(address: server.address, token: server.rootToken, output: output, extra: ["STOCKOPS_CI_SECRET_ID_USES": "2"])
        #expect(again.log.contains("AppRole ci: new secret id written"), "\(again.log)")
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
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        let address = "http://127.0.0.1:\(refusing.port)"
        let result = try await runInit(address: address, token: nil, output: output)
        #expect(result.status != 0)
        #expect(result.log.contains("Vault unreachable at \(address)"))
    }
}
