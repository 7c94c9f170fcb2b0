import Foundation

/// Where reports are printed, and how: colours, TTY, GitHub Actions.
public struct Console: Sendable {
    /// The file descriptor written to.
    public let fd: Int32
    public let isTTY: Bool
    public let colors: Bool
    public let githubActions: Bool

    public init(fd: Int32, environment: RunEnvironment = .process) {
        self.fd = fd
        isTTY = isatty(fd) == 1 && !environment.dumbTerminal
        colors = isTTY && !environment.noColor
        githubActions = environment.isGitHubActions
    }

    public init(fd: Int32, isTTY: Bool, colors: Bool, githubActions: Bool) {
        self.fd = fd
        self.isTTY = isTTY
        self.colors = colors
        self.githubActions = githubActions
    }

    /// Writes `text` with every secret registered in ``SecretMasker/shared`` masked.
    public func write(_ text: String) {
        var text = SecretMasker.shared.mask(text)
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    func paint(_ text: String, _ status: NodeStatus) -> String {
        guard colors else { return text }
        let code =
            switch status {
            case .passed, .cached, .external: "32"
            case .failed, .timedOut: "31"
            case .blocked, .cancelled: "33"
            case .skipped, .wouldRun: "2"
            }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    static func symbol(_ status: NodeStatus) -> String {
        switch status {
        case .passed: "✓"
        case .cached: "≡"
        case .failed, .timedOut: "✗"
        case .blocked: "⊘"
        case .skipped: "-"
        case .cancelled: "!"
        case .wouldRun: "▸"
        case .external: "↧"
        }
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1fs", seconds) : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }

    /// The final table: node, status, duration, reason.
    public func table(_ result: RunResult, plan: Bool = false) -> String {
        let width = max(4, result.results.map(\.id.description.count).max() ?? 4)
        var lines = ["NODE".padding(toLength: width, withPad: " ", startingAt: 0) + "  STATUS      DURATION  NOTE"]
        for item in result.results {
            let status = item.result.status.rawValue + (item.policy.kind == .allowFailure && item.result.status.isFailure ? "*" : "")
            let note = item.result.reason.map { $0.split(separator: "\n").first.map(String.init) ?? "" } ?? ""
            let attempts = item.result.attempts > 1 ? " (\(item.result.attempts) attempts)" : ""
            let line =
                item.id.description.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + paint(status.padding(toLength: 10, withPad: " ", startingAt: 0), item.result.status) + "  "
                + Self.duration(item.result.duration).leftPadded(to: 8) + "  " + note + attempts
            lines.append(line)
        }
        let count = { (status: NodeStatus) in result.results.filter { $0.result.status == status }.count }
        let verdict =
            plan
            ? "plan: \(count(.wouldRun)) would run, \(count(.cached)) cached, \(count(.skipped)) skipped"
            : "run \(result.status.rawValue) in \(Self.duration(result.finished.timeIntervalSince(result.started)))"
        return lines.joined(separator: "\n") + "\n" + verdict + "\n"
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
