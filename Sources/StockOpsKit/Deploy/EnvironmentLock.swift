import Foundation
import Synchronization

/// Who holds an environment's lock: the JSON record kept in the lock file.
public struct LockHolder: Codable, Sendable, Equatable {
    public var pid: Int32
    public var host: String
    public var user: String
    /// What it is doing: `deploy dev-1a2b3c4`, `rollback v1.2.0`, `maintenance`.
    public var command: String
    public var since: Date
    /// Set by `stockops lock`: the lock stays held after the process ends, until `stockops unlock`.
    public var maintenance: Bool?
    /// Why a maintenance lock was taken.
    public var reason: String?

    public init(
        pid: Int32 = getpid(), host: String = LockHolder.hostName, user: String = LockHolder.userName, command: String, since: Date = Date(),
        maintenance: Bool? = nil, reason: String? = nil
    ) {
        self.pid = pid
        self.host = host
        self.user = user
        self.command = command
        self.since = since
        self.maintenance = maintenance
        self.reason = reason
    }

    public static var hostName: String { ProcessInfo.processInfo.hostName }

    public static var userName: String {
        if let name = getpwuid(geteuid())?.pointee.pw_name { return String(cString: name) }
        return RunEnvironment.process.user ?? "uid \(geteuid())"
    }

    /// Whether the holder's process is known to be gone: it ran on this host and `kill(pid, 0)` finds no such process.
    public var processIsGone: Bool {
        host == Self.hostName && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// A holder whose record could not be read.
    static let unknown = LockHolder(pid: 0, host: "", user: "", command: "", since: Date(timeIntervalSince1970: 0))

    public var summary: String {
        guard pid != 0 else { return "a process whose holder record cannot be read" }
        let time = ISO8601DateFormatter().string(from: since)
        var text = "\(maintenance == true ? "maintenance lock" : command) by \(user) (pid \(pid) on \(host)) since \(time)"
        if let reason, !reason.isEmpty { text += ": \(reason)" }
        return text
    }
}

/// The state of an environment's lock.
public enum LockState: Sendable, Equatable {
    case free
    /// A process holds the lock; `gone` when that process no longer exists on this host (a child it started may
    /// still hold the lock file open).
    case held(LockHolder, gone: Bool)
    /// `stockops lock` holds it until `stockops unlock`.
    case maintenance(LockHolder)
    /// A holder record is left but nobody holds the lock: its process ended without releasing it.
    case stale(LockHolder)

    public var description: String {
        switch self {
        case .free: "free"
        case .held(let holder, let gone):
            "held: \(holder.summary)" + (gone ? " — that process is gone, but the lock file is still held open (by a process it started?)" : "")
        case .maintenance(let holder): "locked for maintenance: \(holder.summary); `stockops unlock` releases it"
        case .stale(let holder): "stale: \(holder.summary) ended without releasing the lock; the next deploy takes it over"
        }
    }
}

/// The lock could not be taken or released.
public struct LockError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Someone else holds it (after waiting, when asked to).
        case busy
        /// The lock file cannot be created or read.
        case io
    }

    public let code: Code
    public let message: String
    public let state: LockState?

    public var description: String { message }
}

/// An environment's exclusive lock: `flock(2)` on `<state>/<env>.lock`, whose content is the JSON ``LockHolder``
/// record of the current holder (empty when free).
///
/// The kernel releases a `flock` when its holder dies, so a crashed deploy never leaves the environment locked; the
/// record it leaves behind is reported as ``LockState/stale(_:)`` and taken over. A maintenance lock
/// (`stockops lock`) is a record with `maintenance: true`: it holds without a process until `stockops unlock`.
public final class EnvironmentLock: Sendable {
    public let path: String
    public let environment: Environment
    /// The holder this lock was taken over from, when it was stale.
    public let tookOverFrom: LockHolder?
    private let fd: Int32

    private init(path: String, environment: Environment, fd: Int32, tookOverFrom: LockHolder?) {
        self.path = path
        self.environment = environment
        self.fd = fd
        self.tookOverFrom = tookOverFrom
    }

    deinit {
        release()
    }

    public static func path(stateDirectory: String, environment: Environment) -> String {
        stateDirectory + "/" + environment.rawValue + ".lock"
    }

