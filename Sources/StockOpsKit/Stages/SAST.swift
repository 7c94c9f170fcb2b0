import Foundation

/// What `sast` found.
public struct SASTResult: Codable, Sendable, Equatable {
    public var semgrepVersion: String
    public var rules: String
    public var findings: [SemgrepCommand.Finding]
    /// Reports relative to the run directory: SARIF, and semgrep's JSON (what DefectDojo imports).
    public var sarif: String
    public var json: String
}

/// `sast`: semgrep with the repository's own rules (`security.sast.rules`, default `pipelines/semgrep`), offline.
///
/// Any finding fails the node; the node is allow-failure unless `security.sast.blocking` is true.
/// Writes a SARIF report and semgrep's JSON. Rules semgrep rejects fail the node naming the rules path;
/// semgrep failing otherwise is an infrastructure error.
public struct SASTStage: Stage {
    public var config: SASTConfig
    public var semgrep: String

    public init(config: SASTConfig, semgrep: String = "semgrep") {
        self.config = config
        self.semgrep = semgrep
    }

    public func run(_ context: StageContext) async throws -> SASTResult {
        let root = context.paths.root
        let manager = FileManager.default
        guard manager.fileExists(atPath: root + "/" + config.rules) else {
            throw StageFailure.failed("the semgrep rules \(config.rules) do not exist; add them or fix security.sast.rules")
        }
        let targets = config.paths.filter { manager.fileExists(atPath: root + "/" + $0) }
        for missing in config.paths where !targets.contains(missing) {
            context.log.write("warning: \(missing) does not exist; not scanned\n")
        }
        guard !targets.isEmpty else {
            throw StageFailure.failed("none of security.sast.paths (\(config.paths.joined(separator: ", "))) exists; nothing to scan")
        }
        try manager.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let sarif = context.paths.reportsDirectory + "/sast-semgrep.sarif"
        let json = context.paths.reportsDirectory + "/sast-semgrep.json"
        // Best effort: semgrep writes new reports; an old one that cannot be removed is overwritten.
        for path in [sarif, json] { try? manager.removeItem(atPath: path) }

        let tool = SemgrepCommand(executable: semgrep)
        let versionOutput = try await context.runner.run(tool.version()).check("semgrep --version", kind: .infrastructure).output
        try ToolRequirements.requireSupported("semgrep", versionOutput: versionOutput)
        let version = Git.parseLines(versionOutput).first ?? "unknown"
        let result = try await context.run(tool.scan(root: root, rules: config.rules, targets: targets, sarifOutput: sarif, jsonOutput: json))
        if let status = result.exitStatus, SemgrepCommand.configurationExitStatuses.contains(status) {
            try result.check("semgrep, given the rules in \(config.rules) (fix them),", kind: .failed)
        }
        try result.check("semgrep scan", kind: .infrastructure)
        guard let data = manager.contents(atPath: json) else {
            throw StageFailure.infrastructure("semgrep exited 0 but wrote no JSON report at \(json)")
        }
        let report = try SemgrepCommand.parseReport(data)
        for error in report.errors {
            context.log.write("semgrep error: \(error)\n")
        }
        for finding in report.findings {
            context.log.write("finding: \(finding)\n")
        }
        context.log.write(
            "semgrep \(version) with \(config.rules) on \(targets.joined(separator: " ")): \(report.findings.count) findings; reports sast-semgrep.sarif, sast-semgrep.json\n"
        )
        if !report.findings.isEmpty {
            let listed = report.findings.prefix(10).map { "\($0.path):\($0.line) \(Self.shortRule($0.rule))" }.joined(separator: "; ")
            throw StageFailure.failed(
                "semgrep: \(report.findings.count) finding\(report.findings.count == 1 ? "" : "s"): \(listed)\(report.findings.count > 10 ? "; …" : ""). Fix the code, or justify a `// nosemgrep: <rule>` comment on the line"
            )
        }
        return SASTResult(
            semgrepVersion: version, rules: config.rules, findings: report.findings, sarif: "reports/sast-semgrep.sarif", json: "reports/sast-semgrep.json")
    }

    /// The last component of a rule id (semgrep prefixes local rules with their directory).
    static func shortRule(_ id: String) -> String {
        id.split(separator: ".").last.map(String.init) ?? id
    }
}
