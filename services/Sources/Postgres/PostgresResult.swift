/// The rows a statement returned, read out of libpq into Swift values.
public struct PostgresResult: Sendable, RandomAccessCollection {
    /// Column names in order.
    public let columns: [String]
    /// Rows changed by INSERT/UPDATE/DELETE (libpq's `PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int
    let columnIndex: [String: Int]
    let values: [[String?]]

    init(columns: [String], values: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.columnIndex = index
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> PostgresRow { PostgresRow(result: self, row: position) }
}

/// One row of a `PostgresResult`; read its columns by name.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let row: Int

    /// The raw text of a column, nil for SQL NULL.
    public func text(_ column: String) throws(PostgresError) -> String? {
        guard let position = result.columnIndex[column] else {
            throw PostgresError(
                code: .decodingFailed,
                message: "no column '\(column)' in the result (columns: \(result.columns.joined(separator: ", ")))")
        }
        return result.values[row][position]
    }

    /// The column's value; SQL NULL is an error.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let text = try text(column) else {
            throw PostgresError(code: .decodingFailed, message: "column '\(column)' is NULL")
        }
        return try T(postgresText: text)
    }

    /// The column's value, nil for SQL NULL.
    public func decodeIfPresent<T: PostgresDecodable>(
        _ column: String, as type: T.Type = T.self
    ) throws(PostgresError) -> T? {
        guard let text = try text(column) else { return nil }
        return try T(postgresText: text)
    }
}
