import CurlHTTP
import Foundation

/// How stockops reaches Vault, from `VAULT_ADDR`, `VAULT_ROLE_ID` (or `VAULT_ROLE_ID_FILE`),
/// `VAULT_SECRET_ID` (or `VAULT_SECRET_ID_FILE`), `VAULT_NAMESPACE` and `VAULT_CACERT`.
public struct VaultSettings: Sendable {
    public var address: String
    public var namespace: String?
    public var caBundlePath: String?
    var roleID: Credential
    var secretID: Credential

    /// A login credential given inline or as a file.
    enum Credential: Sendable {
        case value(Secret)
        case file(path: String, variable: String)
        case missing(String)
    }

    /// The settings in `environment`, or nil when `VAULT_ADDR` is not set.
    public init?(environment: RunEnvironment) {
        guard let address = environment.pipelineVault("ADDR") else { return nil }
        func credential(_ name: String) -> Credential {
            if let inline = environment.pipelineVault(name) { return .value(Secret(inline).registered()) }
            if let file = environment.pipelineVault(name + "_FILE") { return .file(path: file, variable: "VAULT_" + name + "_FILE") }
            return .missing("VAULT_" + name)
        }
        self.address = address
        namespace = environment.pipelineVault("NAMESPACE")
        caBundlePath = environment.pipelineVault("CACERT")
        roleID = credential("ROLE_ID")
        secretID = credential("SECRET_ID")
    }

    /// A client without a token.
    public func client(http: HTTPClientConfiguration = VaultSettings.http) -> VaultClient {
        var http = http
        http.caBundlePath = caBundlePath ?? http.caBundlePath
        return VaultClient(address: address, namespace: namespace, http: http)
    }

    /// Short timeouts and a few retries of connection errors.
    public static let http = HTTPClientConfiguration(
        connectTimeout: .seconds(5), totalTimeout: .seconds(30),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(200), maxDelay: .seconds(2)))

    /// Logs `client` in with the AppRole credentials.
    func login(_ client: VaultClient) async throws -> VaultAuth {
        func read(_ credential: Credential) throws -> Secret {
            switch credential {
            case .value(let secret): return secret
            case .file(let path, let variable):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw StageFailure.infrastructure("cannot read \(path), named by \(variable)")
                }
                return Secret(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)).registered()
            case .missing(let name):
                throw StageFailure.infrastructure("\(name) (or \(name)_FILE) is not set; VAULT_ADDR is, so an AppRole login is expected")
            }
        }
        return try await client.loginAppRole(roleID: try read(roleID), secretID: try read(secretID))
    }
}

/// The secrets read by `fetch-secrets`, by key name. Every value is registered with ``SecretMasker``;
/// the run record keeps only the key names and paths.
public struct FetchedSecrets: Codable, Sendable, RedactableOutput {
    /// Key name → value.
    public var values: [String: Secret]
    /// Path → key names read from it.
    public var paths: [String: [String]]
    /// The AppRole token, revoked by `revoke-vault-token`; never recorded.
    public var token: Secret?
    /// Where the token is valid.
    public var address: String?
    public var namespace: String?
    public var caBundlePath: String?

    public init(
        values: [String: Secret] = [:], paths: [String: [String]] = [:], token: Secret? = nil, address: String? = nil, namespace: String? = nil,
        caBundlePath: String? = nil
    ) {
        self.values = values
        self.paths = paths
        self.token = token
        self.address = address
        self.namespace = namespace
        self.caBundlePath = caBundlePath
    }

    public subscript(key: String) -> Secret? { values[key] }

    /// The secret named `key`, or a failure naming it.
    public func require(_ key: String) throws(StageFailure) -> Secret {
        guard let value = values[key] else { throw StageFailure.failed("secret \(key) was not fetched; declare it under vault: in pipelines/stockops.yml") }
        return value
    }

    /// Key names and paths only.
    public func redacted() -> FetchedSecrets {
        FetchedSecrets(values: [:], paths: paths, address: address, namespace: namespace)
    }
}

/// `fetch-secrets`: logs in once with AppRole and reads every declared path and key.
///
/// Failures: a missing key or path and a denied path fail the node naming path, key and policy;
/// an unreachable or sealed Vault, refused credentials and missing settings are infrastructure errors.
/// A failure after the login revokes the token at once.
public struct FetchSecretsStage: Stage {
    public var secrets: [VaultSecret]
    /// Nil when `VAULT_ADDR` is not set.
    public var settings: VaultSettings?
    public var http: HTTPClientConfiguration

    public init(secrets: [VaultSecret], settings: VaultSettings?, http: HTTPClientConfiguration = VaultSettings.http) {
        self.secrets = secrets
        self.settings = settings
        self.http = http
    }

    /// The reason to skip the node: no declared secret, or no `VAULT_ADDR` while none is required.
    public var skipReason: String? {
        if secrets.isEmpty { return "no secrets declared under vault:" }
        if settings == nil && !secrets.contains(where: \.required) { return "VAULT_ADDR not set" }
        return nil
    }

