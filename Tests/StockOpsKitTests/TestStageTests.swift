import Foundation
import Testing

@testable import StockOpsKit

/// Fake `swift` and `llvm-cov` executables writing canned reports.
struct FakeToolchain {
    let root: String
    let swift: String
    let llvmCov: String

    init(failures: Int, coveredLines: Int, testCases: Int = 2, instrumentedLines: Int = 100) throws {
        root = temporaryDirectory("toolchain")
        let bin = root + "/.build/debug"
        try FileManager.default.createDirectory(atPath: bin + "/codecov", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: bin + "/stockopsPackageTests.xctest", contents: Data())
        let failure = failures > 0 ? "<failure message=\"boom\"/>" : ""
        let cases = testCases > 0 ? "<testcase name=\"a\"></testcase><testcase name=\"b\">\(failure)</testcase>" : ""
        swift = root + "/swift"
        try Self.script(
            swift,
            """
            #!/bin/sh
            case "$*" in
              *--show-codecov-path*) echo "\(bin)/codecov/stockops.json"; exit 0 ;;
              *--version*) echo "Swift version 6.3.1-fake"; exit 0 ;;
            esac
            out=""
            while [ $# -gt 0 ]; do
              if [ "$1" = "--xunit-output" ]; then out="$2"; fi
              shift
            done
            echo "database: ${STOCKOPS_TEST_DATABASE_URL:-unset}"
            printf '<testsuites><testsuite>\(cases)</testsuite></testsuites>' > "$out"
            exit \(failures > 0 ? 1 : 0)
            """)
        llvmCov = root + "/llvm-cov"
        try Self.script(
            llvmCov,
            """
            #!/bin/sh
            cat <<'JSON'
            {"data":[{"files":[
              {"filename":"\(root)/services/trade/Sources/TradeService/Order.swift","summary":{"lines":{"count":\(instrumentedLines),"covered":\(coveredLines)}}},
              {"filename":"\(root)/Sources/ServiceKit/Server.swift","summary":{"lines":{"count":100,"covered":0}}}
            ]}]}
            JSON
            """)
    }

    static func script(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    func run(minimumCoverage: Double) async throws -> TestReport {
        let service = ServiceConfig(
            name: "trade", paths: ["services/trade/"], product: "trade", testTarget: "TradeServiceTests", healthPath: "/health", ports: [:])
        let stage = TestStage(service: service, minimumCoverage: minimumCoverage, swift: swift, llvmCov: llvmCov)
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/r")
        return try await stage.run(
            StageContext(
                node: NodeID("test", key: "trade"), log: NodeLog(path: paths.logPath(for: NodeID("test", key: "trade"))), runner: ProcessRunner(), paths: paths)
        )
    }
}

@Suite struct TestStageTests {
    @Test func passingTestsWithEnoughCoverage() async throws {
        let toolchain = try FakeToolchain(failures: 0, coveredLines: 75)
        let report = try await toolchain.run(minimumCoverage: 60)
        #expect(report.counts == TestCounts(tests: 2, failures: 0))
        #expect(report.coverage == 75)
        #expect(report.reports == [toolchain.root + "/.stockops/runs/r/reports/junit-trade.xml"])
    }

    @Test func failingTestsFailTheGate() async throws {
        let toolchain = try FakeToolchain(failures: 1, coveredLines: 75)
        await #expect {
            try await toolchain.run(minimumCoverage: 60)
        } throws: { error in
            guard let failure = error as? StageFailure else { return false }
            return failure.kind == .failed && failure.message.contains("1 of 2 tests failed")
        }
    }

    @Test func lowCoverageFailsTheGate() async throws {
        let toolchain = try FakeToolchain(failures: 0, coveredLines: 40)
        await #expect {
            try await toolchain.run(minimumCoverage: 60)
        } throws: { error in
            "\(error)".contains("line coverage of trade is 40.0%, below the minimum of 60.0%")
        }
    }

    @Test func aRunWithoutTestsFailsTheGate() async throws {
        let toolchain = try FakeToolchain(failures: 0, coveredLines: 0, testCases: 0)
        await #expect {
            try await toolchain.run(minimumCoverage: 0)
        } throws: { error in
            "\(error)".contains("no test ran: --filter TradeServiceTests matched nothing")
        }
    }

    @Test func sourcesWithoutInstrumentedLinesFailTheGate() async throws {
        let toolchain = try FakeToolchain(failures: 0, coveredLines: 0, instrumentedLines: 0)
        await #expect {
            try await toolchain.run(minimumCoverage: 0)
        } throws: { error in
            "\(error)".contains("coverage cannot be measured")
        }
    }
}
