/// The statements of one transaction, run synchronously on the connection's own thread.
/// It exists only inside `PostgresPool.withTransaction`.
public final class PostgresTransaction {
    private let connection: PostgresConnection

    private init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// One parameterized statement (`$1`, `$2` …), prepared and cached per connection.
    public func query(_ sql: String, _ parameters: (any PostgresEncodable)?...) throws(PostgresError) -> PostgresResult {
        try query(sql, parameters: parameters)
    }

    /// One parameterized statement (`$1`, `$2` …), prepared and cached per connection.
    public func query(_ sql: String, parameters: [(any PostgresEncodable)?]) throws(PostgresError) -> PostgresResult {
        try connection.execute(sql, parameters.map { $0?.postgresText })
    }

    /// Constant SQL holding several statements and no parameters (a migration).
    func executeScript(_ sql: String) throws(PostgresError) {
        try connection.executeScript(sql)
    }

    /// BEGIN failed: nothing ran, so the pool may retry on another connection.
    struct BeginFailed: Error {
        let underlying: PostgresError
    }

    static func run<T>(
        on connection: PostgresConnection, isolation: PostgresIsolation, _ body: (PostgresTransaction) throws -> T
    ) throws -> T {
        do {
            try connection.executeScript("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        } catch {
            throw BeginFailed(underlying: error)
        }
        do {
            let value = try body(PostgresTransaction(connection: connection))
            try connection.executeScript("COMMIT")
            return value
        } catch {
            // The body's error is what the caller needs; a ROLLBACK fails in practice only on a lost connection, which the pool discards.
            if !connection.isBroken { try? connection.executeScript("ROLLBACK") }
            throw error
        }
    }
}
