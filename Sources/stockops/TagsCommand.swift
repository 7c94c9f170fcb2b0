import ArgumentParser
import StockOpsKit

struct TagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags",
        abstract: "List the tags a rollback could go to, and whether it would take each.",
        discussion: """
            Every tag that exists for every service in the registry, release versions newest first: whether its digests \
            were live in the environment (ledger), whether their signatures verify and carry a stage proof, and whether \
            `stockops rollback` would take it (and why not).

            Exit codes: 0 listed, 2 bad usage or configuration, 3 the registry or Vault could not be reached.

            Examples:
              stockops tags --env prod
              stockops tags --env stage --json
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Flag(help: "Print JSON: {schemaVersion, environment, tags: [...]}.")
    var json = false

    func run() async throws {
        var request = target.request
        request.json = json
        try await Session().tags(request).finish()
    }
}
