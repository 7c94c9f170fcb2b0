import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

@Suite("Vault client against a real OpenBao")
struct VaultClientTests {
    @Test func kvVersionsPatchMetadataAndRollback() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let masker = SecretMasker(environment: [:])
        let vault = server.rootClient(masker: masker)

        let first = try await vault.write("ci/deploy", data: ["user": "deployer", "password": "first-password"])
        #expect(first.version == 1)
        let second = try await vault.write("ci/deploy", data: ["user": "deployer", "password": "second-password"])
        #expect(second.version == 2)

        let latest = try await vault.read("ci/deploy")
        #expect(latest.version.version == 2)
        #expect(latest["password"]?.reveal() == "second-password")
        #expect(masker.mask("pw=second-password") == "pw=***")

        let old = try await vault.read("ci/deploy", version: 1)
        #expect(old["password"]?.reveal() == "first-password")

        let patched = try await vault.patch("ci/deploy", changes: ["token": "added-token", "user": nil])
        #expect(patched.version == 3)
        let afterPatch = try await vault.read("ci/deploy")
        #expect(afterPatch["password"]?.reveal() == "second-password")
        #expect(afterPatch["token"]?.reveal() == "added-token")
        #expect(afterPatch["user"] == nil)

        let metadata = try await vault.metadata("ci/deploy")
        #expect(metadata.currentVersion == 3)
        #expect(metadata.versions.map(\.version) == [1, 2, 3])

        let rolledBack = try await vault.rollback("ci/deploy", to: 1)
        #expect(rolledBack.version == 4)
        let current = try await vault.read("ci/deploy")
        #expect(current["password"]?.reveal() == "first-password")
        #expect(current["user"]?.reveal() == "deployer")
        #expect(current["token"] == nil)

