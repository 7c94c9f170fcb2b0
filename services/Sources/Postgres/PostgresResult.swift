/// The rows a statement returned, read out of libpq into Swift values.
public struct PostgresResult: Sendable, RandomAccessCollection {
    /// Column names in order.
    public let columns: [String]
    /// Rows changed by INSERT/UPDATE/DELETE (libpq's `PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int
    /// Every row's values, row after row: one array for the whole result, not one per row.
    let values: [String?]
    public let endIndex: Int

    /// `values` holds `rowCount` rows of `columns.count` values each.
    init(columns: [String], values: [String?], rowCount: Int, affectedRows: Int) {
        precondition(values.count == rowCount * columns.count, "a result's values must fill its rows")
        self.columns = columns
        self.values = values
        self.endIndex = rowCount
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public subscript(position: Int) -> PostgresRow { PostgresRow(result: self, row: position) }
}

/// One row of a `PostgresResult`; read its columns by name.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let row: Int

    /// The raw text of a column, nil for SQL NULL.
    public func text(_ column: String) throws(PostgresError) -> String? {
        // A result has a handful of columns: comparing their names costs less than hashing one.
        guard let position = result.columns.firstIndex(of: column) else {
            throw PostgresError(
                code: .decodingFailed,
                message: "no column '\(column)' in the result (columns: \(result.columns.joined(separator: ", ")))")
        }
        return result.values[row * result.columns.count + position]
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
