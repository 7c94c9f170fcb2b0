import Foundation

@testable import StockOpsKit

// The example of docs/stockops.md, "Extending the pipeline": everything below this line is the first code block
// there, word for word (ExtendingThePipelineTests checks it), so the documented way compiles and runs.

/// How many lines the changed Swift files have.
struct ChangedLines: Codable, Sendable, Equatable {
    var files: Int
    var lines: Int
}

/// Counts the lines of the Swift files paths-filter found changed.
struct ChangedLinesStage: Stage {
    /// paths-filter's output, read through its typed reference: a dependency of another type does not compile.
    var changes: StageRef<ChangeSet>
    var dependencies: [NodeID] { [changes.id] }

    func run(_ context: StageContext) async throws -> ChangedLines {
        let files = try context.value(changes).files.filter { $0.hasSuffix(".swift") }
        guard !files.isEmpty else { return ChangedLines(files: 0, lines: 0) }
        // An argv array, never a shell string; the output goes to the node's log, masked.
        let result = try await context.run(Command("wc", ["-l", "--"] + files, workingDirectory: context.paths.root))
        try result.check("wc -l")
        // One "<count> <file>" line per file, then "<count> total" when there are several.
        let counts = result.output.split(separator: "\n").compactMap { line in line.split(separator: " ").first.flatMap { Int($0) } }
        guard let total = counts.last else { throw StageFailure.failed("wc -l printed no count:\n\(result.output)") }
        return ChangedLines(files: files.count, lines: total)
    }
}