    public func run(_ context: StageContext) async throws -> FetchedSecrets {
        guard let settings else {
            let required = secrets.filter(\.required).map(\.path)
            throw StageFailure.infrastructure(
                "VAULT_ADDR not set, but \(required.joined(separator: ", ")) \(required.count == 1 ? "is" : "are") required; set VAULT_ADDR and the AppRole credentials"
            )
        }
        let client = settings.client(http: http)
        context.log.write("login: AppRole at \(settings.address)\(settings.namespace.map { " (namespace \($0))" } ?? "")\n")
        let auth: VaultAuth
        do {
            auth = try await settings.login(client)
        } catch let error as VaultError {
            throw Self.failure(error, path: nil)
        }
        context.log.write("logged in, policies: \(auth.policies.joined(separator: ", "))\n")
        do {
            var fetched = FetchedSecrets(token: auth.clientToken, address: settings.address, namespace: settings.namespace, caBundlePath: settings.caBundlePath)
            for secret in secrets {
                let values = try await Self.read(secret.path, client: client, policies: auth.policies)
                for key in secret.keys {
                    guard let value = values[key] else {
                        throw StageFailure.failed(
                            "\(secret.path) has no key \(key) (it has: \(values.keys.sorted().joined(separator: ", "))); add it in Vault or remove it from pipelines/stockops.yml"
                        )
                    }
                    fetched.values[key] = value
                }
                fetched.paths[secret.path] = secret.keys
                context.log.write("read \(secret.path): \(secret.keys.joined(separator: ", "))\n")
            }
            return fetched
        } catch {
            // A task of its own, so that the revocation also goes out when the run is being cancelled.
            let revokeProblem = await Task { () async -> String? in
                do {
                    try await client.revokeSelf()
                    return nil
                } catch {
                    return "\(error)"
                }
            }.value
            context.log.write(
                revokeProblem.map { "warning: the Vault token could not be revoked after the failure (\($0)); it expires with its TTL\n" }
                    ?? "token revoked after the failure\n")
            throw error
        }
    }

    /// Reads a KV v2 data path (`secret/data/ci/pipeline`), registering every value with the masker.
    static func read(_ path: String, client: VaultClient, policies: [String]) async throws -> [String: Secret] {
        do {
            return try await values(path, client: client)
        } catch {
            throw failure(error, path: path, policies: policies)
        }
    }

    /// The values at a KV v2 data path, registered with the masker; a deleted version is `notFound`.
    static func values(_ path: String, client: VaultClient) async throws(VaultError) -> [String: Secret] {
        let json: JSONValue?
        do {
            json = try await client.request(.get, path)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(code: .invalidResponse, path: path, message: "\(error)")
        }
        guard case .object(let values)? = json?["data"]?["data"] else {
            throw VaultError(code: .notFound, path: path, message: "no secret at \(path) (deleted or destroyed version)")
        }
        var secrets: [String: Secret] = [:]
        for (key, value) in values {
            secrets[key] = Secret(value.text).registered()
        }
        return secrets
    }

    /// Maps a Vault error to a stage failure naming the path and what to do.
    static func failure(_ error: VaultError, path: String?, policies: [String] = []) -> StageFailure {
        let at = path ?? error.path ?? "Vault"
        switch error.code {
        case .permissionDenied:
            let names = policies.filter { $0 != "default" }
            return .failed(
                "permission denied reading \(at): the token's policies (\(names.joined(separator: ", "))) do not grant read on it; grant it in vault/policies/\(names.first ?? "ci").hcl or read a path under the policy"
            )
        case .notFound:
            return .failed("no secret at \(at); write it in Vault (vault/init.sh seeds the declared paths) or fix pipelines/stockops.yml")
        case .invalidCredentials:
            return .infrastructure("AppRole login refused: \(error.message); check VAULT_ROLE_ID and VAULT_SECRET_ID (the secret id may have expired)")
        case .unreachable, .sealed, .serverError, .invalidResponse:
            return .infrastructure(error.message + (error.code == .sealed ? "; unseal it (vault/init.sh)" : ""))
        default:
            return .failed(error.message)
        }
    }
}

/// `revoke-vault-token`: revokes the token `fetch-secrets` obtained. A `finally` node.
public struct RevokeVaultTokenStage: Stage {
    public var fetched: StageRef<FetchedSecrets>
    public var http: HTTPClientConfiguration
    public var dependencies: [NodeID] { [fetched.id] }

    public init(fetched: StageRef<FetchedSecrets>, http: HTTPClientConfiguration = VaultSettings.http) {
        self.fetched = fetched
        self.http = http
    }

    /// Skips the node when `fetch-secrets` left no token.
    public static func skipReason(_ fetched: StageRef<FetchedSecrets>) -> @Sendable (Outputs) throws -> String? {
        { outputs in outputs[fetched]?.token == nil ? "no Vault token to revoke" : nil }
    }

    public func run(_ context: StageContext) async throws -> Done {
        let secrets = try context.value(fetched)
        guard let token = secrets.token, let address = secrets.address else { return Done() }
        var http = http
        http.caBundlePath = secrets.caBundlePath ?? http.caBundlePath
        let client = VaultClient(address: address, token: token, namespace: secrets.namespace, http: http)
        do {
            try await client.revokeSelf()
        } catch let error as VaultError {
            throw StageFailure.infrastructure("could not revoke the Vault token: \(error.message)")
        }
        context.log.write("token revoked\n")
        return Done()
    }
}
