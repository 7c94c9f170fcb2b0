/// A failure talking to PostgreSQL, with the server's SQLSTATE when it sent one.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable {
        case invalidConfiguration
        case connectionFailed
        case queryFailed
        case decodingFailed
        case poolClosed
        case timeout
        /// The task waiting for the server's answer was cancelled; the connection it used is discarded.
        case cancelled
    }

    public var code: Code
    /// The five-character SQLSTATE the server sent (`23505` unique violation, `40001` serialization failure, …).
    public var sqlState: String?
    public var message: String
    /// The server's DETAIL line, when it sent one.
    public var detail: String?
    /// The constraint the statement violated, when the server named one.
    public var constraint: String?

    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil, constraint: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.constraint = constraint
    }

    /// A unique or primary-key constraint was violated (SQLSTATE 23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// A check, foreign-key, not-null or unique constraint was violated (SQLSTATE class 23).
    public var isIntegrityViolation: Bool { sqlState?.hasPrefix("23") ?? false }

    /// The connection is gone or could not be made: the server is down, restarting or unreachable.
    public var isConnectionError: Bool {
        if code == .connectionFailed { return true }
        guard let sqlState else { return false }
        // 08: connection exception; 57P01–57P03: admin shutdown, crash shutdown, cannot connect now.
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    public var description: String {
        var text = "PostgreSQL \(code.rawValue): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += " — \(detail)" }
        return text
    }
}
