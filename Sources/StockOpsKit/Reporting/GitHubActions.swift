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

    /// The run as two Mermaid blocks, which GitHub renders in a step summary: the graph with each node coloured by its
    /// status, and a Gantt timeline of the nodes that ran (failed ones marked `crit`).
    public static func diagrams(_ result: RunResult, graph: PipelineGraph) -> String {
        let statuses = Dictionary(result.results.map { ($0.id, $0.result.status) }) { first, _ in first }
        var flow = ["```mermaid", "flowchart LR"]
        for node in graph.nodes {
            let status = statuses[node.id]?.rawValue ?? "not-run"
            flow.append("  \(GraphFormat.identifier(node.id))[\"\(node.id)<br/>\(status)\"]:::\(status.replacingOccurrences(of: "-", with: ""))")
        }
        for node in graph.nodes {
            for dependency in node.dependencies {
                flow.append("  \(GraphFormat.identifier(dependency)) --> \(GraphFormat.identifier(node.id))")
            }
        }
        flow += [
            "  classDef passed fill:#d3f9d8,stroke:#2b8a3e", "  classDef cached fill:#d0ebff,stroke:#1971c2", "  classDef failed fill:#ffe3e3,stroke:#c92a2a",
            "  classDef timedout fill:#ffe3e3,stroke:#c92a2a", "  classDef blocked fill:#fff3bf,stroke:#e67700",
            "  classDef skipped fill:#f1f3f5,stroke:#868e96",
            "  classDef cancelled fill:#f1f3f5,stroke:#495057", "```",
        ]
        var gantt = ["```mermaid", "gantt", "  title Timeline", "  dateFormat x", "  axisFormat %M:%S"]
        for item in result.results {
            guard let started = item.result.started, let finished = item.result.finished else { continue }
            let tag = item.result.status == .failed || item.result.status == .timedOut ? "crit, " : item.result.status == .cached ? "done, " : ""
            let end = max(finished.timeIntervalSince1970, started.timeIntervalSince1970 + 0.001)
            gantt.append(
                "  \(item.id.description.replacingOccurrences(of: ":", with: " ")) : \(tag)\(Int64(started.timeIntervalSince1970 * 1000)), \(Int64(end * 1000))"
            )
        }
        gantt.append("```")
        return (flow + [""] + gantt).joined(separator: "\n") + "\n\n"
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

    /// The files a workflow step appends to, named by the variable that holds their path.
    public enum CommandFile: String, Sendable {
        /// The job summary, Markdown.
        case summary = "GITHUB_STEP_SUMMARY"
        /// The step's outputs, `name=value` lines.
        case output = "GITHUB_OUTPUT"
    }

    /// Appends `text` to the file named by `variable` in `environment` (e.g. `GITHUB_STEP_SUMMARY`), when set.
    public static func append(_ text: String, toFileIn variable: CommandFile, environment: RunEnvironment) throws {
        guard let path = environment.githubFile(variable) else { return }
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
