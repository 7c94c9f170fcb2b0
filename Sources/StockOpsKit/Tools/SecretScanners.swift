import Foundation

/// Argv builder for gitleaks (v8.19 or later) and a reader of its JSON report. Pure values.
///
/// Flags as `gitleaks` v8 declares them in `cmd/root.go` (`--config`, `--report-format`, `--report-path`,
/// `--redact`, `--exit-code`, `--no-banner`) and `cmd/directory.go` (`dir [flags] [path]`, one path).
public struct GitleaksCommand: Sendable, Equatable {
    public var executable: String
    public var environment: [String: String]

    public init(executable: String = "gitleaks", environment: [String: String] = Command.baseEnvironment()) {
        self.executable = executable
        self.environment = environment
    }

    /// `gitleaks version`.
    public func version() -> Command {
        Command(executable, ["version"], environment: environment)
    }

    /// `gitleaks dir .` run in `root`, so reported files are relative to it. Secrets are redacted in the
    /// report; findings never change the exit status (`--exit-code 0`), so a non-zero exit is gitleaks failing.
    public func scanDirectory(root: String, config: String, report: String) -> Command {
        Command(
            executable,
            ["dir", "--config", config, "--report-format", "json", "--report-path", report, "--redact", "--exit-code", "0", "--no-banner", "."],
            environment: environment, workingDirectory: root)
    }

    /// A gitleaks configuration extending the default rules that leaves out `paths` (git-ignored
    /// directories and files, relative to the scanned root).
    public static func configuration(ignoring paths: [String]) -> String {
        var text = "# Written by stockops secret-scan: the default rules, without git-ignored paths.\n[extend]\nuseDefault = true\n"
        guard !paths.isEmpty else { return text }
        text += "\n[allowlist]\ndescription = \"git-ignored paths\"\npaths = [\n"
        for path in paths {
            let escaped = NSRegularExpression.escapedPattern(for: path.hasSuffix("/") ? String(path.dropLast()) : path)
            text += "  '''^\(escaped)(/|$)''',\n"
        }
        return text + "]\n"
    }

    /// The findings of a gitleaks JSON report: an array of objects with `RuleID`, `File`, `StartLine`, `Description`.
    /// `Secret`, `Match` and every other field holding text of the file are never read.
    public static func parseReport(_ data: Data) throws -> [SecretFinding] {
        struct Raw: Decodable {
            var RuleID: String
            var File: String
            var StartLine: Int?
            var Description: String?
        }
        let raw: [Raw]
        do {
            raw = try JSONDecoder().decode([Raw].self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the gitleaks report is not a JSON array of findings: \(error)")
        }
        return raw.map {
            SecretFinding(rule: $0.RuleID, file: SecretFinding.relative($0.File), line: $0.StartLine, title: $0.Description ?? $0.RuleID, severity: nil)
        }
    }
}

/// Argv builders for the filesystem scans of trivy used by `secret-scan` and `sca`. Pure values.
///
/// Like ``TrivyCommand``, scans exit 0 on findings (`--exit-code 0`): the verdict is taken on the parsed report.
public struct TrivyFilesystemCommand: Sendable, Equatable {
    public var executable: String
    public var cacheDirectory: String
    public var environment: [String: String]

    public init(executable: String = "trivy", cacheDirectory: String, environment: [String: String] = Command.baseEnvironment()) {
        self.executable = executable
        self.cacheDirectory = cacheDirectory
        self.environment = environment
    }

    public func version() -> Command {
        Command(executable, ["--version"], environment: environment)
    }

    /// `trivy fs --scanners secret` of a work tree, every severity, leaving out `skipDirectories` and
    /// `skipFiles` (relative to `directory`, matched literally: ``literalSkipPattern(_:)``). Paths in the report
    /// are relative to `directory`.
    public func secretScan(_ directory: String, skipDirectories: [String], skipFiles: [String], output: String) -> Command {
        var arguments = ["fs", "--scanners", "secret", "--format", "json", "--output", output, "--exit-code", "0", "--cache-dir", cacheDirectory]
        for path in skipDirectories { arguments += ["--skip-dirs", Self.literalSkipPattern(path)] }
        for path in skipFiles { arguments += ["--skip-files", Self.literalSkipPattern(path)] }
        return Command(executable, arguments + [directory], environment: environment)
    }

    /// A `--skip-dirs`/`--skip-files` value that matches `path` and nothing else. trivy matches these values as
    /// doublestar globs (`SkipPath` in `pkg/fanal/utils/utils.go`: `doublestar.Match`), so `\ * ? [ ] { }` are
    /// escaped with a backslash; and the flags are comma-separated lists (pflag `StringSlice`, read as CSV), so a
    /// value holding a comma, a double quote or a line break is quoted, its quotes doubled.
    public static func literalSkipPattern(_ path: String) -> String {
        var pattern = ""
        for character in path {
            if "\\*?[]{}".contains(character) { pattern.append("\\") }
            pattern.append(character)
        }
        guard pattern.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return pattern }
        return "\"" + pattern.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `trivy fs --scanners vuln` of a directory holding lock files (`Package.resolved`), every severity.
    /// `--skip-db-update` only when the DB is already in the cache; `--db-repository` to use a mirror;
    /// `--ignorefile` for accepted vulnerabilities.
    public func dependencyScan(_ directory: String, output: String, skipDatabaseUpdate: Bool, databaseRepository: String?, ignoreFile: String? = nil) -> Command
    {
        var arguments = ["fs", "--scanners", "vuln", "--format", "json", "--output", output, "--exit-code", "0", "--cache-dir", cacheDirectory]
        if skipDatabaseUpdate { arguments.append("--skip-db-update") }
        if let databaseRepository { arguments += ["--db-repository", databaseRepository] }
        if let ignoreFile { arguments += ["--ignorefile", ignoreFile] }
        return Command(executable, arguments + [directory], environment: environment)
    }

    /// Whether trivy's vulnerability DB is in `cacheDirectory` (`db/trivy.db` and `db/metadata.json`).
    public static func hasDatabase(in cacheDirectory: String) -> Bool {
        let manager = FileManager.default
        return manager.fileExists(atPath: cacheDirectory + "/db/trivy.db") && manager.fileExists(atPath: cacheDirectory + "/db/metadata.json")
    }

    /// The secret findings of a trivy JSON report; the matched text is never read.
    public static func parseSecrets(_ data: Data) throws -> [SecretFinding] {
        try TrivyReport.parse(data).findings.filter { $0.kind == .secret }.map {
            SecretFinding(rule: $0.id, file: SecretFinding.relative($0.target), line: $0.line, title: $0.title, severity: $0.severity.rawValue)
        }
    }
}

/// One secret found in the work tree: where and which rule, never the value.
public struct SecretFinding: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The rule that matched, such as `aws-access-key-id`.
    public var rule: String
    /// The file, relative to the scanned root.
    public var file: String
    public var line: Int?
    public var title: String
    /// `CRITICAL`, `HIGH`… when the scanner grades findings.
    public var severity: String?

    public init(rule: String, file: String, line: Int?, title: String, severity: String?) {
        self.rule = rule
        self.file = file
        self.line = line
        self.title = title
        self.severity = severity
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(rule) (\(title))" + (severity.map { ", \($0)" } ?? "")
    }

    /// A reported path without a leading `./`.
    static func relative(_ path: String) -> String {
        path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }
}
