import Foundation
import Testing

@testable import StockOpsKit

/// The documented way of adding a stage compiles, runs, and is what docs/stockops.md shows.
@Suite struct ExtendingThePipelineTests {
    /// A stage whose output is given: paths-filter's place in these graphs.
    struct Given<Output: Codable & Sendable>: Stage {
        var output: Output
        var dependencies: [NodeID] { [] }
        func run(_ context: StageContext) async throws -> Output { output }
    }

    @Test func theExampleStageRunsInAGraph() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "let a = 1\nlet b = 2\n".write(toFile: root + "/A.swift", atomically: true, encoding: .utf8)
        try "let c = 3\n".write(toFile: root + "/B.swift", atomically: true, encoding: .utf8)
        var graph = GraphBuilder()
        let changes = graph.add(
            StockOpsPipeline.pathsFilter.id,
            Given(output: ChangeSet(base: nil, baseSource: "test", files: ["A.swift", "B.swift", "README.md"], sharedChanged: false, services: [])))
        // docs: begin
        let changedLines = graph.add(
            NodeID("changed-lines"), ChangedLinesStage(changes: changes),
            policy: NodePolicy(.allowFailure, timeout: .seconds(60)),
            summary: "count the lines of the changed Swift files")
        // docs: end
        let result = await scheduler(root: root).run(try graph.build())
        #expect(result[changedLines.id]?.status == .passed, "\(String(describing: result[changedLines.id]?.reason))")
        #expect(try result.outputs.value(changedLines) == ChangedLines(files: 2, lines: 3))
    }

    @Test func theDocumentationShowsTheExampleWordForWord() throws {
        let root = OpenBaoDevServer.repositoryRoot.path
        let docs = try String(contentsOfFile: root + "/docs/stockops.md", encoding: .utf8)
        let section = try #require(docs.components(separatedBy: "## Extending the pipeline\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let blocks = section.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```\n")[0] }
        try #require(blocks.count >= 2, "the section has no two swift blocks")

        let example = try String(contentsOfFile: root + "/Tests/StockOpsKitTests/ExtendingThePipelineExample.swift", encoding: .utf8)
        let stage = try #require(
            example.components(separatedBy: "word for word (ExtendingThePipelineTests checks it), so the documented way compiles and runs.\n\n").last)
        #expect(blocks[0] == stage, "docs/stockops.md's first block differs from ExtendingThePipelineExample.swift")

        let tests = try String(contentsOfFile: root + "/Tests/StockOpsKitTests/ExtendingThePipelineTests.swift", encoding: .utf8)
        let marked = try #require(tests.components(separatedBy: "// docs: begin\n").dropFirst().first?.components(separatedBy: "        // docs: end").first)
        let added = marked.split(separator: "\n", omittingEmptySubsequences: false).map { $0.dropFirst(8) }.joined(separator: "\n")
        #expect(blocks[1] == added, "docs/stockops.md's second block differs from the lines between the docs markers of this test")
    }
}
