import Foundation

/// Argv builder for `semgrep scan` with local rules, offline, and a reader of its JSON output. Pure values.
///
/// Metrics and the version check are off (`--metrics=off`, `--disable-version-check`, and the matching
/// variables), so nothing leaves the machine. Findings do not change the exit status (no `--error`):
/// the verdict is taken on the parsed report, so a non-zero exit is semgrep failing.
public struct SemgrepCommand: Sendable, Equatable {
    public var executable: String
    public var environment: [String: String]

    public init(executable: String = "semgrep", environment: [String: String] = Command.baseEnvironment()) {
        self.executable = executable
        var environment = environment
        environment["SEMGREP_SEND_METRICS"] = "off"
        environment["SEMGREP_ENABLE_VERSION_CHECK"] = "0"
        self.environment = environment
    }

    public func version() -> Command {
        Command(executable, ["--version"], environment: environment)
    }

    /// `semgrep scan --config RULES --metrics=off … --sarif-output=F --json-output=F TARGETS`, run in `root`
    /// so paths in the reports are relative to it. In a git work tree semgrep scans tracked and untracked files and
    /// leaves out what git ignores (build directories such as `services/.build`, which hold every dependency's source).
    public func scan(root: String, rules: String, targets: [String], sarifOutput: String, jsonOutput: String) -> Command {
        Command(
            executable,
            [
                "scan", "--config", rules, "--metrics=off", "--disable-version-check", "--quiet",
                "--sarif-output=\(sarifOutput)", "--json-output=\(jsonOutput)", "--",
            ] + targets,
            environment: environment, workingDirectory: root)
    }

    /// Exit statuses semgrep uses for a broken configuration (invalid pattern, unparsable YAML, missing
    /// config, invalid language), as opposed to a failure of semgrep itself.
    public static let configurationExitStatuses: Set<Int32> = [4, 5, 7, 8]

    /// One result of `semgrep scan --json`.
    public struct Finding: Codable, Sendable, Equatable, CustomStringConvertible {
        /// The rule id, such as `pipelines.semgrep.stockops-shell-string-from-input`.
        public var rule: String
        public var path: String
        public var line: Int
        /// `ERROR`, `WARNING` or `INFO`.
        public var severity: String
        public var message: String

        public var description: String { "\(severity) \(path):\(line) \(rule): \(message)" }
    }

    /// What `--json-output` holds: results, and errors semgrep met (a rule it could not read, a file it could not parse).
    public struct Report: Sendable, Equatable {
        public var findings: [Finding]
        public var errors: [String]
    }

    /// Reads semgrep's JSON output (`results[].check_id, path, start.line, extra.severity, extra.message`; `errors[]`).
    public static func parseReport(_ data: Data) throws -> Report {
        struct Raw: Decodable {
            struct Result: Decodable {
                struct Position: Decodable { var line: Int }
                struct Extra: Decodable {
                    var severity: String?
                    var message: String?
                }
                var check_id: String
                var path: String
                var start: Position
                var extra: Extra?
            }
            struct Failure: Decodable {
                var level: String?
                var type: FailureType?
                var message: String?
                var path: String?
            }
            /// `type` is a string or a list whose first element names it.
            struct FailureType: Decodable {
                var name: String
                init(from decoder: any Decoder) throws {
                    let container = try decoder.singleValueContainer()
                    // Not a string means the list form, decoded below.
                    if let text = try? container.decode(String.self) {
                        name = text
                    } else {
                        var list = try decoder.unkeyedContainer()
                        // A list whose first element is not a string still names a failure.
                        name = (try? list.decode(String.self)) ?? "error"
                    }
                }
            }
            var results: [Result]
            var errors: [Failure]?
        }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the semgrep JSON output is not as expected: \(error)")
        }
        let findings = raw.results.map {
            Finding(rule: $0.check_id, path: $0.path, line: $0.start.line, severity: $0.extra?.severity ?? "INFO", message: $0.extra?.message ?? $0.check_id)
        }
        let errors = (raw.errors ?? []).filter { ($0.level ?? "error").lowercased() == "error" }.map { failure in
            [failure.type?.name, failure.path, failure.message.map { String($0.prefix(300)) }].compactMap { $0 }.joined(separator: ": ")
        }
        return Report(findings: findings, errors: errors)
    }
}
