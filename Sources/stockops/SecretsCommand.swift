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

        @Option(help: "The repository root. (default: the current directory)")
        var root: String?

        @Option(help: "The pipeline file, relative to the root.")
        var config: String = PipelineConfig.defaultPath

        @Flag(help: "Print JSON: {schemaVersion, policies, secrets: [{path, key, state}], readable}.")
        var json = false

        func run() async throws {
            let root = root ?? FileManager.default.currentDirectoryPath
            let environment = RunEnvironment.load(root: root)
            try await Session().checkSecrets(root: root, configPath: config, json: json, processEnvironment: environment).finish()
        }
    }
}
