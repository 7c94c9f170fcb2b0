import CEpoll
import Glibc
import Synchronization

/// Tells waiting tasks when a socket can be read or written, from one thread blocked in `epoll_wait`
/// for the whole process. A query sends its statement on the caller's thread and suspends until the
/// server's answer arrives, so no thread is blocked per query and one wake-up serves every socket that
/// became ready at once.
final class SocketReadiness: Sendable {
    /// What a waiter waits for.
    enum Interest: Sendable {
        case readable
        /// Readable or writable: libpq's `PQflush` asks for either, as the server may answer while we still send.
        case readableOrWritable

        var events: UInt32 {
            switch self {
            case .readable: EPOLLIN.rawValue | EPOLLONESHOT.rawValue
            case .readableOrWritable: EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLONESHOT.rawValue
            }
        }
    }

    /// The process's one instance; its thread starts on first use.
    static let shared = SocketReadiness()

    private let epoll: Int32
    private let waiters = Mutex<[Int32: CheckedContinuation<Void, Never>]>([:])

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epoll >= 0, "epoll_create1 failed: errno \(errno)")
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        // The instance lives as long as the process (`shared`); the thread keeps its own reference.
        let instance = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(
            &thread, &attributes,
            { argument in
                Unmanaged<SocketReadiness>.fromOpaque(argument!).takeRetainedValue().resumeReadyWaiters()
            }, instance)
        precondition(status == 0, "cannot start the PostgreSQL socket thread: error \(status)")
    }

    /// Suspends until `socket` is ready for `interest`, has failed or hung up (the next libpq call says which), or,
    /// when `watchingCancellation`, the task is cancelled. A wake-up can be spurious: callers ask libpq again and wait
    /// again.
    func wait(for socket: Int32, _ interest: Interest, watchingCancellation: Bool = true) async {
        guard watchingCancellation else {
            return await withCheckedContinuation { register($0, for: socket, interest, unlessCancelled: false) }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { register($0, for: socket, interest, unlessCancelled: true) }
        } onCancel: {
            waiters.withLock { $0.removeValue(forKey: socket) }?.resume()
        }
    }

    private func register(
        _ continuation: CheckedContinuation<Void, Never>, for socket: Int32, _ interest: Interest,
        unlessCancelled: Bool
    ) {
        let isCancelled = waiters.withLock { waiters in
            if unlessCancelled, Task.isCancelled { return true }
            waiters[socket] = continuation
            return false
        }
        if isCancelled { return continuation.resume() }
        var event = epoll_event()
        event.events = interest.events
        event.data.fd = socket
        // Re-arms a socket already in the set (one-shot events disarm it); adds one that is not (a new
        // connection, or a number the kernel reused after libpq closed a failed connection's socket).
        var status = epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event)
        if status != 0, errno == ENOENT { status = epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event) }
        if status != 0 {
            // Not watchable (closed underneath): resume at once and let libpq report the broken connection.
            waiters.withLock { $0.removeValue(forKey: socket) }?.resume()
        }
    }

    /// Drops `socket` from the epoll set; call while the socket is still open, before `PQfinish`.
    func forget(_ socket: Int32) {
        // ENOENT (never waited on) is fine: there is nothing to drop.
        var event = epoll_event()
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, socket, &event)
    }

    /// The thread's loop: waits in `epoll_wait` and resumes the tasks whose sockets became ready.
    private func resumeReadyWaiters() -> Never {
        let capacity = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        var ready: [Int32] = []
        ready.reserveCapacity(capacity)
        while true {
            let count = epoll_wait(epoll, events, Int32(capacity), -1)
            guard count > 0 else { continue }  // EINTR: a signal arrived; wait again.
            ready.removeAll(keepingCapacity: true)
            for index in 0..<Int(count) { ready.append(events[index].data.fd) }
            let continuations = waiters.withLock { waiters in ready.compactMap { waiters.removeValue(forKey: $0) } }
            continuations.forEach { $0.resume() }
        }
    }
}
