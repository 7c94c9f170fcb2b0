import Foundation

/// What `test[<service>]` measured.
public struct TestReport: Codable, Sendable, Equatable {
    public var service: String
    public var counts: TestCounts
    /// Line coverage of the service's sources in percent, when measured.
    public var coverage: Double?
    public var minimumCoverage: Double
    /// The xUnit files written.
    public var reports: [String]
}

/// `test[<service>]`: runs the service's test target (in its SwiftPM package) with coverage, gates on failures and minimum line coverage.
///
/// Variables named in `passEnvironment` (e.g. `STOCKOPS_TEST_DATABASE_URL`) are passed through explicitly.
public struct TestStage: Stage {
    public var service: ServiceConfig
    public var minimumCoverage: Double
    public var swift: String
    public var llvmCov: String
    public var passEnvironment: [String]
    /// SwiftPM's build directory (``StateDirectory/swiftPM(root:environment:deploying:)``); the package's `.build`
    /// when nil.
    public var scratchPath: String?

    public init(
        service: ServiceConfig, minimumCoverage: Double, swift: String = "swift", llvmCov: String = SwiftPM.defaultLLVMCov,
        passEnvironment: [String] = ["STOCKOPS_TEST_DATABASE_URL"], scratchPath: String? = nil
    ) {
        self.scratchPath = scratchPath
        self.service = service
        self.minimumCoverage = minimumCoverage
        self.swift = swift
        self.llvmCov = llvmCov
        self.passEnvironment = passEnvironment
    }

    /// The variable naming the tests' database; a throwaway server is started when it is not set.
    public static let databaseVariable = "STOCKOPS_TEST_DATABASE_URL"

    public func run(_ context: StageContext) async throws -> TestReport {
        var environment = Command.baseEnvironment(adding: passEnvironment)
        guard passEnvironment.contains(Self.databaseVariable), environment[Self.databaseVariable]?.isEmpty ?? true else {
            return try await test(context, environment: environment)
        }
        let database = try await ThrowawayPostgres.start(runner: context.runner, log: context.log)
        environment[Self.databaseVariable] = database.url
        do {
            let report = try await test(context, environment: environment)
            if let problem = await database.stop() { context.log.write("warning: the throwaway PostgreSQL may still run: \(problem)\n") }
            return report
        } catch {
            // A task of its own, so that the server also stops when the run is being cancelled.
            if let problem = await Task(operation: { await database.stop() }).value {
                context.log.write("warning: the throwaway PostgreSQL may still run: \(problem)\n")
            }
            throw error
        }
    }

