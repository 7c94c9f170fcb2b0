/// One versioned schema change: constant SQL (several statements allowed, no parameters).
///
/// During a release the version still serving and the new one share the database, and a rollback runs the old version
/// against the new schema: a migration **expands** the schema (new tables, nullable or defaulted columns, indexes) so
/// the running version keeps working. Removing what an earlier release stopped using is a separate **contract**
/// migration, shipped in a later release than the code change.
public struct PostgresMigration: Sendable {
    public enum Kind: String, Sendable {
        /// Backward compatible with the version still running (the default).
        case expand
        /// Drops or changes what an earlier release stopped using.
        case contract
    }

    public let version: Int
    public let name: String
    public let sql: String
    public let kind: Kind

    public init(version: Int, name: String, sql: String, kind: Kind = .expand) {
        self.version = version
        self.name = name
        self.sql = sql
        self.kind = kind
    }

    /// What in `sql` the version still running could trip on: dropping or renaming tables and columns, changing a
    /// column's type, making it NOT NULL, or adding a NOT NULL column without a default. Empty for an expand migration.
    public static func incompatibleStatements(_ sql: String) -> [String] {
        let statements = sql.split(separator: ";").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.filter { !$0.isEmpty }
        let rules: [(String, String)] = [
            (#"\bDROP\s+(TABLE|COLUMN|VIEW|SCHEMA)\b"#, "drops what the running version may read"),
            (#"\bRENAME\b"#, "renames what the running version names"),
            (#"\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b"#, "changes a column's type"),
            (#"\bSET\s+NOT\s+NULL\b"#, "makes a column NOT NULL, which the running version's inserts may leave empty"),
            (#"\bTRUNCATE\b"#, "empties a table"),
        ]
        var problems: [String] = []
        for statement in statements {
            for (pattern, why) in rules where statement.range(of: pattern, options: [.regularExpression, .caseInsensitive]) != nil {
                problems.append("\(statement): \(why)")
            }
            let addsColumn = statement.range(
                of: #"\bADD\s+(COLUMN\s+)?(IF\s+NOT\s+EXISTS\s+)?\S+\s+[^,]*\bNOT\s+NULL\b"#, options: [.regularExpression, .caseInsensitive])
            if let addsColumn, statement[addsColumn].range(of: #"\bDEFAULT\b"#, options: [.regularExpression, .caseInsensitive]) == nil,
                statement.range(of: #"^ALTER\s+TABLE"#, options: [.regularExpression, .caseInsensitive]) != nil
            {
                problems.append("\(statement): adds a NOT NULL column without a default, which the running version's inserts leave empty")
            }
        }
        return problems
    }
}

/// Applies one owner's migrations in version order, each at most once, recording them in
/// `schema_migrations`. All owners share one advisory lock, so replicas (and both services)
/// may start at the same time: one migrates, the others wait and then find nothing to do.
public struct PostgresMigrator: Sendable {
    public let owner: String
    public let migrations: [PostgresMigration]

    /// The advisory-lock key every migrator takes (`hashtext('stockops.schema_migrations')` is not
    /// stable across versions, so a fixed number).
    static let lockKey: Int64 = 5_543_201_001

    public init(owner: String, migrations: [PostgresMigration]) {
        self.owner = owner
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is missing, in one transaction; returns the versions applied now.
    @discardableResult
    public func migrate(_ pool: PostgresPool) async throws -> [Int] {
        let owner = owner
        let migrations = migrations
        let duplicates = Dictionary(grouping: migrations, by: \.version).filter { $0.value.count > 1 }.keys
        guard duplicates.isEmpty else {
            throw PostgresError(
                code: .invalidConfiguration,
                message: "migrations of \(owner) repeat version(s) \(duplicates.sorted())")
        }
        return try await pool.withTransaction { transaction in
            _ = try transaction.query("SELECT pg_advisory_xact_lock($1)", Self.lockKey)
            try transaction.executeScript(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    owner text NOT NULL,
                    version integer NOT NULL,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (owner, version)
                )
                """)
            let applied = Set(
                try transaction.query("SELECT version FROM schema_migrations WHERE owner = $1", owner)
                    .map { row throws(PostgresError) in try row.decode("version", as: Int.self) })
            var appliedNow: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                try transaction.executeScript(migration.sql)
                _ = try transaction.query(
                    "INSERT INTO schema_migrations (owner, version, name) VALUES ($1, $2, $3)",
                    owner, migration.version, migration.name)
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}
