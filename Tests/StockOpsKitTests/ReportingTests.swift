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
            reporter.nodeFinished(
                NodeID("test", key: "trade"), policy: .gate, result: NodeResult(status: .failed, reason: "2 of 9 tests failed", attempts: 1, duration: 3.2),
                log: log)
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
        reporter.nodeStarted("lint", at: Date(), log: nil)
        reporter.nodeStarted("test", at: Date(), log: nil)
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
        try GitHubActions.append("one\n", toFileIn: .summary, environment: ["GITHUB_STEP_SUMMARY": file])
        try GitHubActions.append("two\n", toFileIn: .summary, environment: ["GITHUB_STEP_SUMMARY": file])
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

/// Long tools say how far they have got, and the reporters show it: live on a terminal, now and then in CI logs.
@Suite struct ToolProgressTests {
    func progress(_ lines: [String]) -> String? {
        var progress = ToolProgress()
        for line in lines { progress.consume(Substring(line)) }
        return progress.latest
    }

    @Test func swiftBuildImageBuildAndPushLinesAreRead() {
        #expect(
            progress(["Building for production...", "[12/345] Compiling TradeService Trade.swift"])
                == "swift build 12/345 (3 %): Compiling TradeService Trade.swift")
        #expect(progress(["#8 [build 4/7] RUN swift build -c release --product trade"]) == "image build step 4/7: RUN swift build -c release --product trade")
        #expect(progress(["#5 [2/3] COPY trade /usr/local/bin/trade", "#5 DONE 0.4s"]) == "image build step 2/3: COPY trade /usr/local/bin/trade")
        #expect(progress(["#15 pushing layer sha256:9a4b1c 12.58MB / 70.40MB 3.1s"]) == "push: 12.58MB / 70.40MB")
        #expect(progress(["#3 sha256:0f2c 4.19MB / 29.13MB 0.5s"]) == "transfer: 4.19MB / 29.13MB")
        let push = [
            "The push refers to repository [127.0.0.1:5000/stockapp/trade]",
            "5f70bf18a086: Preparing", "a1b2c3d4e5f6: Preparing", "0123456789ab: Preparing",
            "5f70bf18a086: Pushed", "a1b2c3d4e5f6: Layer already exists",
        ]
        #expect(progress(push) == "push: 2 of 3 layers")
        #expect(progress(push + ["0123456789ab: Mounted from stockapp/stock-listing", "git-1a2b3c4: digest: sha256:ab size: 1234"]) == "push: 3 of 3 layers")
        #expect(progress(["[notice] nothing", "#1 [internal] load build definition", "deadbeef: not a layer", "[3/2] impossible"]) == nil)
    }

    @Test func theReportersShowTheRunningNodesProgress() throws {
        let directory = temporaryDirectory("progress")
        let log = NodeLog(path: directory + "/build.log")
        log.write("Building for production...\n[120/456] Compiling ServiceKit Routes.swift\n")
        #expect(log.progress == "swift build 120/456 (26 %): Compiling ServiceKit Routes.swift")

        let path = directory + "/ci"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        let reporter = BlockReporter(console: Console(fd: fd, isTTY: false, colors: false, githubActions: true))
        let started = Date(timeIntervalSinceNow: -95)
        reporter.nodeStarted(NodeID("build", key: "trade"), at: started, log: log)
        reporter.nodeStarted("paths-filter", at: Date(), log: nil)
        reporter.progressLines(olderThan: 30)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("⋯ build[trade] 1m35s — swift build 120/456 (26 %): Compiling ServiceKit Routes.swift\n"), "\(text)")
        #expect(!text.contains("paths-filter"), "a node running less than the interval gets no line")
        reporter.nodeFinished(NodeID("build", key: "trade"), policy: .gate, result: NodeResult(status: .passed, duration: 95), log: log)
        reporter.progressLines(olderThan: 0)
        text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: "⋯ build[trade]").count == 2, "a finished node gets no more lines: \(text)")

        let ttyPath = directory + "/tty"
        let tty = open(ttyPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(tty) }
        let live = LiveReporter(console: Console(fd: tty, isTTY: true, colors: false, githubActions: false))
        live.nodeStarted(NodeID("build", key: "trade"), at: Date(), log: log)
        #expect(try String(contentsOfFile: ttyPath, encoding: .utf8).contains("  ⋯ build[trade] 0.0s — swift build 120/456 (26 %)"))
    }
}
