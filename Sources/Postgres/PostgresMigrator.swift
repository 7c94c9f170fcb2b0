/// One versioned schema change: constant SQL (several statements allowed, no parameters).
public struct PostgresMigration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
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
