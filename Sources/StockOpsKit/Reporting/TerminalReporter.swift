import Foundation
import Synchronization

/// Reports a run on a TTY: a live line per running node with its elapsed time, a line per finished node.
public final class LiveReporter: RunObserver, Sendable {
    private struct State {
        var running: [(id: NodeID, since: Date)] = []
        var drawnLines = 0
        var stopped = false
    }

    private let console: Console
    private let state = Mutex(State())

    public init(console: Console) {
        self.console = console
    }

    public func nodeStarted(_ id: NodeID, at date: Date) {
        state.withLock { state in
            state.running.append((id, date))
            redraw(&state, finished: nil)
        }
    }

    public func nodeFinished(_ id: NodeID, policy: NodePolicy, result: NodeResult, log: NodeLog?) {
        let symbol = console.paint(Console.symbol(result.status), result.status)
        let line = "\(symbol) \(id) \(result.status.rawValue)" + (result.duration > 0 ? " (\(Console.duration(result.duration)))" : "") + (result.reason.map { " — \($0.split(separator: "\n").first ?? "")" } ?? "")
        state.withLock { state in
            state.running.removeAll { $0.id == id }
            redraw(&state, finished: line)
        }
    }

    /// Redraws the running lines every `interval` until ``stop()``.
    public func start(interval: Duration = .milliseconds(200)) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
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
        for (id, since) in state.running {
            text += "  ⋯ \(id) \(Console.duration(now.timeIntervalSince(since)))\n"
        }
        state.drawnLines = state.running.count
        console.write(text)
    }
}

/// Reports a run without a TTY: each node's output as one block when it finishes, never interleaved;
/// under GitHub Actions wrapped in `::group::` with `::error::` annotations for failures.
public final class BlockReporter: RunObserver, Sendable {
    private let console: Console
    private let lock = Mutex(())

    public init(console: Console) {
        self.console = console
    }

    public func nodeStarted(_ id: NodeID, at date: Date) {}

    public func nodeFinished(_ id: NodeID, policy: NodePolicy, result: NodeResult, log: NodeLog?) {
        let title = "\(Console.symbol(result.status)) \(id) \(result.status.rawValue)" + (result.duration > 0 ? " (\(Console.duration(result.duration)))" : "") + (result.reason.map { " — \($0.split(separator: "\n").first ?? "")" } ?? "")
        let body = log?.contents() ?? ""
        var text: String
        if console.githubActions {
            text = body.isEmpty ? title + "\n" : "::group::\(title)\n\(body)\(body.hasSuffix("\n") ? "" : "\n")::endgroup::\n"
            if result.status.isFailure {
                let level = policy.kind == .allowFailure ? "warning" : "error"
                text += "::\(level) title=\(GitHubActions.escapeProperty("\(id) \(result.status.rawValue)"))::\(GitHubActions.escapeData(result.reason ?? result.status.rawValue))\n"
            }
        } else {
            text = "── " + console.paint(title, result.status) + "\n"
            if !body.isEmpty { text += body + (body.hasSuffix("\n") ? "" : "\n") }
        }
        lock.withLock { _ in console.write(text) }
    }
}