        await #expect(throws: VaultError.self) {
            try await vault.write("ci/deploy", data: ["stale": "write"], cas: 1)
        }

        try await vault.deleteLatest("ci/deploy")
        let deleted = await #expect(throws: VaultError.self) { try await vault.read("ci/deploy") }
        #expect(deleted?.code == .notFound)
        try await vault.undelete("ci/deploy", versions: [4])
        #expect(try await vault.read("ci/deploy").version.version == 4)

        #expect(try await vault.list("ci") == ["deploy"])
    }

    @Test func nonStringValuesReadAsJSONText() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let vault = server.rootClient()
        try await vault.write("app/settings", json: ["port": .number(5432), "tls": .bool(true), "hosts": .array([.string("a")])])
        let secret = try await vault.read("app/settings")
        #expect(secret["port"]?.reveal() == "5432")
        #expect(secret["tls"]?.reveal() == "true")
        #expect(secret["hosts"]?.reveal() == #"["a"]"#)
    }

    @Test func missingPathIsNotFound() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            try await server.rootClient().read("nothing/here")
        }
        #expect(error?.code == .notFound)
        #expect(error?.description.contains("secret/data/nothing/here") == true)
    }

    @Test func appRoleWithTheCIPolicyIsLeastPrivilege() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let root = server.rootClient()
        try await root.write("harbor/robot", data: ["password": "robot-password"])
        try await root.write("db/x", data: ["password": "db-password"])

        let policy = try String(
            contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/policies/ci.hcl"), encoding: .utf8)
        let (roleID, secretID) = try await server.createAppRole("ci", policy: policy)

        let ci = server.anonymousClient()
        let auth = try await ci.loginAppRole(roleID: roleID, secretID: secretID)
        #expect(auth.policies.contains("ci"))
        #expect(auth.leaseDuration > .zero)

        #expect(try await ci.read("harbor/robot")["password"]?.reveal() == "robot-password")

        let denied = await #expect(throws: VaultError.self) { try await ci.read("db/x") }
        #expect(denied?.code == .permissionDenied)
        #expect(denied?.description.contains("secret/data/db/x") == true)

        let writeDenied = await #expect(throws: VaultError.self) {
            try await ci.write("harbor/robot", data: ["password": "overwritten"])
        }
        #expect(writeDenied?.code == .permissionDenied)
    }

    @Test func wrongSecretIDIsInvalidCredentials() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let (roleID, _) = try await server.createAppRole("app", policy: #"path "secret/data/app/*" { capabilities = ["read"] }"#)
        let client = server.anonymousClient()
        let wrongSecret = await #expect(throws: VaultError.self) {
            try await client.loginAppRole(roleID: roleID, secretID: Secret(UUID().uuidString))
        }
        #expect(wrongSecret?.code == .invalidCredentials)
        let wrongRole = await #expect(throws: VaultError.self) {
            try await client.loginAppRole(roleID: Secret(UUID().uuidString), secretID: Secret(UUID().uuidString))
        }
        #expect(wrongRole?.code == .invalidCredentials)
        #expect(await client.hasToken == false)
    }

    @Test func tokenLookupRenewAndRevoke() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let root = server.rootClient()
        try await root.write("app/thing", data: ["key": "value"])
        let created = try await root.request(
            .post, "auth/token/create",
            body: .object(["policies": .array([.string("default")]), "ttl": .string("10m"), "renewable": .bool(true)]))
        let token = Secret(try #require(created?["auth"]?["client_token"]?.stringValue))

        let client = VaultClient(address: server.address, token: token, http: OpenBaoDevServer.httpConfiguration)
        let info = try await client.lookupSelf()
        #expect(info.policies.contains("default"))
        #expect(info.renewable)
        #expect(info.ttl > .zero && info.ttl <= .seconds(600))

        let renewed = try await client.renewSelf(increment: .seconds(1200))
        #expect(renewed.leaseDuration > .seconds(600))

        try await client.revokeSelf()
        #expect(await client.hasToken == false)
        let afterRevoke = await #expect(throws: VaultError.self) { try await client.lookupSelf() }
        #expect(afterRevoke?.code == .notAuthenticated)

        let stale = VaultClient(address: server.address, token: token, http: OpenBaoDevServer.httpConfiguration)
        let staleError = await #expect(throws: VaultError.self) { try await stale.read("app/thing") }
        #expect(staleError?.code == .permissionDenied)
    }

    @Test func sealedServerSaysSo() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let root = server.rootClient()
        try await root.request(.put, "sys/seal")
        let error = await #expect(throws: VaultError.self) { try await root.read("app/anything") }
        #expect(error?.code == .sealed)
    }

    @Test func namespaceHeaderSelectsTheNamespace() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        let root = server.rootClient()
        try await root.request(.post, "sys/namespaces/team-a")
        let inNamespace = VaultClient(
            address: server.address, token: server.rootToken, namespace: "team-a", http: OpenBaoDevServer.httpConfiguration,
            masker: SecretMasker(environment: [:]))
        try await inNamespace.request(
            .post, "sys/mounts/secret", body: .object(["type": .string("kv"), "options": .object(["version": .string("2")])]))
        try await inNamespace.write("app/only-here", data: ["k": "namespaced"])
        #expect(try await inNamespace.read("app/only-here")["k"]?.reveal() == "namespaced")
        let outside = await #expect(throws: VaultError.self) { try await root.read("app/only-here") }
        #expect(outside?.code == .notFound)
    }

    @Test func customMountPath() async throws {
        let server = try await OpenBaoDevServer.start()
        defer { server.stop() }
        try await server.rootClient().request(
            .post, "sys/mounts/kv-ops", body: .object(["type": .string("kv"), "options": .object(["version": .string("2")])]))
        let vault = VaultClient(
            address: server.address, token: server.rootToken, kvMount: "/kv-ops/", http: OpenBaoDevServer.httpConfiguration,
            masker: SecretMasker(environment: [:]))
        // A new KV v2 mount upgrades itself in the background and refuses writes until it is done.
        var attempts = 0
        while true {
            do {
                try await vault.write("a", data: ["k": "v"])
                break
            } catch let error as VaultError where "\(error)".contains("Upgrading") && attempts < 100 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(try await vault.read("a")["k"]?.reveal() == "v")
    }

    @Test func unreachableAddressNamesIt() async throws {
        let port = try freeLoopbackPort()
        let vault = VaultClient(
            address: "http://127.0.0.1:\(port)", token: Secret("t"),
            http: HTTPClientConfiguration(connectTimeout: .seconds(1), retry: .none), masker: SecretMasker(environment: [:]))
        let error = await #expect(throws: VaultError.self) { try await vault.read("app/x") }
        #expect(error?.code == .unreachable)
        #expect(error?.description.contains("Vault unreachable at http://127.0.0.1:\(port)") == true)
    }

    @Test func environmentConfiguresTheClient() async throws {
        let vault = VaultClient.fromEnvironment(
            [
                "VAULT_ADDR": "https://vault.example:8200/", "VAULT_TOKEN": "t", "VAULT_NAMESPACE": "team",
            ], masker: SecretMasker(environment: [:]))
        #expect(vault.address == "https://vault.example:8200")
        #expect(vault.namespace == "team")
        #expect(await vault.hasToken)
        let fallback = VaultClient.fromEnvironment(["BAO_ADDR": "http://bao:8200"])
        #expect(fallback.address == "http://bao:8200")
        #expect(await fallback.hasToken == false)
    }

    @Test func missingTokenIsNotAuthenticated() async throws {
        let vault = VaultClient(address: "http://127.0.0.1:1")
        let error = await #expect(throws: VaultError.self) { try await vault.read("app/x") }
        #expect(error?.code == .notAuthenticated)
    }
}

@Suite("Vault error mapping")
struct VaultErrorTests {
    private func map(_ status: Int, _ errors: [String], login: Bool = false) -> VaultError {
        let json: JSONValue = .object(["errors": .array(errors.map(JSONValue.string))])
        return VaultClient.error(status: status, json: json, text: "", path: "secret/data/p", isLogin: login)
    }

    @Test func statusesMapToCodes() {
        #expect(map(403, ["permission denied"]).code == .permissionDenied)
        #expect(map(404, []).code == .notFound)
        #expect(map(503, ["Vault is sealed"]).code == .sealed)
        #expect(map(503, ["upstream busy"]).code == .serverError)
        #expect(map(400, ["invalid role or secret ID"], login: true).code == .invalidCredentials)
        #expect(map(400, ["check-and-set parameter did not match the current version"]).code == .invalidRequest)
        #expect(map(500, ["internal error"]).code == .serverError)
    }

    @Test func messagesNameThePath() {
        #expect(map(403, ["permission denied"]).description == "permission denied on secret/data/p: permission denied")
        #expect(map(404, []).description == "no secret at secret/data/p")
    }
}
