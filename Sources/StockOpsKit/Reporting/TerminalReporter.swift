import Foundation
import Synchronization

/// A node that has started and not finished, with its log (for the tool's progress).
struct RunningNode {
    var id: NodeID
    var since: Date
    var log: NodeLog?

    /// `build[trade] 1m02s — swift build 123/456 (27 %)`.
    func line(now: Date) -> String {
        "\(id) \(Console.duration(now.timeIntervalSince(since)))" + (log?.progress.map { " — " + $0 } ?? "")
    }
}

/// Reports a run on a TTY: a live line per running node with its elapsed time and its tool's progress, a line per
/// finished node.
public final class LiveReporter: RunObserver, Sendable {
    private struct State {
        var running: [RunningNode] = []
        var drawnLines = 0
        var stopped = false
    }

    private let console: Console
    private let state = Mutex(State())

    public init(console: Console) {
        self.console = console
    }

    public func nodeStarted(_ id: NodeID, at date: Date, log: NodeLog?) {
        state.withLock { state in
            state.running.append(RunningNode(id: id, since: date, log: log))
            redraw(&state, finished: nil)
        }
    }

    public func nodeFinished(_ id: NodeID, policy: NodePolicy, result: NodeResult, log: NodeLog?) {
        let symbol = console.paint(Console.symbol(result.status), result.status)
        let line =
            "\(symbol) \(id) \(result.status.rawValue)" + (result.duration > 0 ? " (\(Console.duration(result.duration)))" : "")
            + (result.reason.map { " — \($0.split(separator: "\n").first ?? "")" } ?? "")
        state.withLock { state in
            state.running.removeAll { $0.id == id }
            redraw(&state, finished: line)
        }
    }

    /// Redraws the running lines every `interval` until ``stop()``.
    public func start(interval: Duration = .milliseconds(200)) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                // Task.sleep throws only when cancelled, which ends the loop.
                try? await Task.sleep(for: interval)
                state.withLock { state in
                    if !state.stopped { redraw(&state, finished: nil) }
                }
            }
        }
    }

    /// Clears the live lines.
    public func stop() {
        state.withLock { state in
            state.running = []
            redraw(&state, finished: nil)
            state.stopped = true
        }
    }

    private func redraw(_ state: inout State, finished: String?) {
        guard !state.stopped else { return }
        var text = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)F\u{1B}[J" : ""
        if let finished { text += finished + "\n" }
        let now = Date()
        for node in state.running {
            text += "  ⋯ " + node.line(now: now) + "\n"
        }
        state.drawnLines = state.running.count
        console.write(text)
    }
}

/// Reports a run without a TTY: each node's output as one block when it finishes, never interleaved;
/// under GitHub Actions wrapped in `::group::` with `::error::` annotations for failures. While nodes run,
/// ``start(interval:)`` prints a line per long-running node now and then, with its tool's progress.
public final class BlockReporter: RunObserver, Sendable {
    private let console: Console
    private let running = Mutex<[RunningNode]>([])

    public init(console: Console) {
        self.console = console
    }

    public func nodeStarted(_ id: NodeID, at date: Date, log: NodeLog?) {
        running.withLock { $0.append(RunningNode(id: id, since: date, log: log)) }
    }

    /// Every `interval`, a line for each node that has run at least that long: `⋯ build[trade] 1m30s — swift build
    /// 230/456 (50 %)`. Cancel the task to stop.
    public func start(interval: Duration = .seconds(30)) -> Task<Void, Never> {
        Task { [self] in
            let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            while !Task.isCancelled {
                // Task.sleep throws only when cancelled, which the guard below handles.
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                progressLines(olderThan: seconds)
            }
        }
    }

    /// Prints the progress line of every node running for `seconds` or more.
    func progressLines(olderThan seconds: Double, now: Date = Date()) {
        running.withLock { running in
            let lines = running.filter { now.timeIntervalSince($0.since) >= seconds }.map { "⋯ " + $0.line(now: now) + "\n" }
            if !lines.isEmpty { console.write(lines.joined()) }
        }
    }

    public func nodeFinished(_ id: NodeID, policy: NodePolicy, result: NodeResult, log: NodeLog?) {
        let title =
            "\(Console.symbol(result.status)) \(id) \(result.status.rawValue)" + (result.duration > 0 ? " (\(Console.duration(result.duration)))" : "")
            + (result.reason.map { " — \($0.split(separator: "\n").first ?? "")" } ?? "")
        let body = log?.contents() ?? ""
        var text: String
        if console.githubActions {
            text = body.isEmpty ? title + "\n" : "::group::\(title)\n\(body)\(body.hasSuffix("\n") ? "" : "\n")::endgroup::\n"
            if result.status.isFailure {
                let level = policy.kind == .allowFailure ? "warning" : "error"
                text +=
                    "::\(level) title=\(GitHubActions.escapeProperty("\(id) \(result.status.rawValue)"))::\(GitHubActions.escapeData(result.reason ?? result.status.rawValue))\n"
            }
        } else {
            text = "── " + console.paint(title, result.status) + "\n"
            if !body.isEmpty { text += body + (body.hasSuffix("\n") ? "" : "\n") }
        }
        running.withLock { running in
            running.removeAll { $0.id == id }
            console.write(text)
        }
    }
}
