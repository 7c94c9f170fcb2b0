import Foundation
import Synchronization

/// The outputs produced so far in a run, read through typed ``StageRef`` handles.
public struct Outputs: Sendable {
    var values: [NodeID: any Sendable] = [:]
    /// The nodes settled so far, with their policy kind and result.
    public internal(set) var settled: [NodeID: (kind: NodePolicy.Kind, result: NodeResult)] = [:]

    public init() {}

    /// The output of `ref`, or ``OutputUnavailable`` when that node has not produced one.
    public func value<O>(_ ref: StageRef<O>) throws(OutputUnavailable) -> O {
        guard let value = values[ref.id] as? O else { throw OutputUnavailable(node: ref.id) }
        return value
    }

    public subscript<O>(_ ref: StageRef<O>) -> O? {
        values[ref.id] as? O
    }

    /// Only what `nodes` produced: a node's condition sees its declared dependencies and nothing else, so a node run on
    /// its own (`--only`, one job per node) finds everything it reads among the outputs it was given.
    func restricted(to nodes: [NodeID]) -> Outputs {
        let kept = Set(nodes)
        var restricted = Outputs()
        restricted.values = values.filter { kept.contains($0.key) }
        restricted.settled = settled.filter { kept.contains($0.key) }
        return restricted
    }
}

/// A dependency's output was read but that node did not produce one (it failed, was skipped, or this is a plan).
public struct OutputUnavailable: Error, Sendable, CustomStringConvertible {
    public let node: NodeID
    public var description: String { "the output of \(node) is not available" }
}

/// Where a run keeps its record, logs and reports.
public struct RunPaths: Sendable {
    /// The repository (working) directory stages run in.
    public let root: String
    /// `.stockops/runs/<run-id>`.
    public let runDirectory: String

    public init(root: String, runDirectory: String) {
        self.root = root
        self.runDirectory = runDirectory
    }

    public var logsDirectory: String { runDirectory + "/logs" }
    public var reportsDirectory: String { runDirectory + "/reports" }

    public func logPath(for id: NodeID) -> String { logsDirectory + "/" + id.fileName + ".log" }
}

/// What a stage sees while it runs.
public struct StageContext: Sendable {
    /// The node being run.
    public let node: NodeID
    /// 1 for the first attempt, incremented on each retry.
    public let attempt: Int
    /// The node's log; process output is streamed here.
    public let log: NodeLog
    /// The one process runner for every tool.
    public let runner: ProcessRunner
    /// Repository root, run directory, reports directory.
    public let paths: RunPaths
    let outputs: Outputs
    let dependencies: Set<NodeID>

    public init(
        node: NodeID, attempt: Int = 1, log: NodeLog, runner: ProcessRunner, paths: RunPaths, outputs: Outputs = Outputs(), dependencies: Set<NodeID> = []
    ) {
        self.node = node
        self.attempt = attempt
        self.log = log
        self.runner = runner
        self.paths = paths
        self.outputs = outputs
        self.dependencies = dependencies
    }

    /// The nodes settled when this node started, for `finally` nodes reporting on the run.
    public var settled: [NodeID: (kind: NodePolicy.Kind, result: NodeResult)] { outputs.settled }

    /// The output of a dependency. Reading a node that is not a declared dependency is an error.
    public func value<O>(_ ref: StageRef<O>) throws -> O {
        guard dependencies.contains(ref.id) else {
            throw StageFailure.failed("\(node) reads \(ref.id), which is not one of its dependencies")
        }
        return try outputs.value(ref)
    }

    /// Runs a tool with output streamed to this node's log.
    public func run(_ command: Command) async throws -> ProcessResult {
        log.write("$ \(command.displayString)\n")
        return try await runner.run(command, log: log)
    }
}

/// An append-only log file of one node. Safe to write from any thread.
///
/// Everything written passes through ``SecretMasker/shared``: text is held until its line is complete
/// (or the pending text grows past 64 KiB), so a secret split across writes is still masked.
public final class NodeLog: Sendable {
    /// Where the log is written; `nil` when it is discarded.
    public let path: String?
    private let fd: Int32
    /// Whether `fd` is this log's own (closed with it) or a descriptor it only writes to.
    private let ownsDescriptor: Bool
    /// Written before every line, when not empty.
    private let linePrefix: [UInt8]
    private let atLineStart = Mutex(true)
    private let pending = Mutex<[UInt8]>([])
    private static let pendingLimit = 1 << 16
    private let toolProgress = Mutex(ToolProgress())

