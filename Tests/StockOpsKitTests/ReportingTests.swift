import Foundation
import Testing
@testable import StockOpsKit

@Suite struct ReportingTests {
    func sampleRun() async throws -> RunResult {
        var builder = GraphBuilder()
        builder.add("paths-filter", Probe { context in context.log.write("base abc\n") })
        builder.add(NodeID("test", key: "trade"), Probe(dependencies: ["paths-filter"]) { _ in throw StageFailure.failed("2 of 9 tests failed") })
        builder.add(NodeID("build", key: "trade"), Probe(dependencies: [NodeID("test", key: "trade")]))
        return await scheduler().run(try builder.build())
    }

    func captured(_ body: (Console) -> Void) throws -> String {
        let path = temporaryDirectory() + "/out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        body(Console(fd: fd, isTTY: false, colors: false, githubActions: true))
        close(fd)
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    @Test func githubBlocksAreGroupedWithErrorAnnotations() async throws {
        let directory = temporaryDirectory()
        let log = NodeLog(path: directory + "/t.log")
        log.write("compiling\nfailed: testOrder\n")
        let text = try captured { console in
            let reporter = BlockReporter(console: console)
            reporter.nodeFinished(NodeID("test", key: "trade"), policy: .gate, result: NodeResult(status: .failed, reason: "2 of 9 tests failed", attempts: 1, duration: 3.2), log: log)
            reporter.nodeFinished("sonar", policy: .allowFailure, result: NodeResult(status: .failed, reason: "red"), log: nil)
        }
        #expect(text.contains("::group::✗ test[trade] failed (3.2s) — 2 of 9 tests failed\ncompiling\nfailed: testOrder\n::endgroup::\n"))
        #expect(text.contains("::error title=test[trade] failed::2 of 9 tests failed\n"))
        #expect(text.contains("::warning title=sonar failed::red\n"))
    }

    @Test func theLiveViewRedrawsRunningNodes() throws {
        let path = temporaryDirectory() + "/tty"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let reporter = LiveReporter(console: Console(fd: fd, isTTY: true, colors: false, githubActions: false))
        reporter.nodeStarted("lint", at: Date())
        reporter.nodeStarted("test", at: Date())
        reporter.nodeFinished("lint", policy: .gate, result: NodeResult(status: .passed, duration: 1.5), log: nil)
        reporter.stop()
        close(fd)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("  ⋯ lint 0.0s\n"))
        #expect(text.contains("\u{1B}[2F\u{1B}[J✓ lint passed (1.5s)\n  ⋯ test "))
        #expect(text.hasSuffix("\u{1B}[1F\u{1B}[J"), "stopping clears the live lines")
    }

    @Test func noColorAndPipesDisableColours() {
        let piped = Console(fd: -1, environment: ["TERM": "xterm"])
        #expect(!piped.isTTY && !piped.colors)
        #expect(Console(fd: 1, environment: ["GITHUB_ACTIONS": "true"]).githubActions)
        #expect(Console(fd: 1, isTTY: true, colors: false, githubActions: false).paint("x", .failed) == "x")
        #expect(Console(fd: 1, isTTY: true, colors: true, githubActions: false).paint("x", .failed) == "\u{1B}[31mx\u{1B}[0m")
    }

    @Test func stepSummaryAndOutputs() async throws {
        let result = try await sampleRun()
        let summary = GitHubActions.summary(result, title: "stockops dev")
        #expect(summary.contains("### stockops dev: failed"))
        #expect(summary.contains("| `test[trade]` | failed — 2 of 9 tests failed |"))
        #expect(summary.contains("| `build[trade]` | blocked — test[trade] failed | 0.0s | no |"))
        #expect(GitHubActions.outputs([("status", "failed"), ("services", "trade")]) == "status=failed\nservices=trade\n")
        #expect(GitHubActions.outputs([("notes", "a\nb")]).hasPrefix("notes<<EOF_"))

        let file = temporaryDirectory() + "/summary.md"
        try GitHubActions.append("one\n", toFileIn: "GITHUB_STEP_SUMMARY", environment: ["GITHUB_STEP_SUMMARY": file])
        try GitHubActions.append("two\n", toFileIn: "GITHUB_STEP_SUMMARY", environment: ["GITHUB_STEP_SUMMARY": file])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "one\ntwo\n")
    }

    @Test func theStepSummaryDrawsTheGraphByStatusAndTheTimeline() async throws {
        var builder = GraphBuilder()
        builder.add("paths-filter", Probe { context in context.log.write("base abc\n") })
        builder.add(NodeID("test", key: "trade"), Probe(dependencies: ["paths-filter"]) { _ in throw StageFailure.failed("2 of 9 tests failed") })
        builder.add(NodeID("build", key: "trade"), Probe(dependencies: [NodeID("test", key: "trade")]))
        let graph = try builder.build()
        let result = await scheduler().run(graph)
        let diagrams = GitHubActions.diagrams(result, graph: graph)
        #expect(diagrams.hasPrefix("```mermaid\nflowchart LR\n"))
        #expect(diagrams.contains("  test_trade_[\"test[trade]<br/>failed\"]:::failed\n"))
        #expect(diagrams.contains("  build_trade_[\"build[trade]<br/>blocked\"]:::blocked\n"))
        #expect(diagrams.contains("  paths_filter --> test_trade_\n") && diagrams.contains("  test_trade_ --> build_trade_\n"))
        #expect(diagrams.contains("```mermaid\ngantt\n  title Timeline\n  dateFormat x\n"))
        let started = try #require(result["test[trade]"]?.started)
        #expect(diagrams.contains("  test[trade] : crit, \(Int64(started.timeIntervalSince1970 * 1000)), "))
        #expect(!diagrams.contains("  build[trade] :"), "a blocked node never ran, so it has no bar")
    }

    @Test func runRecordAndJUnit() async throws {
        let result = try await sampleRun()
        let record = RunRecord(runID: "r1", environment: "dev", exitCode: 1, result: result, paths: nil)
        let json = try #require(try JSONSerialization.jsonObject(with: record.encoded()) as? [String: Any])
        #expect(json["status"] as? String == "failed")
        #expect(json["schemaVersion"] as? Int == 1)
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["id"] as? String } == ["paths-filter", "test[trade]", "build[trade]"])
        #expect(nodes[2]["status"] as? String == "blocked")
        #expect(nodes[0]["output"] as? [String: Any] != nil)

        let junit = JUnitReport.render(result)
        #expect(junit.contains("tests=\"3\" failures=\"1\" skipped=\"1\""))
        #expect(junit.contains("<failure message=\"2 of 9 tests failed\"/>"))
    }

    @Test func secretsAreRedactedFromRecords() throws {
        struct Secrets: Codable, Sendable, RedactableOutput {
            var token: String
            func redacted() -> Secrets { Secrets(token: "<redacted>") }
        }
        let data = try GraphBuilder.encode(Secrets(token: "s3cr3t"))
        #expect(String(decoding: data, as: UTF8.self) == #"{"token":"<redacted>"}"#)
    }

    @Test func theTableListsEveryNode() async throws {
        let table = Console(fd: 1, isTTY: false, colors: false, githubActions: false).table(try await sampleRun())
        #expect(table.contains("build[trade]  blocked"))
        #expect(table.hasSuffix("\n"))
        #expect(table.contains("run failed in"))
    }
}
