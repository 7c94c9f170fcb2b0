import Foundation

/// A node that failed, with the end of its log: what a person reads first after a failed run.
public struct FailedNode: Sendable, Equatable {
    public var id: NodeID
    public var reason: String
    public var logPath: String
    /// The last lines of its log, masked.
    public var tail: [String]
}

/// The failed and timed-out nodes of a run, each with its reason, log path and last lines; rendered for the
/// terminal (a `::group::` per node under GitHub Actions) and for the step summary.
public enum FailureDigest {
    public static func collect(_ result: RunResult, paths: RunPaths, lines: Int = 20) -> [FailedNode] {
        result.results.compactMap { item in
            guard item.result.status == .failed || item.result.status == .timedOut else { return nil }
            let path = paths.logPath(for: item.id)
            return FailedNode(id: item.id, reason: item.result.reason ?? item.result.status.rawValue, logPath: path, tail: tail(of: path, lines: lines))
        }
    }

    /// The last `lines` non-empty-ended lines of the log at `path`, masked.
    static func tail(of path: String, lines: Int) -> [String] {
        // A missing log has no lines to show; its path is still printed.
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return Array(all.reversed().drop { $0.isEmpty }.reversed().suffix(lines)).map { SecretMasker.shared.mask($0) }
    }

    /// For the terminal: each node's name, reason and log path, then its last lines (in a collapsible group under
    /// GitHub Actions).
    public static func text(_ failed: [FailedNode], githubActions: Bool) -> String {
        guard !failed.isEmpty else { return "" }
        var text = ""
        for node in failed {
            text += "\n✗ \(node.id) failed: \(node.reason)\n  log: \(node.logPath)\n"
            if node.tail.isEmpty { continue }
            text += githubActions ? "::group::last \(node.tail.count) lines of \(node.id)'s log\n" : "  last \(node.tail.count) lines:\n"
            text += node.tail.map { (githubActions ? "" : "  │ ") + $0 }.joined(separator: "\n") + "\n"
            if githubActions { text += "::endgroup::\n" }
        }
        return text
    }

    /// For `$GITHUB_STEP_SUMMARY`: a collapsible block per failed node.
    public static func markdown(_ failed: [FailedNode]) -> String {
        guard !failed.isEmpty else { return "" }
        var lines = ["#### Failed nodes", ""]
        for node in failed {
            lines += [
                "<details><summary><code>\(escapeHTML(node.id.description))</code>: \(escapeHTML(node.reason.split(separator: "\n").first.map(String.init) ?? ""))</summary>",
                "", "```", node.tail.joined(separator: "\n").replacingOccurrences(of: "```", with: "` ` `"), "```", "", "</details>", "",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
