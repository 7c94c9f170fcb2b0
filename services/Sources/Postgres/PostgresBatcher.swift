import Synchronization

/// Sends the statements of concurrent callers together: each batch goes to the server on one pooled connection in
/// libpq's pipeline mode, in one write ended by one Sync, and its answers come back in one read. Under load a
/// statement then costs the server and this process a fraction of a wake-up and of a system call (and, for writes, of
/// a commit), where one statement per round trip costs each of them a whole one.
///
/// At most `leaderLimit` batches are in flight. A caller that finds a free slot leads: it sends its statement with
/// every one queued so far, hands each waiting caller its answer and, when more have queued meanwhile, passes the lead
/// to the oldest of them. The others wait for their answer or for the lead.
///
/// The statements of one batch run in one implicit transaction. A failed statement makes the server skip the ones
/// after it; those come back `.aborted` and are sent again in the next batch, as is every statement whose effects the
/// failure rolled back (see `PostgresConnection.runBatch`).
final class PostgresBatcher: Sendable {
    /// One statement and its text parameters.
    struct Statement: Sendable {
        var sql: String
        var parameters: [String?]
    }

    /// What a statement of a batch came to.
    enum Outcome: Sendable {
        case finished(Result<PostgresResult, PostgresError>)
        /// Another statement of the batch failed, so this one did not run or was rolled back: it is sent again.
        case aborted
    }

    private enum Wake {
        case finished(Result<PostgresResult, PostgresError>)
        case lead
    }

    private struct Waiter {
        var statement: Statement
        var continuation: CheckedContinuation<Wake, Never>
    }

    private struct State {
        var queue: [Waiter] = []
        var leaders = 0
        var batchesSent = 0
    }

    /// The most statements sent in one batch.
    static let batchLimit = 64

    private let leaderLimit: Int
    private let state = Mutex(State())

    init(leaderLimit: Int) {
        self.leaderLimit = max(1, leaderLimit)
    }

    /// Batches sent so far.
    var batchesSent: Int { state.withLock { $0.batchesSent } }

    /// Runs `statement` in the next batch and returns its answer. A leading caller sends batches with `runBatch`,
    /// which returns one outcome per statement, in order.
    func run(
        _ statement: Statement, _ runBatch: ([Statement]) async -> [Outcome]
    ) async throws(PostgresError) -> PostgresResult {
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let leadsNow = state.withLock { state in
                if state.leaders < leaderLimit {
                    state.leaders += 1
                    return true
                }
                state.queue.append(Waiter(statement: statement, continuation: continuation))
                return false
            }
            if leadsNow { continuation.resume(returning: .lead) }
        }
        switch wake {
        case .finished(let result): return try result.get()
        case .lead: return try await lead(statement, runBatch).get()
        }
    }

    /// Sends `own` with the queued statements until `own` has its answer, then passes the lead on or gives it up.
    private func lead(
        _ own: Statement, _ runBatch: ([Statement]) async -> [Outcome]
    ) async -> Result<PostgresResult, PostgresError> {
        while true {
            let waiting = state.withLock { state in
                let count = min(state.queue.count, Self.batchLimit - 1)
                defer { state.queue.removeFirst(count) }
                return Array(state.queue.prefix(count))
            }
            var outcomes = await runBatch([own] + waiting.map(\.statement))
            if outcomes.count != waiting.count + 1 {
                let failure = PostgresError(code: .queryFailed, message: "a batch of statements came back incomplete")
                outcomes = Array(repeating: .finished(.failure(failure)), count: waiting.count + 1)
            }
            var skipped: [Waiter] = []
            for (waiter, outcome) in zip(waiting, outcomes.dropFirst()) {
                switch outcome {
                case .finished(let result): waiter.continuation.resume(returning: .finished(result))
                case .aborted: skipped.append(waiter)
                }
            }
            let next = state.withLock { state -> Waiter? in
                state.batchesSent += 1
                state.queue.insert(contentsOf: skipped, at: 0)
                if case .aborted = outcomes.first { return nil }
                if state.queue.isEmpty {
                    state.leaders -= 1
                    return nil
                }
                return state.queue.removeFirst()
            }
            guard case .finished(let result) = outcomes.first else { continue }
            next?.continuation.resume(returning: .lead)
            return result
        }
    }
}
