import Logging
import Synchronization

/// A bounded pool of libpq connections. Statements are parameterized only, prepared once per
/// connection, and sent without blocking a thread while the server works. A connection the server dropped (restart,
/// crash) is discarded and replaced by a new one on next use.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let reads: PostgresBatcher
    private let writes: PostgresBatcher

    private struct State {
        var idle: [PostgresConnection] = []
        /// Connections open or being opened, idle or lent out.
        var open = 0
        /// Callers waiting for a connection; resumed with one, or with nil to open a new one.
        var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
        var isClosed = false
    }

    private enum Lease {
        case reuse(PostgresConnection)
        case openNew
        case wait
        case closed
    }

    /// How the pool's connections are used right now.
    public struct Usage: Sendable, Equatable {
        /// Lent out, or being opened.
        public var inUse: Int
        public var idle: Int
        /// Callers waiting for a connection.
        public var waiting: Int
    }

    public var usage: Usage {
        state.withLock { Usage(inUse: $0.open - $0.idle.count, idle: $0.idle.count, waiting: $0.waiters.count) }
    }

    public init(configuration: PostgresConfiguration, logger: Logger = Logger(label: "stockops.postgres")) {
        self.configuration = configuration
        self.logger = logger
        reads = PostgresBatcher(leaderLimit: configuration.readBatches)
        // One batch of writes at a time: two concurrent ones could lock the same rows in opposite orders and deadlock.
        writes = PostgresBatcher(leaderLimit: 1)
    }

    /// One parameterized statement (`$1`, `$2` …), prepared and cached per connection.
    public func query(
        _ sql: String, _ parameters: (any PostgresEncodable)?...
    ) async throws(PostgresError) -> PostgresResult {
        try await query(sql, parameters: parameters)
    }

    /// One parameterized statement (`$1`, `$2` …), prepared and cached per connection.
    public func query(
        _ sql: String, parameters: [(any PostgresEncodable)?]
    ) async throws(PostgresError) -> PostgresResult {
        let texts = parameters.map { $0?.postgresText }
        return try await withConnection { connection throws(PostgresError) in try await connection.query(sql, texts) }
    }

    /// One statement without effects (a `SELECT`), prepared and cached per connection like ``query(_:_:)``, but sent
    /// in one batch with the reads of other callers that wait at the same time (see `PostgresBatcher`): under load,
    /// far cheaper for the server and for this process. Waiting for the answer does not end when the task is
    /// cancelled.
    public func read(
        _ sql: String, _ parameters: (any PostgresEncodable)?...
    ) async throws(PostgresError) -> PostgresResult {
        try await run(sql, parameters, in: reads, haveEffects: false)
    }

    /// One statement with effects, committed in one transaction with the writes of other callers that wait at the
    /// same time (see `PostgresBatcher`); it answers once that transaction has committed, and one batch of writes is
    /// in flight at a time. When another caller's statement fails, the transaction rolls back and the statements that
    /// did not fail are sent again, so each one is committed once or fails with its own error. A statement that
    /// writes elsewhere through ``query(_:_:)`` or a transaction may wait for a whole batch's row locks. Waiting for
    /// the answer does not end when the task is cancelled.
    public func write(
        _ sql: String, _ parameters: (any PostgresEncodable)?...
    ) async throws(PostgresError) -> PostgresResult {
        try await run(sql, parameters, in: writes, haveEffects: true)
    }

    /// Batches of reads sent so far.
    var readBatchesSent: Int { reads.batchesSent }

    /// Batches of writes sent so far.
    var writeBatchesSent: Int { writes.batchesSent }

    private func run(
        _ sql: String, _ parameters: [(any PostgresEncodable)?], in batcher: PostgresBatcher, haveEffects: Bool
    ) async throws(PostgresError) -> PostgresResult {
        let statement = PostgresBatcher.Statement(sql: sql, parameters: parameters.map { $0?.postgresText })
        return try await batcher.run(statement) { batch in await self.send(batch, haveEffects: haveEffects) }
    }

    /// Sends one batch on a pooled connection; a failed connection fails every statement of the batch.
    private func send(
        _ batch: [PostgresBatcher.Statement], haveEffects: Bool
    ) async -> [PostgresBatcher.Outcome] {
        do {
            return try await withConnection { connection throws(PostgresError) in
                try await connection.runBatch(batch, haveEffects: haveEffects)
            }
        } catch {
            return Array(repeating: .finished(.failure(error)), count: batch.count)
        }
    }

    /// Runs one statement without parameters and without preparing it: for DDL and utility statements
    /// (`CREATE DATABASE`, `VACUUM`) whose text is a constant of the program, never built from input.
    public func execute(_ sql: String) async throws(PostgresError) {
        _ = try await withConnection { connection throws(PostgresError) in
            try await connection.run { connection throws(PostgresError) in
                try connection.execute(sql, [], prepare: false)
            }
        }
    }

    /// Checks that the server answers (`SELECT 1`).
    public func ping() async throws(PostgresError) {
        _ = try await query("SELECT 1")
    }

    /// Runs `body` between BEGIN and COMMIT on one connection, synchronously on that connection's thread.
    /// Any error thrown by `body` or a statement rolls the transaction back and is rethrown.
    /// A serialization failure or deadlock (SQLSTATE 40001/40P01) runs `body` again, up to
    /// `serializationRetries` times, so `body` must have no effect outside the database.
    public func withTransaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted,
        serializationRetries: Int = 3,
        _ body: @escaping @Sendable (PostgresTransaction) throws -> T
    ) async throws -> T {
        var retriesLeft = serializationRetries
        while true {
            do {
                return try await withConnectionAny { connection in
                    try await connection.runAny { connection in
                        try PostgresTransaction.run(on: connection, isolation: isolation, body)
                    }
                }
            } catch let error as PostgresError where error.isSerializationFailure && retriesLeft > 0 {
                retriesLeft -= 1
                logger.debug("transaction retried after \(error.sqlState ?? "")")
            }
        }
    }

    /// Closes every idle connection and refuses new work; connections still lent out close when returned.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.isClosed = true
            defer {
                state.open -= state.idle.count
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            return (state.idle, state.waiters)
        }
        waiters.forEach { $0.resume(returning: nil) }
        // Dropping the last reference finishes each idle connection (PQfinish in deinit).
        _ = consume idle
        logger.debug("pool closed", metadata: ["database": "\(configuration)"])
    }

    // MARK: - Lending connections

    /// Lends a connection to `body`. A connection that turns out broken is discarded; when it had
    /// served before (so the server may simply have restarted since) and `nothingRan` says the
    /// failure happened before any statement took effect, the work is tried once more on a new connection.
    private func withConnection<T: Sendable>(
        _ body: (PostgresConnection) async throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        do {
            return try await lend(nothingRan: { ($0 as? PostgresError)?.isConnectionError ?? false }, body)
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(code: .queryFailed, message: "\(error)")
        }
    }

    private func withConnectionAny<T: Sendable>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await lend(nothingRan: { ($0 as? PostgresTransaction.BeginFailed)?.underlying.isConnectionError ?? false }, body)
        } catch let error as PostgresTransaction.BeginFailed {
            throw error.underlying
        }
    }

    private func lend<T: Sendable>(
        nothingRan: (any Error) -> Bool, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        var mayRetry = true
        while true {
            let connection = try await acquire()
            do {
                let value = try await body(connection)
                release(connection)
                return value
            } catch {
                let servedBefore = connection.hasServedBefore
                release(connection)
                if nothingRan(error), servedBefore, mayRetry {
                    mayRetry = false
                    logger.info("connection lost; retrying on a new connection", metadata: ["error": "\(error)"])
                    continue
                }
                throw error
            }
        }
    }

    private func acquire() async throws(PostgresError) -> PostgresConnection {
        let lease = state.withLock { state -> Lease in
            if state.isClosed { return .closed }
            if let connection = state.idle.popLast() { return .reuse(connection) }
            if state.open < configuration.poolSize {
                state.open += 1
                return .openNew
            }
            return .wait
        }
        switch lease {
        case .reuse(let connection):
            connection.hasServedBefore = true
            return connection
        case .openNew:
            return try await openReserved()
        case .closed:
            throw PostgresError(code: .poolClosed, message: "the connection pool is closed")
        case .wait:
            let handedOver: PostgresConnection? = await withCheckedContinuation { continuation in
                let closed = state.withLock { state -> Bool in
                    if state.isClosed { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if closed { continuation.resume(returning: nil) }
            }
            if let handedOver {
                handedOver.hasServedBefore = true
                return handedOver
            }
            let closed = state.withLock { $0.isClosed }
            if closed { throw PostgresError(code: .poolClosed, message: "the connection pool is closed") }
            return try await openReserved()
        }
    }

    /// Opens a connection in a slot already counted in `open`; gives the slot back if that fails.
    private func openReserved() async throws(PostgresError) -> PostgresConnection {
        do {
            let connection = try await PostgresConnection.open(configuration)
            logger.debug("connection opened", metadata: ["database": "\(configuration)"])
            return connection
        } catch {
            freeSlot()
            throw error
        }
    }

    /// Returns a connection: to a waiter, to the idle list, or, when broken or the pool is closed, nowhere.
    private func release(_ connection: PostgresConnection) {
        if !connection.isReusable {
            logger.info("discarding a broken or unfinished connection", metadata: ["database": "\(configuration)"])
            freeSlot()
            return
        }
        let waiter = state.withLock { state -> CheckedContinuation<PostgresConnection?, Never>? in
            if state.isClosed {
                state.open -= 1
                return nil
            }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(connection)
            return nil
        }
        waiter?.resume(returning: connection)
    }

    /// A connection slot became free: a waiter, if any, opens a new connection in it.
    private func freeSlot() {
        let waiter = state.withLock { state -> CheckedContinuation<PostgresConnection?, Never>? in
            if !state.isClosed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.resume(returning: nil)
    }
}

/// The isolation level a transaction runs at.
public enum PostgresIsolation: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

extension PostgresError {
    /// A serialization failure or deadlock: running the transaction again may succeed.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
}
