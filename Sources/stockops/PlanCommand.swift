import ArgumentParser
import Foundation
import StockOpsKit

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what would run, and what is skipped and why (unchanged paths, cache hits).",
        discussion: """
            Examples:
              stockops plan
              stockops plan --since origin/main --json
            """
    )

    @OptionGroup var options: PipelineOptions

    func run() async throws {
        try await Self.plan(options.request, json: options.json)
    }

    /// Prints the plan of `request` (a table, or its record under `--json`); a node that could not be planned ends the
    /// command with its error.
    static func plan(_ request: RunRequest, json: Bool) async throws {
        let terminal = Terminal()
        let plan = try await terminal.report { () async throws(StockOpsError) in try await request.plan() }
        if json {
            terminal.record(plan.record)
        } else {
            var text = "plan for \(plan.environment.rawValue)"
            if let changes = plan.result.outputs[StockOpsPipeline.pathsFilter] {
                text += ", base: \(changes.base.map { String($0.prefix(12)) } ?? "none") (\(changes.baseSource)), \(changes.files.count) changed files"
            }
            terminal.output.write(text + "\n" + terminal.output.table(plan.result, plan: true))
        }
        if let failure = plan.failure { try await terminal.report { () throws(StockOpsError) in throw failure } }
    }
}
