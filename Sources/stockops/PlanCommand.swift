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
        try await Session().plan(options.request).finish()
    }
}
