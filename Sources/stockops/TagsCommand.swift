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
        let terminal = Terminal()
        let listing = try await terminal.report { () async throws(StockOpsError) in try await RollbackTargets.list(target.request) }
        if json { return terminal.json(listing) }
        guard !listing.tags.isEmpty else { return terminal.output.write("no tag exists for every service in \(listing.registry)\n") }
        func mark(_ value: Bool?) -> String { value.map { $0 ? "yes" : "no" } ?? "-" }
        let rows = listing.tags.map { target in
            [
                target.tag + (target.live ? " (live)" : ""), mark(target.wasLive), mark(target.signaturesVerified), mark(target.stageProof),
                target.acceptable ? "yes" : "no: " + (target.refusal ?? ""),
            ]
        }
        terminal.output.write(TextTable.render([["TAG", "WAS LIVE", "SIGNED", "STAGE PROOF", "ROLLBACK TAKES IT"]] + rows))
    }
}
