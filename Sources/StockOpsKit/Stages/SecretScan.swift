import Foundation

/// What `secret-scan` found: which scanner ran, and every finding without its value.
public struct SecretScanResult: Codable, Sendable, Equatable {
    /// `gitleaks` or `trivy`.
    public var scanner: String
    /// The scanner's version line.
    public var version: String
    /// Findings not accepted by the allowlist (empty when the node passed).
    public var findings: [SecretFinding]
    /// Findings the allowlist accepted.
    public var allowed: [SecretFinding]
    /// The scanner's JSON report, relative to the run directory.
    public var report: String
    /// Git-ignored paths left out of the scan.
    public var skippedPaths: Int
}

/// `secret-scan`: scans the work tree for secrets before anything is tested or built, and blocks the run on a finding.
///
/// gitleaks (`gitleaks dir`, secrets redacted in its report) when it is installed, else trivy's secret
/// scanner (`trivy fs --scanners secret`); `scanner:` forces one. Git-ignored paths (`.build/`,
/// `.stockops/`…) are left out. Findings accepted by the allowlist are reported but do not block.
/// Findings are printed as file, line and rule, never with the matched text.
public struct SecretScanStage: Stage {
    public var config: SecretScanConfig
    public var gitleaks: String
    public var trivy: String

    public init(config: SecretScanConfig, gitleaks: String = "gitleaks", trivy: String = "trivy") {
        self.config = config
        self.gitleaks = gitleaks
        self.trivy = trivy
    }

    /// The scanner that runs with this configuration, given the tools on `PATH`.
    public func scanner(runner: ProcessRunner) throws -> SecretScanConfig.Scanner {
        switch config.scanner {
        case .trivy: return .trivy
        case .gitleaks:
            do {
                _ = try runner.resolve(GitleaksCommand(executable: gitleaks).version())
            } catch {
                throw StageFailure.infrastructure("security.secret-scan.scanner is gitleaks, but \(error.message)")
            }
            return .gitleaks
        case .auto:
            // Auto mode: a gitleaks that cannot run means trivy scans instead, which run() logs.
            return (try? runner.resolve(GitleaksCommand(executable: gitleaks).version())) != nil ? .gitleaks : .trivy
        }
    }

    public func run(_ context: StageContext) async throws -> SecretScanResult {
        let root = context.paths.root
        let allowlist = try loadAllowlist(root: root)
        let scanner = try scanner(runner: context.runner)
        if config.scanner == .auto && scanner == .trivy {
            context.log.write("gitleaks is not installed: scanning with trivy's secret scanner\n")
        }
        let ignored = try await ignoredPaths(root: root, context: context)
        try FileManager.default.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let reportName = "secret-scan-\(scanner.rawValue).json"
        let report = context.paths.reportsDirectory + "/" + reportName
        // Best effort: the scanner writes a new report; an old one that cannot be removed is overwritten.
        try? FileManager.default.removeItem(atPath: report)

        let version: String
        let findings: [SecretFinding]
        switch scanner {
        case .gitleaks:
            let tool = GitleaksCommand(executable: gitleaks)
            version = try await versionLine(tool.version(), of: "gitleaks", context)
            let configuration = context.paths.runDirectory + "/gitleaks-secret-scan.toml"
            try GitleaksCommand.configuration(ignoring: ignored.directories + ignored.files).write(toFile: configuration, atomically: true, encoding: .utf8)
            let result = try await context.run(tool.scanDirectory(root: root, config: configuration, report: report))
            try result.check("gitleaks dir", kind: .infrastructure)
            findings = try GitleaksCommand.parseReport(try reportData(report, scanner: "gitleaks"))
        case .trivy, .auto:
            let tool = TrivyFilesystemCommand(executable: trivy, cacheDirectory: context.paths.runDirectory + "/trivy-cache")
            version = try await versionLine(tool.version(), of: "trivy", context)
            let result = try await context.run(tool.secretScan(root, skipDirectories: [".git"] + ignored.directories, skipFiles: ignored.files, output: report))
            try result.check("trivy fs --scanners secret", kind: .infrastructure)
            findings = try TrivyFilesystemCommand.parseSecrets(try reportData(report, scanner: "trivy"))
        }

        var blocking: [SecretFinding] = []
        var allowed: [SecretFinding] = []
        for finding in findings {
            if let entry = allowlist.entry(accepting: finding) {
                allowed.append(finding)
                context.log.write("allowed: \(finding) — \(entry.reason)\n")
            } else {
                blocking.append(finding)
                context.log.write("secret: \(finding)\n")
            }
        }
        context.log.write(
            "\(scanner.rawValue) (\(version)): \(blocking.count) findings, \(allowed.count) allowed, \(ignored.directories.count + ignored.files.count) git-ignored paths skipped; report \(reportName)\n"
        )
        if !blocking.isEmpty {
            let listed = blocking.prefix(10).map(\.description).joined(separator: "; ") + (blocking.count > 10 ? "; …" : "")
            let accept = config.allowlist.map { "accept it in \($0)" } ?? "accept it in an allowlist (security.secret-scan.allowlist)"
            throw StageFailure.failed(
                "\(blocking.count) secret\(blocking.count == 1 ? "" : "s") in the work tree (\(scanner.rawValue)): \(listed). Remove the secret and rotate it, or, for a false positive, \(accept)"
            )
        }
        return SecretScanResult(
            scanner: scanner.rawValue, version: version, findings: blocking, allowed: allowed,
            report: "reports/" + reportName, skippedPaths: ignored.directories.count + ignored.files.count)
    }

    private func loadAllowlist(root: String) throws -> SecretAllowlist {
        guard let path = config.allowlist else { return SecretAllowlist() }
        do {
            return try SecretAllowlist.load(path: root + "/" + path, displayPath: path)
        } catch {
            throw StageFailure.failed(error.description)
        }
    }

    private func reportData(_ path: String, scanner: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StageFailure.infrastructure("\(scanner) exited 0 but wrote no report at \(path)")
        }
        return data
    }

    /// The first line `tool`'s version command prints; a version older than the tool's minimum is refused.
    private func versionLine(_ command: Command, of tool: String, _ context: StageContext) async throws -> String {
        let result = try await context.runner.run(command).check(command.displayString, kind: .infrastructure)
        try ToolRequirements.requireSupported(tool, versionOutput: result.output)
        return Git.parseLines(result.output).first ?? "unknown version"
    }

    /// Git-ignored directories and files under `root`, relative to it; none when `root` is not a work tree.
    private func ignoredPaths(root: String, context: StageContext) async throws -> (directories: [String], files: [String]) {
        let command = Command("git", ["-C", root, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"])
        let result = try await context.runner.run(command)
        guard result.succeeded else {
            context.log.write("not a git work tree: scanning every file but .git, .build and .stockops\n")
            return ([".build", ".stockops"], [])
        }
        let paths = Git.parseNULSeparated(result.output)
        return (paths.filter { $0.hasSuffix("/") }.map { String($0.dropLast()) }, paths.filter { !$0.hasSuffix("/") })
    }
}
