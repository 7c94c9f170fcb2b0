import Foundation
import Synchronization

@testable import StockOpsKit

/// A stage running a closure, recording when it ran.
struct Probe: Stage {
    var dependencies: [NodeID] = []
    var body: @Sendable (StageContext) async throws -> Void = { _ in }

    func run(_ context: StageContext) async throws -> Done {
        try await body(context)
        return Done()
    }
}

/// A stage producing a value, for typed-output tests.
struct Produce: Stage {
    var dependencies: [NodeID] = []
    var value: @Sendable () -> Int

    func run(_ context: StageContext) async throws -> Int { value() }
}

/// A stage reading an `Int` dependency and adding one.
struct AddOne: Stage {
    var input: StageRef<Int>
    var dependencies: [NodeID] { [input.id] }

    func run(_ context: StageContext) async throws -> Int {
        try context.value(input) + 1
    }
}

/// Thread-safe recorder of events.
final class Recorder<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])

    func append(_ value: Value) {
        storage.withLock { $0.append(value) }
    }

    var values: [Value] { storage.withLock { $0 } }
}

/// The directories ``temporaryDirectory(_:)`` made, removed when the test process exits.
private let temporaryDirectories = Mutex<[String]>([])
private let removeTemporaryDirectoriesAtExit: Void = {
    atexit {
        for path in temporaryDirectories.withLock({ $0 }) {
            // Best effort at exit: a directory a test already removed is not an error.
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}()

/// A fresh temporary directory, removed when the test process exits (a test may remove it earlier).
func temporaryDirectory(_ name: String = #function) -> String {
    _ = removeTemporaryDirectoriesAtExit
    let path = NSTemporaryDirectory() + "/stockops-tests-" + String(name.filter { $0.isLetter }.prefix(30)) + "-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    temporaryDirectories.withLock { $0.append(path) }
    return path
}

func scheduler(
    jobs: Int = 4, root: String? = nil, cache: OutputCache? = nil, approvals: Set<NodeID> = [], exclusions: [NodeID: String] = [:],
    mode: Scheduler.Mode = .execute
) -> Scheduler {
    let root = root ?? temporaryDirectory()
    return Scheduler(
        jobs: jobs, mode: mode, runner: ProcessRunner(grace: .seconds(2)), paths: RunPaths(root: root, runDirectory: root + "/.stockops/runs/test"),
        approvals: approvals, exclusions: exclusions, cache: cache)
}

extension ContinuousClock.Instant {
    var secondsSinceNow: Double {
        let elapsed = ContinuousClock.now - self
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// A failure of a test fixture (a server that would not start, a tool that failed), with what went wrong.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A loopback TCP port nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    try LoopbackPort.free()
}

/// A loopback port held bound but not listening until ``close()``: a connection to it is refused, and no server of a
/// concurrent test is given it meanwhile, as one can be given the port ``freeLoopbackPort()`` returned.
struct RefusingLoopbackPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        (descriptor, port) = try LoopbackPort.boundSocket()
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}

/// The port a fixture server prints as its first line, read on a thread of its own so the wait holds
/// no cooperative thread; nil when the server ends or prints something else.
func firstLinePort(of output: Pipe) async -> Int? {
    let line = await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                guard !chunk.isEmpty else { break }
                line.append(chunk)
            }
            continuation.resume(returning: line)
        }
    }
    return Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// A console writing to a file of its own, read back with ``text``.
final class CapturedConsole: @unchecked Sendable {
    let console: Console
    private let path: String
    private let fd: Int32

    init(_ name: String = #function) {
        path = temporaryDirectory(name) + "/out"
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        console = Console(fd: fd, isTTY: false, colors: false, githubActions: false)
    }

    deinit { close(fd) }

    /// Everything written so far.
    var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}

/// What an operation returned, or the error it ended with.
func attempt<Value>(_ operation: () async throws(StockOpsError) -> Value) async -> Result<Value, StockOpsError> {
    do {
        return .success(try await operation())
    } catch {
        return .failure(error)
    }
}

extension Result where Failure == StockOpsError {
    /// What the operation returned; nil when it failed.
    var value: Success? { try? get() }

    /// The error it ended with; nil when it returned.
    var failure: StockOpsError? {
        guard case .failure(let error) = self else { return nil }
        return error
    }

    /// The error's message; empty when the operation returned.
    var message: String {
        guard case .failure(let error) = self else { return "" }
        return error.message
    }
}

extension Result where Failure == StockOpsError, Success: CommandOutcome {
    /// The status the command ends with: the outcome's, or its error's.
    var exitStatus: ExitStatus {
        switch self {
        case .success(let outcome): outcome.exitStatus
        case .failure(let error): error.exitStatus
        }
    }
}

extension Console {
    /// A console whose writes go nowhere, for progress a test does not read.
    static let discarding = Console(fd: open("/dev/null", O_WRONLY | O_CLOEXEC), isTTY: false, colors: false, githubActions: false)
}

extension RunRequest {
    /// `run`, its progress written to `progress`, or the error it refused with.
    func attemptRun(progress: Console = .discarding) async -> Result<RunOutcome, StockOpsError> {
        await attempt { () async throws(StockOpsError) in try await run(progress: progress) }
    }

    /// `plan`, or the error it refused with.
    func attemptPlan() async -> Result<PlanOutcome, StockOpsError> {
        await attempt { () async throws(StockOpsError) in try await plan() }
    }
}

/// A `stockops rollback` as its command ends: the exit status and the error it prints, whether the request was refused
/// before acting or the rollback failed.
struct RollbackAttempt {
    var exitStatus: ExitStatus
    /// The error's message; empty after a rollback that passed.
    var message: String
    var outcome: RollbackOutcome?
}

extension RollbackRequest {
    func attempt(progress: @escaping @Sendable (String) -> Void = { _ in }) async -> RollbackAttempt {
        do {
            let outcome = try await perform(progress: progress)
            guard case .failure(let failure) = outcome.result else { return RollbackAttempt(exitStatus: .success, message: "", outcome: outcome) }
            return RollbackAttempt(exitStatus: outcome.exitStatus, message: failure.message, outcome: outcome)
        } catch {
            return RollbackAttempt(exitStatus: error.exitStatus, message: error.message)
        }
    }
}
