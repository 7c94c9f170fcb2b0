import ArgumentParser
import StockOpsKit

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show an environment's deploy ledger, newest first.",
        discussion: """
            Every deploy, rollback and automatic rollback: time, tag, outcome, who ran and who approved it. \
            With --json, the ledger's JSON lines, oldest first.

            Examples:
              stockops history --env prod --limit 10
              stockops history --env stage --json
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Option(help: "Show only the newest N entries.")
    var limit: Int?

    @Flag(help: "Print the entries as JSON lines.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    func run() async throws {
        var request = target.request
        request.json = json
        try Session().history(request, limit: limit).finish()
    }
}
