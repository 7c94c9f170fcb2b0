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
        let terminal = Terminal()
        let history = try await terminal.report { () throws(StockOpsError) in try LedgerHistory.read(target.request, limit: limit) }
        for problem in history.problems { terminal.warn("\(history.path) \(problem)") }
        if json { return terminal.json(history) }
        guard !history.entries.isEmpty else {
            return terminal.output.write("no deploys recorded for \(history.environment) (\(history.path))\n")
        }
        let rows = history.entries.map { entry in
            [
                TextTable.time(entry.time), entry.action.rawValue, entry.tag, entry.outcome.rawValue,
                entry.actor + (entry.approver.map { " (approved by \($0))" } ?? ""),
                (entry.forceUnverified == true ? "force-unverified; " : "") + (entry.detail ?? ""),
            ]
        }
        terminal.output.write(TextTable.render([["TIME", "ACTION", "TAG", "OUTCOME", "BY", "DETAIL"]] + rows))
    }
}
