import Foundation

/// What `sca` found in the resolved dependencies.
public struct SCAResult: Codable, Sendable, Equatable {
    /// One vulnerable dependency.
    public struct Vulnerability: Codable, Sendable, Equatable {
        public var id: String
        public var package: String
        public var installedVersion: String?
        public var fixedVersion: String?
        public var severity: String
        public var title: String
    }

    public var trivyVersion: String
    public var vulnerabilities: [Vulnerability]
    /// Severities that fail the node.
    public var failOn: [String]
    /// Whether the cached DB was used without an update.
    public var databaseUpdateSkipped: Bool
    /// trivy's JSON report, relative to the run directory.
    public var report: String
}

/// `sca`: trivy's vulnerability scan of the `Package.resolved` of every SwiftPM package of the repository.
///
/// The scan needs trivy's vulnerability DB: without one in `security.sca.cache-dir` trivy downloads it, and a
/// download that fails is an infrastructure error (exit 3), never a pass. `--skip-db-update` is passed only
/// when the DB is already cached. Vulnerabilities at a `fail-on` severity fail the node (a gate unless
/// `security.sca.blocking` is false).
public struct SCAStage: Stage {
    public var config: SCAConfig
    /// Severities that fail the node.
    public var failOn: [Severity]
    public var trivy: String
    public var swift: String
    /// The SwiftPM packages whose lock files are scanned, relative to the repository root (`.`, `services`).
    public var packages: [String]

    public init(config: SCAConfig, failOn: [Severity], packages: [String] = ["."], trivy: String = "trivy", swift: String = "swift") {
        self.config = config
        self.packages = packages
        self.failOn = failOn
        self.trivy = trivy
        self.swift = swift
    }

    public func run(_ context: StageContext) async throws -> SCAResult {
        let root = context.paths.root
        let manager = FileManager.default
        // trivy scans every lock file under the directory it is given: give it these alone, each under its package's path.
        let input = context.paths.runDirectory + "/sca-input"
        // Best effort: clears a leftover of an earlier attempt; the copy below fails if one is still in the way.
        try? manager.removeItem(atPath: input)
        for package in packages {
            let directory = ServiceConfig.directory(of: package, root: root)
            let lockFile = directory + "/Package.resolved"
            let named = ServiceConfig.file("Package.resolved", of: package)
            if !manager.fileExists(atPath: lockFile) {
                context.log.write("no \(named): resolving the dependencies first\n")
                try await context.run(Command(swift, ["package", "--package-path", directory, "resolve"])).check("swift package resolve", kind: .infrastructure)
            }
            guard manager.fileExists(atPath: lockFile) else {
                throw StageFailure.failed("\(named) does not exist after `swift package resolve`: the package has no dependencies to scan")
            }
            let copy = package == "." ? input : input + "/" + package
            try manager.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try manager.copyItem(atPath: lockFile, toPath: copy + "/Package.resolved")
        }
        // Best effort: the copy is scratch space in the run directory.
        defer { try? manager.removeItem(atPath: input) }

        try manager.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let report = context.paths.reportsDirectory + "/sca-trivy.json"
        // Best effort: trivy writes a new report; an old one that cannot be removed is overwritten.
        try? manager.removeItem(atPath: report)
        let cache = config.cacheDirectory.hasPrefix("/") ? config.cacheDirectory : root + "/" + config.cacheDirectory
        try manager.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let cached = TrivyFilesystemCommand.hasDatabase(in: cache)
        context.log.write(
            cached
                ? "vulnerability DB found in \(config.cacheDirectory): not updating it\n"
                : "no vulnerability DB in \(config.cacheDirectory): trivy downloads it\n")

        let tool = TrivyFilesystemCommand(executable: trivy, cacheDirectory: cache)
        let version = Git.parseLines(try await context.runner.run(tool.version()).check("trivy --version", kind: .infrastructure).output).first ?? "unknown"
        let ignoreFile = manager.fileExists(atPath: root + "/.trivyignore") ? root + "/.trivyignore" : nil
        let result = try await context.run(
            tool.dependencyScan(input, output: report, skipDatabaseUpdate: cached, databaseRepository: config.databaseRepository, ignoreFile: ignoreFile))
        if !result.succeeded {
            let failure = TrivyFailure.classify(result.output)
            let evidence = Self.essence(failure.evidence)
            switch failure.kind {
            case .databaseDownload, .rateLimited:
                throw StageFailure.infrastructure(
                    "the vulnerability DB is unavailable, so the dependencies were not scanned (trivy: \(evidence)); give the runner access to the DB, set security.sca.db-repository to a mirror, or put a DB in \(config.cacheDirectory)"
                )
            case .imageUnavailable, .other:
                throw StageFailure.infrastructure("trivy fs --scanners vuln failed: \(evidence)")
            }
        }
        guard let data = manager.contents(atPath: report) else {
            throw StageFailure.infrastructure("trivy exited 0 but wrote no report at \(report)")
        }
        let parsed = try TrivyReport.parse(data)
        let vulnerabilities = parsed.findings.filter { $0.kind == .vulnerability }.map {
            SCAResult.Vulnerability(
                id: $0.id, package: $0.package, installedVersion: $0.installedVersion, fixedVersion: $0.fixedVersion, severity: $0.severity.rawValue,
                title: $0.title)
        }
        let failing = vulnerabilities.filter { vulnerability in failOn.contains { $0.rawValue == vulnerability.severity } }
        for vulnerability in vulnerabilities {
            context.log.write(
                "\(vulnerability.severity) \(vulnerability.id) in \(vulnerability.package) \(vulnerability.installedVersion ?? "")\(vulnerability.fixedVersion.map { " (fixed in \($0))" } ?? ""): \(vulnerability.title)\n"
            )
        }
        context.log.write(
            "\(version): \(vulnerabilities.count) vulnerabilities in Package.resolved, \(failing.count) at \(failOn.map(\.rawValue).joined(separator: "/")); report sca-trivy.json\n"
        )
        if !failing.isEmpty {
            let listed = failing.prefix(10).map {
                "\($0.package) \($0.installedVersion ?? "") \($0.id) (\($0.severity)\($0.fixedVersion.map { ", fixed in \($0)" } ?? ""))"
            }.joined(separator: "; ")
            throw StageFailure.failed(
                "\(failing.count) vulnerable dependenc\(failing.count == 1 ? "y" : "ies") at \(failOn.map(\.rawValue).joined(separator: "/")): \(listed)\(failing.count > 10 ? "; …" : ""). Update them (swift package update) or accept them in .trivyignore"
            )
        }
        return SCAResult(
            trivyVersion: version, vulnerabilities: vulnerabilities, failOn: failOn.map(\.rawValue), databaseUpdateSkipped: cached,
            report: "reports/sca-trivy.json")
    }

    /// A trivy log line without its timestamp and level: from the first "failed to" on, at most 200 characters.
    static func essence(_ line: String) -> String {
        let start = line.range(of: "failed to")?.lowerBound ?? line.startIndex
        let text = line[start...].trimmingCharacters(in: .whitespaces)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
