import CLibPQ
import Dispatch
import Foundation

/// One libpq connection. The pool lends it to one caller at a time. A statement (`query`) is sent without blocking
/// and its caller suspends until the server answers; opening the connection and transactions, whose libpq calls
/// block, run on the connection's own serial queue, so blocking network I/O never occupies Swift's cooperative pool.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let queue: DispatchQueue
    /// SQL text → name of the statement prepared for it on this connection.
    private var preparedStatements: [String: String] = [:]
    private static let preparedStatementLimit = 512
    /// Set when the pool hands out a connection that served earlier callers; only such a
    /// connection can have been cut by a server restart without anyone noticing yet.
    var hasServedBefore = false

    private init(handle: OpaquePointer, queue: DispatchQueue) {
        self.handle = handle
        self.queue = queue
    }

    /// Opens a connection on a new serial queue.
    static func open(_ configuration: PostgresConfiguration) async throws(PostgresError) -> PostgresConnection {
        let queue = DispatchQueue(label: "stockops.postgres.connection")
        let result: Result<PostgresConnection, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(
                    returning: Result { () throws(PostgresError) -> PostgresConnection in
                        PostgresConnection(handle: try connect(configuration), queue: queue)
                    })
            }
        }
        return try result.get()
    }

    private static func connect(_ configuration: PostgresConfiguration) throws(PostgresError) -> OpaquePointer {
        let parameters = configuration.connectionParameters
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keywordPointers: [UnsafePointer<CChar>?] = keywords.map { UnsafePointer($0) } + [nil]
        let valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        guard let connection = PQconnectdbParams(keywordPointers, valuePointers, 0) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresError(
                code: .connectionFailed,
                message: "cannot connect to \(configuration.host):\(configuration.port) "
                    + "as \(configuration.user) to database \(configuration.database): \(reason)")
        }
        // Server notices ("relation already exists, skipping") are not errors: keep them off stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // `query` sends without blocking and waits for the socket; the `PQexec` family still blocks (libpq's rule).
        guard PQsetnonblocking(connection, 1) == 0 else {
            let reason = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, message: "cannot make the connection non-blocking: \(reason)")
        }
        return connection
    }

    /// Runs `body` on this connection's queue and waits for it without blocking the caller's thread.
    func run<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        let result: Result<T, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(PostgresError) -> T in try body(self) })
            }
        }
        return try result.get()
    }

    /// Runs `body`, whose errors are of any type, on this connection's queue.
    func runAny<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let result: Result<T, any Error> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { try body(self) })
            }
        }
        return try result.get()
    }

    /// True once libpq has seen the connection fail; such a connection is never reused.
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// True when the connection works and is idle: not when a statement on it was left unfinished (its wait cut
    /// short by an error), a transaction left open or a pipeline left unread, which the next borrower would inherit.
    var isReusable: Bool {
        !isBroken && PQtransactionStatus(handle) == PQTRANS_IDLE && PQpipelineStatus(handle) == PQ_PIPELINE_OFF
    }

    /// One statement with text parameters: prepared once per connection and SQL text, then executed.
    /// Call on this connection's queue only.
    func execute(_ sql: String, _ parameters: [String?], prepare: Bool = true) throws(PostgresError) -> PostgresResult {
        let count = Int32(parameters.count)
        let name: String?
        if !prepare {
            name = nil
        } else if let known = preparedStatements[sql] {
            name = known
        } else if let newName = nextStatementName() {
            _ = try read(PQprepare(handle, newName, sql, count, nil))
            preparedStatements[sql] = newName
            name = newName
        } else {
            name = nil
        }
        let result = withCStrings(parameters) { values in
            if let name { return PQexecPrepared(handle, name, count, values, nil, nil, 0) }
            return PQexecParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        return try read(result)
    }

    // MARK: - Statements that wait for the server without holding a thread

    /// One statement with text parameters, prepared once per connection and SQL text: sent on the caller's thread,
    /// then the caller suspends until the answer arrives (`SocketReadiness`). Only the pool's borrower calls it.
    func query(_ sql: String, _ parameters: [String?]) async throws(PostgresError) -> PostgresResult {
        let count = Int32(parameters.count)
        let name: String?
        if let known = preparedStatements[sql] {
            name = known
        } else if let newName = nextStatementName() {
            try send { PQsendPrepare(handle, newName, sql, count, nil) }
            _ = try await awaitResult()
            preparedStatements[sql] = newName
            name = newName
        } else {
            name = nil
        }
        try sendExecution(of: sql, preparedAs: name, parameters)
        return try await awaitResult()
    }

    private func send(_ call: () -> Int32) throws(PostgresError) {
        guard call() == 1 else { throw connectionError() }
    }

    /// Queues the execution of `sql` with text parameters: of its prepared statement `name`, or unprepared.
    private func sendExecution(of sql: String, preparedAs name: String?, _ parameters: [String?]) throws(PostgresError) {
        let count = Int32(parameters.count)
        try withCStrings(parameters) { values throws(PostgresError) in
            if let name {
                try send { PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) }
            } else {
                try send { PQsendQueryParams(handle, sql, count, nil, values, nil, nil, 0) }
            }
        }
    }

    /// The name for a newly prepared statement, with `pending` preparations sent but not yet answered; nil once the
    /// connection would hold ``preparedStatementLimit`` of them (the statement then runs unprepared).
    private func nextStatementName(pending: Int = 0) -> String? {
        let count = preparedStatements.count + pending
        return count < Self.preparedStatementLimit ? "stockops_\(count + 1)" : nil
    }

    private func withCStrings<T, E: Error>(
        _ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws(E) -> T
    ) throws(E) -> T {
        let copies = strings.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return try body(copies.map { $0.map { UnsafePointer($0) } })
    }

    /// Flushes what was sent, then reads every result of the statement; the first failed one is thrown.
    private func awaitResult() async throws(PostgresError) -> PostgresResult {
        try await flush(watchingCancellation: true)
        var outcome: Result<PostgresResult, PostgresError>?
        while true {
            while PQisBusy(handle) == 1 {
                try await waitForSocket(.readable)
                guard PQconsumeInput(handle) == 1 else { throw connectionError() }
            }
            guard let result = PQgetResult(handle) else { break }
            let read = Result { () throws(PostgresError) -> PostgresResult in try self.read(result) }
            if case .failure = outcome {} else { outcome = read }
        }
        guard let outcome else { throw connectionError() }
        return try outcome.get()
    }

    /// Sends what libpq still holds, waiting for the socket while the kernel's buffer is full.
    private func flush(watchingCancellation: Bool) async throws(PostgresError) {
        while true {
            let pending = PQflush(handle)
            if pending == 0 { return }
            guard pending > 0 else { throw connectionError() }
            try await waitForSocket(.readableOrWritable, watchingCancellation: watchingCancellation)
            guard PQconsumeInput(handle) == 1 else { throw connectionError() }
        }
    }

    // MARK: - Batches in pipeline mode

    /// Sends `statements` in libpq's pipeline mode, ended by one Sync, and reads one outcome per statement: they run
    /// in one implicit transaction, committed at the Sync. A statement that fails makes the server skip the ones after
    /// it (`.aborted`) and rolls the transaction back, so when `haveEffects`, the statements that succeeded before it
    /// are `.aborted` too. The wait ignores cancellation: the batch carries other callers' statements. Throws only when
    /// the connection fails, which leaves it unusable.
    func runBatch(
        _ statements: [PostgresBatcher.Statement], haveEffects: Bool
    ) async throws(PostgresError) -> [PostgresBatcher.Outcome] {
        let outcomes = try await sendBatch(statements)
        guard haveEffects else { return outcomes }
        let rolledBack = outcomes.contains { outcome in
            if case .finished(.failure) = outcome { return true }
            return false
        }
        guard rolledBack else { return outcomes }
        return outcomes.map { outcome in
            if case .finished(.success) = outcome { return .aborted }
            return outcome
        }
    }

    private func sendBatch(
        _ statements: [PostgresBatcher.Statement]
    ) async throws(PostgresError) -> [PostgresBatcher.Outcome] {
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError() }
        var preparing: [String: String] = [:]
        var sendsPrepare: [Bool] = []
        sendsPrepare.reserveCapacity(statements.count)
        for statement in statements {
            var name = preparedStatements[statement.sql] ?? preparing[statement.sql]
            var prepares = false
            if name == nil, let newName = nextStatementName(pending: preparing.count) {
                let count = Int32(statement.parameters.count)
                try send { PQsendPrepare(handle, newName, statement.sql, count, nil) }
                preparing[statement.sql] = newName
                name = newName
                prepares = true
            }
            sendsPrepare.append(prepares)
            try sendExecution(of: statement.sql, preparedAs: name, statement.parameters)
        }
        try send { PQpipelineSync(handle) }
        try await flush(watchingCancellation: false)
        var outcomes: [PostgresBatcher.Outcome] = []
        outcomes.reserveCapacity(statements.count)
        for (statement, prepares) in zip(statements, sendsPrepare) {
            var prepareFailure: PostgresBatcher.Outcome?
            if prepares {
                switch try await nextOutcome() {
                case .finished(.success): preparedStatements[statement.sql] = preparing[statement.sql]
                case let failure: prepareFailure = failure
                }
            }
            let outcome = try await nextOutcome()
            outcomes.append(prepareFailure ?? outcome)
        }
        guard let sync = try await nextResult() else { throw connectionError() }
        let status = PQresultStatus(sync)
        PQclear(sync)
        guard status == PGRES_PIPELINE_SYNC, PQexitPipelineMode(handle) == 1 else { throw connectionError() }
        return outcomes
    }

    /// Reads the results of the next statement of a pipeline, up to the NULL that ends them.
    private func nextOutcome() async throws(PostgresError) -> PostgresBatcher.Outcome {
        var outcome: PostgresBatcher.Outcome?
        while let result = try await nextResult() {
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
                if outcome == nil { outcome = .aborted }
                continue
            }
            let read = Result { () throws(PostgresError) -> PostgresResult in try self.read(result) }
            if outcome == nil { outcome = .finished(read) }
        }
        guard let outcome else { throw connectionError() }
        return outcome
    }

    /// The next result of a pipeline, once it has arrived; nil ends a statement's results.
    private func nextResult() async throws(PostgresError) -> OpaquePointer? {
        while PQisBusy(handle) == 1 {
            try await waitForSocket(.readable, watchingCancellation: false)
            guard PQconsumeInput(handle) == 1 else { throw connectionError() }
        }
        return PQgetResult(handle)
    }

    /// Waits for the connection's socket. When `watchingCancellation`, a cancelled task stops waiting (the unfinished
    /// statement makes the connection unusable, so the pool discards it).
    private func waitForSocket(
        _ interest: SocketReadiness.Interest, watchingCancellation: Bool = true
    ) async throws(PostgresError) {
        let socket = PQsocket(handle)
        guard socket >= 0 else { return }  // libpq dropped the connection; its next call reports why.
        await SocketReadiness.shared.wait(for: socket, interest, watchingCancellation: watchingCancellation)
        if watchingCancellation, Task.isCancelled {
            throw PostgresError(code: .cancelled, message: "cancelled while waiting for the server's answer")
        }
    }

    /// Runs constant SQL text that may hold several statements and no parameters (migrations,
    /// BEGIN/COMMIT). Call on this connection's queue only.
    func executeScript(_ sql: String) throws(PostgresError) {
        _ = try read(PQexec(handle, sql))
    }

    /// Reads a libpq result into Swift values and frees it; turns a failed one into a `PostgresError`.
    private func read(_ result: OpaquePointer?) throws(PostgresError) -> PostgresResult {
        guard let result else { throw connectionError() }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY else {
            throw error(from: result)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var values: [String?] = []
        values.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, row, column)))
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresResult(columns: columns, values: values, rowCount: rowCount, affectedRows: affected)
    }

    private func error(from result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? connectionMessage()
        var error = PostgresError(
            code: isBroken ? .connectionFailed : .queryFailed,
            message: message, sqlState: sqlState, detail: field("D"), constraint: field("n"))
        if sqlState == "57014" { error.code = .timeout }
        return error
    }

    private func connectionError() -> PostgresError {
        PostgresError(code: isBroken ? .connectionFailed : .queryFailed, message: connectionMessage())
    }

    private func connectionMessage() -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        let socket = PQsocket(handle)
        if socket >= 0 { SocketReadiness.shared.forget(socket) }
        PQfinish(handle)
    }
}