    /// Takes the lock for `holder`, waiting up to `wait` for a held one (polling every `poll`); `onWait` is called
    /// once with what it waits for.
    public static func acquire(
        stateDirectory: String, environment: Environment, holder: LockHolder, wait: Duration = .zero, poll: Duration = .milliseconds(100),
        onWait: (@Sendable (LockState) -> Void)? = nil
    ) async throws -> EnvironmentLock {
        let path = path(stateDirectory: stateDirectory, environment: environment)
        let fd = try open(path)
        let deadline = ContinuousClock.now + wait
        var announced = false
        func waitMore(_ state: LockState) async throws {
            guard ContinuousClock.now < deadline else {
                close(fd)
                let waited = wait > .zero ? " after waiting \(wait)" : ""
                throw LockError(
                    code: .busy,
                    message: "the \(environment.rawValue) environment is locked\(waited): \(state.description). Pass --wait SECONDS to wait for it",
                    state: state)
            }
            if !announced {
                announced = true
                onWait?(state)
            }
            do {
                try await Task.sleep(for: min(poll, deadline - ContinuousClock.now))
            } catch {
                close(fd)
                throw error
            }
        }
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                let previous = readHolder(fd)
                if let previous, previous.maintenance == true {
                    flock(fd, LOCK_UN)
                    try await waitMore(.maintenance(previous))
                } else {
                    do {
                        try write(holder, to: fd, path: path)
                    } catch {
                        flock(fd, LOCK_UN)
                        close(fd)
                        throw error
                    }
                    return EnvironmentLock(path: path, environment: environment, fd: fd, tookOverFrom: previous)
                }
            } else {
                try await waitMore(await heldState(fd))
            }
        }
    }

    /// The state of a lock another process holds; its record may lag its `flock` by a moment, so an empty one is read
    /// again for up to 250 ms.
    private static func heldState(_ fd: Int32) async -> LockState {
        for _ in 0..<25 {
            if let holder = readHolder(fd) { return .held(holder, gone: holder.processIsGone) }
            // Sleeping throws only when cancelled; the 25 tries still bound the loop.
            try? await Task.sleep(for: .milliseconds(10))
        }
        return .held(LockHolder.unknown, gone: false)
    }

    /// Releases the lock: clears the record and unlocks. Safe to call twice.
    ///
    /// No `fsync`: the record of a process's lock is only what `status` shows, and one that outlives a machine's crash
    /// is stale and taken over. On a runner busy writing images an `fsync` can take longer than a waiting holder waits.
    public func release() {
        guard released.exchange() == false else { return }
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }

    private let released = ReleaseFlag()

    /// The lock's state, without taking it (a shared `flock` probe).
    public static func inspect(stateDirectory: String, environment: Environment) throws -> LockState {
        let path = path(stateDirectory: stateDirectory, environment: environment)
        guard FileManager.default.fileExists(atPath: path) else { return .free }
        let fd = try open(path)
        defer { close(fd) }
        let record = readHolder(fd)
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            guard let record else { return .free }
            return record.maintenance == true ? .maintenance(record) : .stale(record)
        }
        guard let record else { return .held(LockHolder.unknown, gone: false) }
        return .held(record, gone: record.processIsGone)
    }

    /// `stockops lock`: records a maintenance lock that holds until ``unlockMaintenance(stateDirectory:environment:wait:)``.
    @discardableResult
    public static func lockForMaintenance(
        stateDirectory: String, environment: Environment, holder: LockHolder, wait: Duration, onWait: (@Sendable (LockState) -> Void)? = nil
    ) async throws -> LockHolder? {
        var record = holder
        record.maintenance = true
        let lock = try await acquire(stateDirectory: stateDirectory, environment: environment, holder: record, wait: wait, onWait: onWait)
        let previous = lock.tookOverFrom
        lock.keepRecordAndUnlock()
        return previous
    }

    /// `stockops unlock`: removes a maintenance lock or a stale record. A lock a live process holds is refused.
    public static func unlockMaintenance(stateDirectory: String, environment: Environment) throws -> LockState {
        let path = path(stateDirectory: stateDirectory, environment: environment)
        guard FileManager.default.fileExists(atPath: path) else { return .free }
        let fd = try open(path)
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let state = readHolder(fd).map { LockState.held($0, gone: $0.processIsGone) }
            throw LockError(code: .busy, message: "cannot unlock \(environment.rawValue): \(state?.description ?? "held"); wait for it to finish", state: state)
        }
        defer { flock(fd, LOCK_UN) }
        guard let record = readHolder(fd) else { return .free }
        _ = ftruncate(fd, 0)
        _ = fsync(fd)
        return record.maintenance == true ? .maintenance(record) : .stale(record)
    }

    private func keepRecordAndUnlock() {
        guard released.exchange() == false else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }

    private static func open(_ path: String) throws -> Int32 {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LockError(
                code: .io, message: "cannot create \(directory): \(error.localizedDescription); set STOCKOPS_STATE_DIR to a writable directory", state: nil)
        }
        let fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LockError(
                code: .io, message: "cannot open \(path): \(String(cString: strerror(errno))); set STOCKOPS_STATE_DIR to a writable directory", state: nil)
        }
        return fd
    }

    private static func readHolder(_ fd: Int32) -> LockHolder? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0, info.st_size < 1 << 16 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        // An empty, half-written or foreign record counts as none; the flock, not the record, decides who holds the lock.
        return try? Ledger.decoder.decode(LockHolder.self, from: Data(bytes[0..<count]))
    }

    private static func write(_ holder: LockHolder, to fd: Int32, path: String) throws {
        // Encoding a LockHolder does not fail; if it did, the empty record would only show the holder as unknown.
        let data = (try? Ledger.encoder.encode(holder)) ?? Data()
        guard ftruncate(fd, 0) == 0 else {
            throw LockError(code: .io, message: "cannot write the holder record to \(path): \(String(cString: strerror(errno)))", state: nil)
        }
        let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        // Only a maintenance record is the lock itself and must survive a crash; see release().
        guard written == data.count, holder.maintenance != true || fsync(fd) == 0 else {
            throw LockError(code: .io, message: "cannot write the holder record to \(path): \(String(cString: strerror(errno)))", state: nil)
        }
    }
}

/// A flag set once, from any thread.
private final class ReleaseFlag: Sendable {
    private let value = Mutex(false)

    /// Sets the flag and returns its previous value.
    func exchange() -> Bool {
        value.withLock { old in
            defer { old = true }
            return old
        }
    }
}
