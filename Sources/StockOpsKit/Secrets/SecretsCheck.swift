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

/// `secrets check --json`: key names and states, never a value.
struct SecretsReport: Encodable {
    var policies: [String]
    var secrets: [SecretCheck]
    /// Whether every declared key is readable.
    var readable: Bool
}

extension Session {
    /// `stockops secrets check`: logs in with the configured AppRole and checks that every declared
    /// path and key is readable. Prints key names only. Exit 0 when all are, 1 when one is missing or
    /// denied, 3 when Vault is unreachable or the login fails, 2 for configuration errors.
    public func checkSecrets(
        root: String, configPath: String = PipelineConfig.defaultPath, json: Bool = false,
        processEnvironment: RunEnvironment, http: HTTPClientConfiguration = VaultSettings.http
    ) async -> ExitStatus {
        let config: PipelineConfig
        do {
            config = try PipelineConfig.load(path: configPath.hasPrefix("/") ? configPath : root + "/" + configPath, displayPath: configPath)
        } catch {
            return fail(StockOpsError(.config, error.description))
        }
        guard !config.vault.isEmpty else {
            if json {
                printJSON(SecretsReport(policies: [], secrets: [], readable: true))
            } else {
                output.write("no secrets declared under vault: in \(configPath)\n")
            }
            return .success
        }
        guard let settings = VaultSettings(environment: processEnvironment) else {
            return fail(StockOpsError(.config, "VAULT_ADDR is not set; set it and VAULT_ROLE_ID/VAULT_SECRET_ID (or their _FILE variants)"))
        }
        let client = settings.client(http: http)
        let auth: VaultAuth
        do {
            auth = try await settings.login(client)
        } catch let error as VaultError {
            return fail(StockOpsError(.infrastructure, FetchSecretsStage.failure(error, path: nil).message))
        } catch {
            return fail(StockOpsError(.infrastructure, "\(error)"))
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
                    return fail(StockOpsError(.infrastructure, FetchSecretsStage.failure(error, path: secret.path).message))
                }
            }
            checks += secret.keys.map { SecretCheck(path: secret.path, key: $0, state: states[$0]!) }
        }
        // The token lives only in this process; one not revoked expires with its TTL.
        try? await client.revokeSelf()

        let bad = checks.filter { $0.state != .ok }
        if json {
            printJSON(SecretsReport(policies: auth.policies, secrets: checks, readable: bad.isEmpty))
            return bad.isEmpty ? .success : .gateFailed
        }
        let pathWidth = max(4, checks.map(\.path.count).max() ?? 0)
        let keyWidth = max(3, checks.map(\.key.count).max() ?? 0)
        func row(_ a: String, _ b: String, _ c: String) -> String {
            a.padding(toLength: pathWidth, withPad: " ", startingAt: 0) + "  " + b.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  " + c + "\n"
        }
        var text = "policies: \(auth.policies.joined(separator: ", "))\n" + row("PATH", "KEY", "STATE")
        for check in checks { text += row(check.path, check.key, check.state.rawValue) }
        text += bad.isEmpty ? "all \(checks.count) secrets readable\n" : "\(bad.count) of \(checks.count) secrets not readable\n"
        output.write(text)
        if bad.contains(where: { $0.state == .denied }) {
            errors.write("hint: denied paths are not granted by the token's policies (\(auth.policies.joined(separator: ", "))); see vault/policies/ci.hcl\n")
        }
        return bad.isEmpty ? .success : .gateFailed
    }
}