    /// How far the tool writing to this log has got, when it says (``ToolProgress``).
    public var progress: String? { toolProgress.withLock { $0.latest } }

    /// A log that writes to `fd` (such as standard output), which it never closes, with `prefix` before every line.
    public init(forwardingTo fd: Int32, prefix: String = "") {
        path = nil
        self.fd = fd
        ownsDescriptor = false
        linePrefix = Array(prefix.utf8)
    }

    /// Opens (creating or truncating) the log at `path`, or a discarding log when `path` is nil.
    public init(path: String?) {
        self.path = path
        if let path {
            let directory = (path as NSString).deletingLastPathComponent
            // A directory that cannot be made fails the open below, and fd -1 makes this a log that discards its lines.
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        } else {
            fd = -1
        }
        ownsDescriptor = true
        linePrefix = []
    }

    deinit {
        flush()
        if fd >= 0, ownsDescriptor { close(fd) }
    }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write($0) }
    }

    /// Appends `bytes`; complete lines are masked and written at once. A line longer than 64 KiB is written in
    /// pieces, each cut keeping back the bytes a registered value could still straddle.
    public func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard fd >= 0, !bytes.isEmpty else { return }
        pending.withLock { pending in
            pending.append(contentsOf: bytes)
            if let newline = pending.lastIndex(of: UInt8(ascii: "\n")) {
                emit(&pending, upTo: newline + 1)
            } else if pending.count > Self.pendingLimit {
                emit(&pending, upTo: pending.count - max(SecretMasker.shared.longestValue - 1, 0))
            }
        }
    }

    /// Writes any incomplete last line.
    public func flush() {
        pending.withLock { pending in
            emit(&pending, upTo: pending.count)
        }
    }

    /// Masks and writes the start of `pending` (at least `limit` bytes, more when a value runs past it) and removes
    /// what it wrote.
    private func emit(_ pending: inout [UInt8], upTo limit: Int) {
        guard limit > 0 else { return }
        let (masked, consumed) = pending.withUnsafeBufferPointer { SecretMasker.shared.mask($0, upTo: limit) }
        if let masked {
            masked.withUnsafeBufferPointer { writeAll($0) }
        } else {
            pending.withUnsafeBufferPointer { writeAll(UnsafeBufferPointer(rebasing: $0[..<consumed])) }
        }
        pending.removeFirst(consumed)
    }

    private func writeAll(_ buffer: UnsafeBufferPointer<UInt8>) {
        noteProgress(buffer)
        guard !linePrefix.isEmpty else { return writeRaw(buffer) }
        atLineStart.withLock { atLineStart in
            var start = 0
            while start < buffer.count {
                if atLineStart { linePrefix.withUnsafeBufferPointer { writeRaw($0) } }
                let end = buffer[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? buffer.count
                writeRaw(UnsafeBufferPointer(rebasing: buffer[start..<end]))
                atLineStart = buffer[end - 1] == UInt8(ascii: "\n")
                start = end
            }
        }
    }

    /// Feeds the lines that can carry progress (they start with `[`, `#` or a hexadecimal layer id) to ``ToolProgress``.
    private func noteProgress(_ buffer: UnsafeBufferPointer<UInt8>) {
        var candidates: [Substring] = []
        var start = 0
        while start < buffer.count {
            let end = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) ?? buffer.count
            let first = buffer[start]
            if end > start, first == UInt8(ascii: "[") || first == UInt8(ascii: "#") || (end - start > 13 && buffer[start + 12] == UInt8(ascii: ":")) {
                candidates.append(Substring(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self))
            }
            start = end + 1
        }
        guard !candidates.isEmpty else { return }
        toolProgress.withLock { progress in
            for line in candidates { progress.consume(line) }
        }
    }

    private func writeRaw(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = Foundation.write(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            remaining -= written
            base += written
        }
    }

    /// The log's content, for printing as one block.
    public func contents() -> String {
        flush()
        guard let path, let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
