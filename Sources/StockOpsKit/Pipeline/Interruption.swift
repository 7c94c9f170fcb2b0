import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into cancellation of a task, for the duration of `body`.
public enum Interruption {
    /// Runs `operation` in a task cancelled on SIGINT/SIGTERM; reports whether a signal arrived.
    public static func cancellingOnSignals<T: Sendable>(_ operation: @escaping @Sendable () async -> T) async -> (value: T, interrupted: Bool) {
        let task = Task { await operation() }
        let received = Mutex(false)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                received.withLock { $0 = true }
                task.cancel()
            }
            source.resume()
            return source
        }
        let value = await task.value
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        return (value, received.withLock { $0 })
    }
}
