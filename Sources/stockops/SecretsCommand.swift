import ArgumentParser
import Foundation
import StockOpsKit

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Check the secrets the pipeline reads from Vault.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log in with the CI AppRole and check every declared path and key is readable.",
            discussion: """
                Logs in with the AppRole of VAULT_ROLE_ID/VAULT_SECRET_ID (or their _FILE variants) at VAULT_ADDR and \
                verifies that every path and key declared under vault: is readable. It prints key names only, never values.
                Exit codes: 0 all readable, 1 a key missing or denied, 2 configuration error, 3 Vault unreachable or the \
                login refused.

                Examples:
                  stockops secrets check
                  VAULT_ROLE_ID_FILE=vault-out/ci/role_id VAULT_SECRET_ID_FILE=vault-out/ci/secret_id stockops secrets check
                """)

        @OptionGroup var repository: RepositoryOptions

        @Flag(help: "Print JSON: {schemaVersion, policies, secrets: [{path, key, state}], readable}.")
        var json = false

        func run() async throws {
            let config = repository.config
            let terminal = Terminal()
            let report = try await terminal.report { () async throws(StockOpsError) in
                try await SecretsReport.check(root: repository.root.path, configPath: config, environment: repository.root.environment)
            }
            if json {
                terminal.json(report)
            } else if report.isEmpty {
                terminal.output.write("no secrets declared under vault: in \(config)\n")
            } else {
                terminal.output.write(Self.render(report))
                if report.secrets.contains(where: { $0.state == .denied }) {
                    terminal.errors.write(
                        "hint: denied paths are not granted by the token's policies (\(report.policies.joined(separator: ", "))); see vault/policies/ci.hcl\n")
                }
            }
            if !report.readable { throw ExitCode(ExitStatus.gateFailed.rawValue) }
        }

        /// The policies, one row per key and the verdict.
        static func render(_ report: SecretsReport) -> String {
            let bad = report.secrets.filter { $0.state != .ok }.count
            return "policies: \(report.policies.joined(separator: ", "))\n"
                + TextTable.render([["PATH", "KEY", "STATE"]] + report.secrets.map { [$0.path, $0.key, $0.state.rawValue] })
                + (bad == 0 ? "all \(report.secrets.count) secrets readable\n" : "\(bad) of \(report.secrets.count) secrets not readable\n")
        }
    }
}
