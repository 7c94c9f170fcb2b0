import Foundation
import Synchronization

/// The one runner for every tool: `posix_spawn` of an argv array with an explicit environment, in its own
/// process group, output streamed to a log and captured up to a bound.
///
/// Cancelling the calling task sends SIGTERM to the process group, then SIGKILL after `grace`;
/// `run` returns only once the process has exited and its output is drained.
public struct ProcessRunner: Sendable {
    /// Bytes of output kept in ``ProcessResult/output``.
    public var outputLimit: Int
    /// Time between SIGTERM and SIGKILL on cancellation.
    public var grace: Duration

    public init(outputLimit: Int = 1 << 20, grace: Duration = .seconds(5)) {
        self.outputLimit = outputLimit
        self.grace = grace
    }

    /// Resolves a bare executable name through the command's `PATH`.
    public func resolve(_ command: Command) throws(ProcessError) -> String {
        if command.executable.contains("/") {
            guard access(command.executable, X_OK) == 0 else {
                throw ProcessError(code: .toolMissing, message: "\(command.executable) is not an executable file; install it or fix the path")
            }
            return command.executable
        }
        let path = command.environment["PATH"] ?? RunEnvironment.process.path
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(command.executable)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw ProcessError(code: .toolMissing, message: "\(command.executable) was not found in PATH (\(path)); install it or add it to PATH")
    }

    /// Runs `command` to completion. A non-zero exit is a result, not an error; see ``ProcessResult/check(_:kind:)``.
    ///
    /// - Parameter onSpawn: called with the child's pid (also its process group id) once it is started.
    public func run(_ command: Command, log: NodeLog? = nil, onSpawn: (@Sendable (Int32) -> Void)? = nil) async throws -> ProcessResult {
        try Task.checkCancellation()
        let executable = try resolve(command)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let input = try command.standardInput.map { secret in
            do { return try secret.makeStandardInput() } catch {
                throw ProcessError(code: .spawnFailed, message: "could not create the standard input pipe of \(command.executable): \(error)")
            }
        }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input.fileDescriptor, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let directory = command.workingDirectory {
            guard let addChdir = Self.addChdir else {
                throw ProcessError(code: .spawnFailed, message: "this C library cannot set a child's working directory; run from \(directory)")
            }
            _ = addChdir(&actions, directory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = command.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Pipe creation and spawning are serialized so that no concurrent spawn inherits this pipe
        // before its ends are marked close-on-exec.
        let spawned: Result<(pid_t, Int32), ProcessError> = Self.spawnLock.withLock { _ in
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                return .failure(ProcessError(code: .spawnFailed, message: "could not create a pipe: \(String(cString: strerror(errno)))"))
            }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
            // Nothing else the parent has open (files other threads are writing, other children's
            // pipes) reaches the child.
            _ = Self.addCloseFrom?(&actions, 3)
            var pid: pid_t = 0
            var status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            // A just-written executable stays "busy" while a process forked elsewhere still holds it open.
            var retries = 0
            while status == ETXTBSY && retries < 200 {
                retries += 1
                usleep(10_000)
                status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
            close(fds[1])
            guard status == 0 else {
                close(fds[0])
                return .failure(ProcessError(code: .spawnFailed, message: "could not start \(executable): \(String(cString: strerror(status)))"))
            }
            return .success((pid, fds[0]))
        }
        // The child has its own copy of the pipe; a failed close of the parent's leaks only a descriptor.
        try? input?.close()
        let (pid, readEnd) = try spawned.get()
        onSpawn?(pid)

        let child = ChildProcess(pid: pid)
        let limit = outputLimit
        let grace = grace
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ProcessResult, Never>) in
                let thread = Thread {
                    continuation.resume(returning: Self.drain(pid: pid, readEnd: readEnd, log: log, limit: limit, child: child))
                }
                thread.start()
            }
        } onCancel: {
            child.terminate(grace: grace)
        }
        if Task.isCancelled { throw CancellationError() }
        return result
    }

    private static let spawnLock = Mutex(())

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// `posix_spawn_file_actions_addchdir_np`, looked up at run time (glibc 2.29+).
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift does not import.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    private static func drain(pid: pid_t, readEnd: Int32, log: NodeLog?, limit: Int, child: ChildProcess) -> ProcessResult {
        var captured: [UInt8] = []
        var truncated = false
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            chunk.withUnsafeBufferPointer { log?.write(UnsafeBufferPointer(rebasing: $0[0..<count])) }
            captured.append(contentsOf: chunk[0..<count])
            if captured.count > 2 * limit {
                captured.removeFirst(captured.count - limit)
                truncated = true
            }
        }
        close(readEnd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        child.markExited()
        if captured.count > limit {
            captured.removeFirst(captured.count - limit)
            truncated = true
        }
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return ProcessResult(
            pid: pid,
            exitStatus: signaled ? nil : (status >> 8) & 0xff,
            signal: signaled ? status & 0x7f : nil,
            output: String(decoding: captured, as: UTF8.self),
            truncated: truncated
        )
    }
}

/// Signals a child's process group until it is reaped.
private final class ChildProcess: Sendable {
    let pid: pid_t
    private let exited = Mutex(false)

    init(pid: pid_t) {
        self.pid = pid
    }

    func markExited() {
        exited.withLock { $0 = true }
    }

    func terminate(grace: Duration) {
        exited.withLock { done in
            if !done { _ = kill(-pid, SIGTERM) }
        }
        let nanoseconds = grace.components.seconds * 1_000_000_000 + grace.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
            _ = kill(-pid, SIGKILL)
        }
    }
}
