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
        #expect(
            TestCounts.failures(junit: swiftTesting) == ["TradeServiceTests.TradeRoutesTests.overselling(): Expectation failed: (quantity → 5) <= (held → 2)"])
        #expect(TestCounts.failures(junit: "<testsuites/>").isEmpty)
        let references =
            #"<testcase classname="T" name="arrow()"><failure message="(total([2, 2]) &#8594; 4) == 5 &#x2192; &amp;amp; &bogus; &#10;second line" /></testcase>"#
        #expect(TestCounts.failures(junit: references) == ["T.arrow(): (total([2, 2]) → 4) == 5 → &amp; &bogus; "])
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

/// `stockops runs`: the runs of `.stockops/runs`, listed newest first, shown with their failures, pruned.
@Suite struct RunHistoryTests {
    @Test func runsAreListedShownAndPruned() async throws {
        let root = temporaryDirectory("runs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Two pipeline runs (the second fails) and a rollback, as the commands write them.
        for (index, failing) in [false, true].enumerated() {
            let runID = "20261130T10000\(index)Z-abc\(index)"
            let paths = RunPaths(root: root, runDirectory: RunHistory.directory(root: root) + "/" + runID)
            let runner = Scheduler(jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: paths, cache: nil)
            var graph = GraphBuilder()
            if failing { graph.add("noisy", FailureDigestTests.Noisy(lines: 3, secret: "x")) } else { graph.add("fine", Fixed(value: Done())) }
            let result = await runner.run(try graph.build())
            try RunRecord(runID: runID, environment: "dev", exitCode: failing ? 1 : 0, result: result, paths: paths).write(to: paths)
        }
        let rollback = RunHistory.directory(root: root) + "/20261130T100009Z-def0-rollback"
        try FileManager.default.createDirectory(atPath: rollback, withIntermediateDirectories: true)
        try #"{"status": "failed", "error": "v9.9.9 is not in the registry", "code": "missing-tag"}"#.write(
            toFile: rollback + "/rollback.json", atomically: true, encoding: .utf8)

        let runs = RunHistory.list(root: root)
        #expect(runs.map(\.runID) == ["20261130T100009Z-def0-rollback", "20261130T100001Z-abc1", "20261130T100000Z-abc0"])
        #expect(runs.map(\.kind) == ["rollback", "run", "run"])
        #expect(runs[0].status == "failed" && runs[0].failed == ["v9.9.9 is not in the registry"])
        #expect(runs[1].status == "failed" && runs[1].failed == ["noisy"] && runs[1].exitCode == 1)
        #expect(runs[2].status == "passed" && runs[2].failed.isEmpty)

        let (newest, paths) = try RunHistory.record(root: root, runID: nil)
        #expect(newest.runID == "20261130T100001Z-abc1")
        let failed = RunHistory.failures(newest, paths: paths)
        #expect(failed.map(\.id.description) == ["noisy"] && failed.first?.tail.contains("line 3") == true)
        #expect(try RunHistory.record(root: root, runID: "20261130T100000Z").0.runID == "20261130T100000Z-abc0")
        #expect(throws: RunHistory.Failure.self) { try RunHistory.record(root: root, runID: "19990101") }

        #expect(try RunHistory.prune(root: root, keep: 1) == ["20261130T100001Z-abc1", "20261130T100000Z-abc0"])
        #expect(RunHistory.list(root: root).map(\.runID) == ["20261130T100009Z-def0-rollback"])
    }
}

/// Under GitHub Actions a run never redraws lines, even when the runner gives it a terminal (act does).
@Suite struct ActionsTerminalTests {
    @Test func aTerminalUnderGitHubActionsGetsBlocksNotRedraws() async throws {
        let repository = try await RunOperationTests().repository()
        let directory = temporaryDirectory("actions-tty")
        let fd = open(directory + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        let terminal = Console(fd: fd, isTTY: true, colors: false, githubActions: true)
        var request = RunRequest(
            root: repository.root, environment: .dev, processEnvironment: ["STOCKOPS_STATE_DIR": directory + "/state", "GITHUB_ACTIONS": "true"])
        request.only = ["paths-filter"]
        #expect(try await request.run(progress: terminal).exitStatus == .success)
        let text = try String(contentsOfFile: directory + "/out", encoding: .utf8)
        #expect(text.contains("paths-filter"), "\(text)")
        #expect(!text.contains("\u{1B}[1F") && !text.contains("\u{1B}[J"), "redrawn lines under GitHub Actions: \(text.debugDescription)")
    }
}