    private func test(_ context: StageContext, environment: [String: String]) async throws -> TestReport {
        let root = context.paths.root
        let tools = SwiftPM(
            swift: swift, llvmCov: llvmCov, packageDirectory: service.packageDirectory(root: root), scratchPath: scratchPath, environment: environment)
        try FileManager.default.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let xunit = context.paths.reportsDirectory + "/junit-\(service.name).xml"
        let result = try await context.run(tools.test(filter: service.testTarget, xunitOutput: xunit, coverage: true))

        let reports = SwiftPM.xunitFiles(for: xunit).filter { FileManager.default.fileExists(atPath: $0) }
        var junit: [String: String] = [:]
        for path in reports {
            do {
                junit[path] = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw StageFailure.infrastructure("\(path), written by swift test, cannot be read: \(error.localizedDescription)")
            }
        }
        let counts = reports.reduce(TestCounts(tests: 0, failures: 0)) { total, path in total + TestCounts.parse(junit: junit[path] ?? "") }
        context.log.write("\(counts.tests) tests, \(counts.failures) failed\n")
        if !result.succeeded {
            // Only names the failed tests; the stage fails either way, with the exit status when no report can be read.
            let failed = reports.flatMap { TestCounts.failures(junit: junit[$0] ?? "") }
            for name in failed { context.log.write("failed: \(name)\n") }
            let names = failed.isEmpty ? "" : ": " + failed.prefix(5).joined(separator: "; ") + (failed.count > 5 ? "; and \(failed.count - 5) more" : "")
            let detail =
                counts.failures > 0
                ? "\(counts.failures) of \(counts.tests) tests failed\(names)"
                : "swift test exited with \(result.exitStatus.map(String.init) ?? "signal \(result.signal ?? 0)")"
            let reportsNamed = reports.isEmpty ? "the log" : "the log and " + reports.joined(separator: ", ")
            throw StageFailure.failed("\(service.testTarget): \(detail); see \(reportsNamed)")
        }

        if counts.tests == 0 {
            throw StageFailure.failed("no test ran: --filter \(service.testTarget) matched nothing; check services[].test-target in pipelines/stockops.yml")
        }
        let coverage = try await measureCoverage(tools, context)
        if coverage.count == 0 {
            throw StageFailure.failed(
                "no instrumented lines under \(service.paths.joined(separator: ", ")): coverage cannot be measured; check services[].paths")
        }
        context.log.write(
            String(
                format: "line coverage of %@: %.1f%% (%d/%d lines), minimum %.1f%%\n", service.name, coverage.percent, coverage.covered, coverage.count,
                minimumCoverage))
        if coverage.percent < minimumCoverage {
            throw StageFailure.failed(
                String(
                    format: "line coverage of %@ is %.1f%%, below the minimum of %.1f%% (gates.coverage.minimum)", service.name, coverage.percent,
                    minimumCoverage))
        }
        return TestReport(service: service.name, counts: counts, coverage: coverage.percent, minimumCoverage: minimumCoverage, reports: reports)
    }

    /// The JSON path `swift test --show-codecov-path` printed. SwiftPM prints "Another instance of SwiftPM … is
    /// already running …, waiting until that process has finished execution..." without a line break before it when
    /// another build holds the package's lock.
    static func codecovPath(_ output: String) -> String? {
        guard let line = Git.parseLines(output).last(where: { $0.hasSuffix(".json") }) else { return nil }
        let path = line.components(separatedBy: "finished execution...").last ?? line
        return path.trimmingCharacters(in: .whitespaces)
    }

    private func measureCoverage(_ tools: SwiftPM, _ context: StageContext) async throws -> LineCoverage {
        let codecov = try await context.runner.run(tools.showCodecovPath()).check("swift test --show-codecov-path", kind: .infrastructure)
        guard let json = Self.codecovPath(codecov.output) else {
            throw StageFailure.infrastructure("swift test --show-codecov-path printed no path")
        }
        let directory = (json as NSString).deletingLastPathComponent
        let profile = directory + "/default.profdata"
        let binDirectory = (directory as NSString).deletingLastPathComponent
        // A missing or unreadable directory holds no bundle, which fails just below.
        let bundles = ((try? FileManager.default.contentsOfDirectory(atPath: binDirectory)) ?? []).filter { $0.hasSuffix(".xctest") }.sorted()
        guard let bundle = bundles.first else {
            throw StageFailure.infrastructure("no *.xctest in \(binDirectory); the tests did not build")
        }
        var binary = binDirectory + "/" + bundle
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: binary, isDirectory: &isDirectory), isDirectory.boolValue {
            binary += "/Contents/MacOS/" + (bundle as NSString).deletingPathExtension
        }
        var runner = context.runner
        runner.outputLimit = 512 << 20
        let export = try await runner.run(tools.coverageSummary(profile: profile, binary: binary)).check("llvm-cov export", kind: .infrastructure)
        let prefixes = service.paths.map { path in
            let absolute = context.paths.root + "/" + path
            return path.hasSuffix("/") ? absolute + "Sources/" : absolute
        }
        return try LineCoverage.parse(llvmCovExport: Data(export.output.utf8), under: prefixes)
    }
}
