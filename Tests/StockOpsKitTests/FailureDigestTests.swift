import Foundation
import Testing

@testable import StockOpsKit

/// A failed run explains itself: the failed tests by name, and each failed node's reason, log path and last lines.
@Suite struct FailureDigestTests {
    @Test func failedTestsAreNamedFromBothReportFormats() {
        let xctest = """
            <testsuites><testsuite name="TradeServiceTests" tests="2" failures="1">
            <testcase classname="TradeServiceTests.TradeTests" name="testBuy" time="0.1"></testcase>
            <testcase classname="TradeServiceTests.TradeTests" name="testSell" time="0.2"><failure message="XCTAssertEqual failed: (&quot;3&quot;) is not equal to (&quot;2&quot;)"></failure></testcase>
            </testsuite></testsuites>
            """
        let swiftTesting = """
            <testsuites><testsuite name="TestResults" errors="0" tests="2" failures="1">
            <testcase classname="TradeServiceTests.TradeRoutesTests" name="overselling()" time="0.01"><failure message="Expectation failed: (quantity → 5) &lt;= (held → 2)&#10;more" /></testcase>
            <testcase classname="TradeServiceTests.TradeRoutesTests" name="buy()" time="0.01" />
            </testsuite></testsuites>
            """
        #expect(TestCounts.failures(junit: xctest) == [#"TradeServiceTests.TradeTests.testSell: XCTAssertEqual failed: ("3") is not equal to ("2")"#])
        #expect(TestCounts.failures(junit: swiftTesting) == ["TradeServiceTests.TradeRoutesTests.overselling(): Expectation failed: (quantity → 5) <= (held → 2)"])
        #expect(TestCounts.failures(junit: "<testsuites/>").isEmpty)
    }

    struct Noisy: Stage {
        var lines: Int
        var secret: String
        func run(_ context: StageContext) async throws -> Done {
            for index in 1...lines { context.log.write("line \(index)\n") }
            context.log.write("token \(secret)\n")
            throw StageFailure.failed("boom")
        }
    }

    @Test func theFailedNodesShowTheirReasonLogAndLastLinesMasked() async throws {
        let secret = "digest-secret-" + UUID().uuidString
        _ = Secret(secret).registered()
        let root = temporaryDirectory("digest")
        let runner = scheduler(root: root)
        var graph = GraphBuilder()
        graph.add("noisy", Noisy(lines: 30, secret: secret))
        graph.add("fine", Fixed(value: Done()))
        let result = await runner.run(try graph.build())
        let failed = FailureDigest.collect(result, paths: runner.paths)
        #expect(failed.map(\.id.description) == ["noisy"])
        let node = try #require(failed.first)
        #expect(node.reason == "boom")
        #expect(node.tail.count == 20)
        // The scheduler's own last line follows the stage's.
        #expect(node.tail.first == "line 13" && node.tail.suffix(2) == ["token ***", "attempt 1 failed (failed): boom"])
        #expect(node.logPath == runner.paths.logPath(for: "noisy"))

        let terminal = FailureDigest.text(failed, githubActions: false)
        #expect(terminal.contains("✗ noisy failed: boom\n  log: \(node.logPath)\n  last 20 lines:\n  │ line 13\n"))
        #expect(!terminal.contains(secret))
        let actions = FailureDigest.text(failed, githubActions: true)
        #expect(actions.contains("::group::last 20 lines of noisy's log\nline 13\n") && actions.contains("boom\n::endgroup::\n"))
        let markdown = FailureDigest.markdown(failed)
        #expect(markdown.contains("<details><summary><code>noisy</code>: boom</summary>") && markdown.contains("```\nline 13\n"))
        #expect(FailureDigest.text([], githubActions: false).isEmpty)
    }
}
