import CurlHTTP
import Foundation

/// The readability of one declared key, as `stockops secrets check` reports it.
public struct SecretCheck: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Encodable {
        case ok
        case missing
        case denied
    }

    public var path: String
    public var key: String
    public var state: State
}

/// What `stockops secrets check` found: the token's policies and the readability of every declared key (names and
/// states, never a value).
public struct SecretsReport: Sendable, Encodable {
    public var policies: [String]
    public var secrets: [SecretCheck]
    /// Whether every declared key is readable.
    public var readable: Bool

    /// Nothing is declared under `vault:`.
    public var isEmpty: Bool { secrets.isEmpty }

    /// Logs in with the configured AppRole (`VAULT_ADDR`, `VAULT_ROLE_ID`/`VAULT_SECRET_ID` or their `_FILE` forms)
    /// and checks that every path and key declared under `vault:` is readable; revokes the token after. Throws a
    /// configuration error without Vault settings or a readable pipeline, an infrastructure error when Vault is
    /// unreachable or refuses the login.
    public static func check(
        root: String, configPath: String = PipelineConfig.defaultPath, environment: RunEnvironment, http: HTTPClientConfiguration = VaultSettings.http
    ) async throws(StockOpsError) -> SecretsReport {
        let config = try PipelineConfig.loadForCommand(root: root, configPath: configPath)
        guard !config.vault.isEmpty else { return SecretsReport(policies: [], secrets: [], readable: true) }
        guard let settings = VaultSettings(environment: environment) else {
            throw StockOpsError(.config, "VAULT_ADDR is not set; set it and VAULT_ROLE_ID/VAULT_SECRET_ID (or their _FILE variants)")
        }
        let client = settings.client(http: http)
        let auth: VaultAuth
        do {
            auth = try await settings.login(client)
        } catch let error as VaultError {
            throw StockOpsError(.infrastructure, FetchSecretsStage.failure(error, path: nil).message)
        } catch {
            throw StockOpsError(.infrastructure, "\(error)")
        }
        var checks: [SecretCheck] = []
        for secret in config.vault {
            let states: [String: SecretCheck.State]
            do {
                let values = try await FetchSecretsStage.values(secret.path, client: client)
                states = Dictionary(uniqueKeysWithValues: secret.keys.map { ($0, values[$0] == nil ? .missing : .ok) })
            } catch {
                switch error.code {
                case .permissionDenied: states = Dictionary(uniqueKeysWithValues: secret.keys.map { ($0, .denied) })
                case .notFound, .invalidRequest: states = Dictionary(uniqueKeysWithValues: secret.keys.map { ($0, .missing) })
                default:
                    // The read failure is what is reported; the token lives only in this process and expires with its TTL.
                    try? await client.revokeSelf()
                    throw StockOpsError(.infrastructure, FetchSecretsStage.failure(error, path: secret.path).message)
                }
            }
            checks += secret.keys.map { SecretCheck(path: secret.path, key: $0, state: states[$0]!) }
        }
        // The token lives only in this process; one not revoked expires with its TTL.
        try? await client.revokeSelf()
        return SecretsReport(policies: auth.policies, secrets: checks, readable: checks.allSatisfy { $0.state == .ok })
    }
}
