import Foundation

/// GitHub Actions integration: step summary, step outputs, workflow-command escaping.
public enum GitHubActions {
    /// The Markdown table appended to `$GITHUB_STEP_SUMMARY`.
    public static func summary(_ result: RunResult, title: String) -> String {
        var lines = ["### \(title): \(result.status.rawValue)", "", "| Node | Status | Duration | Cached |", "| --- | --- | --- | --- |"]
        for item in result.results {
            let status = item.result.status.rawValue + (item.result.reason.map { " — " + markdownCell($0) } ?? "")
            lines.append("| `\(item.id)` | \(status) | \(Console.duration(item.result.duration)) | \(item.result.status == .cached ? "yes" : "no") |")
        }
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// `name=value` lines for `$GITHUB_OUTPUT`; multi-line values use a delimiter.
    public static func outputs(_ values: [(String, String)]) -> String {
        values.map { name, value in
            if value.contains("\n") {
                let delimiter = "EOF_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
                return "\(name)<<\(delimiter)\n\(value)\n\(delimiter)\n"
            }
            return "\(name)=\(value)\n"
        }.joined()
    }

    /// Appends `text` to the file named by `variable` in `environment` (e.g. `GITHUB_STEP_SUMMARY`), when set.
    public static func append(_ text: String, toFileIn variable: String, environment: [String: String]) throws {
        guard let path = environment[variable], !path.isEmpty else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StageFailure.infrastructure("cannot write \(variable) file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        Console(fd: fd, isTTY: false, colors: false, githubActions: false).write(text)
    }

    static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }

    private static func markdownCell(_ text: String) -> String {
        (text.split(separator: "\n").first.map(String.init) ?? "").replacingOccurrences(of: "|", with: "\\|")
    }
}
