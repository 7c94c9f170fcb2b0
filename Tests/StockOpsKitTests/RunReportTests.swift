import Foundation
import Testing

@testable import StockOpsKit

/// `report.html`: every node on the graph and the timeline, the failures first, nothing fetched, secrets masked; and
/// a failed test named in the terminal, the step summary and the report.
@Suite struct RunReportTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Where screenshots are kept after the run: `STOCKOPS_TEST_ARTIFACTS`, or `.build/test-artifacts`.
    static var artifacts: String {
        ProcessInfo.processInfo.environment["STOCKOPS_TEST_ARTIFACTS"] ?? packageRoot + "/.build/test-artifacts"
    }

    struct Logging: Stage {
        var lines: [String]
        func run(_ context: StageContext) async throws -> Done {
            for line in lines { context.log.write(line + "\n") }
            return Done()
        }
    }

    @Test func everyNodeIsOnTheGraphAndTheTimelineAndTheFailureComesFirst() async throws {
        let secret = "report-secret-" + UUID().uuidString
        _ = Secret(secret).registered()
        let root = temporaryDirectory("report")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/r1")
        let scheduler = Scheduler(jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: paths, cache: nil)
        var graph = GraphBuilder()
        let first = graph.add("compile", Logging(lines: ["compiled <Main.swift> & linked", "token \(secret)"]))
        graph.add("noisy", FailureDigestTests.Noisy(lines: 3, secret: secret), after: [first.id])
        graph.add("after-noisy", Fixed(value: Done()), after: ["noisy"])
        let pipeline = try graph.build()
        let result = await scheduler.run(pipeline)
        let record = RunRecord(runID: "r1", environment: "dev", exitCode: 1, result: result, paths: paths, graph: pipeline)
        #expect(record.nodes.map { $0.dependencies ?? [] } == [[], ["compile"], ["noisy"]])

        for drawing in [nil, "<svg class=\"graph\"><g id=\"graph-node-compile\"></g></svg>"] {
            let html = RunReport.render(record, paths: paths, graphSVG: drawing)
            #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
            #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"), "nothing is loaded")
            for node in ["compile", "noisy", "after_noisy"] where drawing == nil {
                #expect(html.contains("id=\"graph-node-\(node)\""), "\(node) is not on the graph")
            }
            for node in ["compile", "noisy", "after_noisy"] {
                #expect(html.contains("id=\"timeline-node-\(node)\""), "\(node) is not on the timeline")
                #expect(html.contains("id=\"node-\(node)\""), "\(node) has no section")
            }
            #expect(html.contains("<article class=\"failure\"><h3><a href=\"#node-noisy\">noisy</a></h3><p class=\"reason\">boom</p>"))
            #expect(html.contains("blocked") || html.contains("skipped"))
            #expect(html.contains("compiled &lt;Main.swift&gt; &amp; linked"), "log text is escaped")
            #expect(!html.contains(secret) && html.contains("token ***"))
            let failure = try #require(html.range(of: "<section class=\"failures\">"))
            let graphSection = try #require(html.range(of: "<h2>Graph</h2>"))
            #expect(failure.lowerBound < graphSection.lowerBound, "the failures come first")
        }
        let drawn = RunReport.render(record, paths: paths, graphSVG: nil)
        #expect(drawn.contains("<path d=\"M"), "the edges are drawn")
    }

    @Test func anImpliedDependencyIsNotDrawn() throws {
        func entry(_ id: NodeID, _ dependencies: [NodeID]) -> RunRecord.Entry {
            RunRecord.Entry(id: id, kind: .gate, status: .passed, attempts: 1, duration: 0, cached: false, dependencies: dependencies)
        }
        var record = RunRecord(
            runID: "r", environment: nil, exitCode: 0,
            result: RunResult(status: .passed, results: [], outputs: Outputs(), encodedOutputs: [:], started: Date(), finished: Date()), paths: nil)
        record.nodes = [entry("a", []), entry("b", ["a"]), entry("c", ["b"]), entry("finally", ["a", "b", "c"])]
        #expect(RunDiagrams.edges(record).map { "\($0.0)->\($0.1)" } == ["a->b", "b->c", "c->finally"])
    }

    @Test func theFiguresComeFromTheOutputs() throws {
        let outputs: [(NodeID, String)] = [
            ("test[trade]", #"{"counts":{"tests":22,"failures":0},"coverage":96.1,"minimumCoverage":60,"service":"trade","reports":[]}"#),
            ("scan[trade]", #"{"counts":{"HIGH":2,"LOW":5},"digest":"sha256:aa","service":"trade","reports":[]}"#),
            ("sast", #"{"findings":[{"rule":"x"},{"rule":"y"}],"rules":"pipelines/semgrep"}"#),
            ("build[trade]", #"{"digest":"sha256:aa","repository":"127.0.0.1:5000/stockapp/trade","tag":"git-1","service":"trade","reused":false}"#),
            ("sign[trade]", #"{"digest":"sha256:aa","mode":"key","tool":"native","service":"trade"}"#),
            ("attest[trade]", #"{"digest":"sha256:aa","provenance":"sha256:bb","sbom":"sha256:cc","service":"trade"}"#),
            ("deploy", #"{"environment":"dev","images":{"trade":"sha256:aa"},"seconds":4.7,"signaturesVerified":true,"smoke":{}}"#),
        ]
        var record = RunRecord(
            runID: "r", environment: "dev", exitCode: 0,
            result: RunResult(status: .passed, results: [], outputs: Outputs(), encodedOutputs: [:], started: Date(), finished: Date()), paths: nil)
        record.nodes = try outputs.map { id, json in
            RunRecord.Entry(
                id: id, kind: .gate, status: .passed, attempts: 1, duration: 1, cached: false,
                output: try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)))
        }
        let figures = ReportFigures(record)
        #expect(figures.tests.map(\.tests) == [22] && figures.tests.first?.coverage == 96.1)
        #expect(figures.vulnerabilities.first?.bySeverity == ["HIGH": 2, "LOW": 5])
        #expect(figures.findings.map(\.count) == [2])
        #expect(figures.images.count == 1)
        #expect(
            figures.images.first?.reference == "127.0.0.1:5000/stockapp/trade:git-1" && figures.images.first?.signed == "key (native)"
                && figures.images.first?.attested == true)
        #expect(figures.deploys.first?.environment == "dev" && figures.deploys.first?.signaturesVerified == true)
        let html = figures.html
        #expect(html.contains("<td>96.1 %</td>") && html.contains("<td>2</td><td>0</td><td>5</td>"))
    }

    /// A real `swift test` of a package whose one test fails: the run names the test and shows its log lines in the
    /// terminal, in `$GITHUB_STEP_SUMMARY` and in `report.html`, which headless Chromium renders without a console
    /// message (`scripts/check-report.sh`; its screenshot is kept under ``artifacts``).
    @Test(.timeLimit(.minutes(10))) func aFailedTestIsNamedInTheTerminalTheSummaryAndTheReport() async throws {
        let repository = try await Repository()
        for file in ["pipelines/stockops.yml", "pipelines/secret-scan-allowlist.yml"] {
            try repository.write(file, try String(contentsOfFile: Self.packageRoot + "/" + file, encoding: .utf8))
        }
        try repository.write(
            "Package.swift",
            """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "trade",
                targets: [
                    .target(name: "TradeService", path: "services/trade/Sources/TradeService"),
                    .testTarget(name: "TradeServiceTests", dependencies: ["TradeService"], path: "services/trade/Tests/TradeServiceTests"),
                ]
            )

            """)
        try repository.write("services/trade/Sources/TradeService/Total.swift", "public func total(_ prices: [Int]) -> Int { prices.reduce(0, +) }\n")
        try repository.write(
            "services/trade/Tests/TradeServiceTests/TotalTests.swift",
            """
            import Testing
            import TradeService

            @Test func totalIsTheSum() { #expect(total([1, 2]) == 3) }
            @Test func totalOfTwoLots() { #expect(total([2, 2]) == 5, "two lots of 2 cost 5") }

            """)
        _ = try await repository.commit("a failing test")
        let state = temporaryDirectory("failed-run-state")
        let summary = state + "/summary.md"
        var request = RunRequest(
            root: repository.root, environment: .dev,
            processEnvironment: [
                "STOCKOPS_STATE_DIR": state, "GITHUB_STEP_SUMMARY": summary, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            ])
        request.only = ["test[trade]"]
        request.selectAll = true
        let outcome = try await request.run(progress: .discarding)
        #expect(outcome.exitStatus == .gateFailed)

        let terminal = FailureDigest.text(outcome.failed, githubActions: false)
        let name = "TradeServiceTests.totalOfTwoLots()"
        #expect(terminal.contains("✗ test[trade] failed: TradeServiceTests: 1 of 2 tests failed: \(name)"), "\(terminal)")
        #expect(terminal.contains("  │ failed: \(name)"), "the log's last lines are shown: \(terminal)")
        #expect(terminal.contains("(total([2, 2]) → 4) == 5"), "character references are decoded: \(terminal)")
        let markdown = try String(contentsOfFile: summary, encoding: .utf8)
        #expect(markdown.contains("<details><summary><code>test[trade]</code>: TradeServiceTests: 1 of 2 tests failed: \(name)"), "\(markdown)")
        #expect(markdown.contains("failed: \(name)"))
        #expect(markdown.contains("```mermaid\nflowchart LR") && markdown.contains("gantt"))

        let report = try #require(outcome.report)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("<a href=\"#node-test_trade_\">test[trade]</a></h3><p class=\"reason\">TradeServiceTests: 1 of 2 tests failed: \(name)"))
        #expect(html.contains("failed: \(name)"), "the report shows the log's lines")

        let screenshot = Self.artifacts + "/report-failed-run.png"
        let check = try await ProcessRunner().run(
            Command(
                Self.packageRoot + "/scripts/check-report.sh", [(report as NSString).deletingLastPathComponent, screenshot],
                environment: ProcessInfo.processInfo.environment))
        #expect(check.succeeded, "\(check.output)")
        #expect(check.output.contains("1 failed marked; no console message"), "\(check.output)")
        let size = try #require(FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int)
        #expect(size > 50_000, "the screenshot is a rendered page, not a blank one: \(size) bytes")
    }
}
