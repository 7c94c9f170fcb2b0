import Foundation
import PostgresTestSupport
import Testing

@testable import Postgres

@Suite("Configuration")
struct ConfigurationTests {
    @Test func readsEveryPartOfAURL() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://app:p%40ss%3Aw0rd@db.internal:6543/stocks?sslmode=require&connect_timeout=9")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.user == "app")
        #expect(configuration.password == "p@ss:w0rd")
        #expect(configuration.database == "stocks")
        #expect(configuration.sslMode == "require")
        #expect(configuration.connectTimeoutSeconds == 9)
    }

    @Test func acceptsADriverSuffixAndDefaults() throws {
        let configuration = try PostgresConfiguration(url: "postgresql+psycopg2://postgres@127.0.0.1/peer")
        #expect(configuration.port == 5432)
        #expect(configuration.password == nil)
        #expect(configuration.database == "peer")
    }

    @Test func neverShowsThePassword() throws {
        let configuration = try PostgresConfiguration(url: "postgres://app:hunter2@localhost:5432/stocks")
        #expect(configuration.description == "app@localhost:5432/stocks")
        #expect(!"\(configuration)".contains("hunter2"))
    }

    @Test(arguments: ["mysql://x@y/z", "not a url", "postgres:///nohost"])
    func rejectsWhatIsNotAPostgresURL(_ url: String) {
        #expect(throws: PostgresError.self) { try PostgresConfiguration(url: url) }
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test func parsesTheServersISOFormat() throws {
        let date = try #require(PostgresTimestamp.parse("2026-11-22 17:46:43.123456+00"))
        #expect(abs(date.timeIntervalSince1970 - 1_795_369_603.123456) < 0.000_001)
        let offset = try #require(PostgresTimestamp.parse("2026-11-22 19:46:43+02"))
        #expect(offset.timeIntervalSince1970 == 1_795_369_603)
        #expect(PostgresTimestamp.parse("2026-13-22 17:46:43+00") == nil)
        #expect(PostgresTimestamp.parse("yesterday") == nil)
    }

    @Test func formatsRFC3339InUTC() {
        let date = Date(timeIntervalSince1970: 1_795_369_603.5)
        #expect(PostgresTimestamp.format(date) == "2026-11-22T17:46:43.500000Z")
        #expect(PostgresTimestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000000Z")
    }
}

@Suite("Statements against a real server")
struct StatementTests {
    @Test func roundTripsEveryTypeExactly() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        let when = Date(timeIntervalSince1970: 1_795_369_603.25)
        let row = try #require(
            try await pool.query(
                "SELECT $1::numeric * 3 AS total, $2::text AS name, $3::bigint AS big, $4::boolean AS flag, "
                    + "$5::timestamptz AS at, $6::text AS missing",
                Decimal(string: "0.10")!, "Zürich ✓", Int64.max, true, when, nil as String?
            ).first)
        #expect(try row.decode("total", as: Decimal.self) == Decimal(string: "0.30")!)
        #expect(try row.decode("name", as: String.self) == "Zürich ✓")
        #expect(try row.decode("big", as: Int64.self) == Int64.max)
        #expect(try row.decode("flag", as: Bool.self))
        #expect(try row.decode("at", as: Date.self) == when)
        #expect(try row.decodeIfPresent("missing", as: String.self) == nil)
        #expect(throws: PostgresError.self) { try row.decode("missing", as: String.self) }
        #expect(throws: PostgresError.self) { try row.decode("no_such_column", as: String.self) }
    }

    @Test func parametersAreNeverSQL() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        try await pool.execute("CREATE TABLE notes (body text NOT NULL)")
        let hostile = "x'); DROP TABLE notes; --"
        let inserted = try await pool.query("INSERT INTO notes (body) VALUES ($1)", hostile)
        #expect(inserted.affectedRows == 1)
        let rows = try await pool.query("SELECT body FROM notes")
        #expect(try rows.map { row throws(PostgresError) in try row.decode("body", as: String.self) } == [hostile])
    }

    @Test func errorsCarryTheSQLState() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        try await pool.execute("CREATE TABLE symbols (symbol text PRIMARY KEY)")
        _ = try await pool.query("INSERT INTO symbols VALUES ($1)", "AAPL")
        do {
            _ = try await pool.query("INSERT INTO symbols VALUES ($1)", "AAPL")
            Issue.record("a duplicate key was accepted")
        } catch {
            #expect(error.isUniqueViolation)
            #expect(error.sqlState == "23505")
            #expect(error.constraint == "symbols_pkey")
            #expect(error.code == .queryFailed)
        }
        do {
            _ = try await pool.query("SELEC 1")
            Issue.record("a syntax error was accepted")
        } catch {
            #expect(error.sqlState == "42601")
            #expect(!error.isConnectionError)
        }
        // The connection that saw both errors still serves.
        #expect(try await pool.query("SELECT 1 AS one").first?.decode("one", as: Int.self) == 1)
    }

    @Test func transactionsCommitOrRollBackWhole() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        try await pool.execute("CREATE TABLE ledger (amount numeric NOT NULL)")
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await pool.withTransaction { transaction in
                _ = try transaction.query("INSERT INTO ledger VALUES ($1)", Decimal(1))
                throw Refused()
            }
        }
        await #expect(throws: PostgresError.self) {
            try await pool.withTransaction { transaction in
                _ = try transaction.query("INSERT INTO ledger VALUES ($1)", Decimal(2))
                _ = try transaction.query("INSERT INTO ledger VALUES ($1)", nil as Decimal?)
            }
        }
        let committed = try await pool.withTransaction { transaction in
            try transaction.query("INSERT INTO ledger VALUES ($1), ($2)", Decimal(3), Decimal(4)).affectedRows
        }
        #expect(committed == 2)
        let sum = try await pool.query("SELECT coalesce(sum(amount), 0) AS sum FROM ledger").first?
            .decode("sum", as: Decimal.self)
        #expect(sum == 7)
    }

    @Test func everyWaitingQueryGetsItsOwnAnswer() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 4))
        defer { Task { await pool.close() } }
        // Answers arrive out of order (a random sleep each) on four sockets watched by one thread: each must
        // resume the query that sent it.
        let answers = try await withThrowingTaskGroup(of: (sent: Int, answered: Int).self) { group in
            for value in 0..<200 {
                group.addTask {
                    let row = try await pool.query(
                        "SELECT $1::int AS value FROM pg_sleep(random() * 0.01)", value
                    ).first
                    return (value, try row?.decode("value", as: Int.self) ?? -1)
                }
            }
            return try await group.reduce(into: [(sent: Int, answered: Int)]()) { $0.append($1) }
        }
        #expect(answers.count == 200)
        #expect(answers.filter { $0.sent != $0.answered }.isEmpty)
    }

    @Test func concurrentReadsShareBatchesAndEachGetsItsOwnAnswer() async throws {
        var configuration = try await TestDatabase.create(poolSize: 2)
        configuration.readBatches = 1
        let pool = PostgresPool(configuration: configuration)
        defer { Task { await pool.close() } }
        // Three statement texts, so batches also carry the first preparation of a statement.
        let statements = [
            "SELECT $1::int AS value", "SELECT $1::int AS value, 'b' AS kind", "SELECT value FROM (SELECT $1::int AS value) AS c",
        ]
        let answers = try await withThrowingTaskGroup(of: (sent: Int, answered: Int).self) { group in
            for value in 0..<300 {
                group.addTask {
                    let row = try await pool.read(statements[value % 3], value).first
                    return (value, try row?.decode("value", as: Int.self) ?? -1)
                }
            }
            return try await group.reduce(into: [(sent: Int, answered: Int)]()) { $0.append($1) }
        }
        #expect(answers.count == 300)
        #expect(answers.filter { $0.sent != $0.answered }.isEmpty)
        #expect(pool.readBatchesSent < 300, "no two reads shared a batch")
    }

    /// What one read of a batch came to.
    enum Answer: Equatable, Sendable {
        case quotient(Int)
        case failed(String?)
    }

    @Test(.timeLimit(.minutes(1))) func aFailedReadFailsAloneAndTheRestOfItsBatchRunsAgain() async throws {
        var configuration = try await TestDatabase.create(poolSize: 1)
        configuration.readBatches = 1
        let pool = PostgresPool(configuration: configuration)
        defer { Task { await pool.close() } }
        // A slow read holds the only batch slot, so every read started meanwhile waits for the next batch.
        let slow = Task { try await pool.read("SELECT 1 AS one FROM pg_sleep(0.3)") }
        while pool.usage.inUse == 0 { await Task.yield() }
        let answers = await withTaskGroup(of: (divisor: Int, answer: Answer).self) { group in
            for divisor in -5...5 {
                group.addTask {
                    do {
                        let row = try await pool.read("SELECT 60 / $1::int AS quotient", divisor).first
                        return (divisor, .quotient(try row?.decode("quotient", as: Int.self) ?? -1))
                    } catch {
                        return (divisor, .failed((error as? PostgresError)?.sqlState))
                    }
                }
            }
            // A statement whose preparation fails.
            group.addTask {
                do {
                    _ = try await pool.read("SELECT missing FROM no_such_table WHERE 1 = $1::int", 1)
                    return (99, .quotient(0))
                } catch {
                    return (99, .failed((error as? PostgresError)?.sqlState))
                }
            }
            return await group.reduce(into: [Int: Answer]()) { $0[$1.divisor] = $1.answer }
        }
        #expect(try await slow.value.first?.decode("one", as: Int.self) == 1)
        for divisor in -5...5 where divisor != 0 {
            #expect(answers[divisor] == Answer.quotient(60 / divisor), "divisor \(divisor)")
        }
        #expect(answers[0] == Answer.failed("22012"))
        #expect(answers[99] == Answer.failed("42P01"))
        // Each failure sent the statements behind it again; the connection still serves.
        #expect(pool.readBatchesSent < 13, "the reads did not share batches")
        #expect(try await pool.read("SELECT 60 / $1::int AS quotient", 4).first?.decode("quotient", as: Int.self) == 15)
        #expect(pool.usage.idle == 1)
    }

    @Test func concurrentWritesShareTransactionsAndEachIsCommittedOnce() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 3))
        defer { Task { await pool.close() } }
        try await pool.execute("CREATE TABLE ledger (entry int PRIMARY KEY)")
        let answers = try await withThrowingTaskGroup(of: (sent: Int, answered: Int).self) { group in
            for entry in 1...300 {
                group.addTask {
                    let row = try await pool.write("INSERT INTO ledger VALUES ($1) RETURNING entry", entry).first
                    return (entry, try row?.decode("entry", as: Int.self) ?? -1)
                }
            }
            return try await group.reduce(into: [(sent: Int, answered: Int)]()) { $0.append($1) }
        }
        #expect(answers.filter { $0.sent != $0.answered }.isEmpty)
        let stored = try await pool.query("SELECT count(*) AS n, sum(entry) AS total FROM ledger").first
        #expect(try stored?.decode("n", as: Int.self) == 300)
        #expect(try stored?.decode("total", as: Int.self) == 300 * 301 / 2)
        #expect(pool.writeBatchesSent < 300, "no two writes shared a transaction")
    }

    @Test(.timeLimit(.minutes(1))) func aFailedWriteFailsAloneAndTheWritesItRolledBackAreCommittedOnce() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        try await pool.execute("CREATE TABLE ledger (amount int NOT NULL CHECK (amount > 0))")
        // A slow write holds the only batch slot, so every write started meanwhile waits for the next batch.
        let slow = Task { try await pool.write("SELECT 1 AS one FROM pg_sleep(0.3)") }
        while pool.usage.inUse == 0 { await Task.yield() }
        let answers = await withTaskGroup(of: (amount: Int, answer: Answer).self) { group in
            for amount in [1, 2, 3, -4, 5, 6, 7] {
                group.addTask {
                    do {
                        let row = try await pool.write("INSERT INTO ledger VALUES ($1) RETURNING amount", amount).first
                        return (amount, .quotient(try row?.decode("amount", as: Int.self) ?? 0))
                    } catch {
                        return (amount, .failed((error as? PostgresError)?.sqlState))
                    }
                }
            }
            return await group.reduce(into: [Int: Answer]()) { $0[$1.amount] = $1.answer }
        }
        #expect(try await slow.value.first?.decode("one", as: Int.self) == 1)
        #expect(answers[-4] == Answer.failed("23514"))
        for amount in [1, 2, 3, 5, 6, 7] {
            #expect(answers[amount] == Answer.quotient(amount), "amount \(amount)")
        }
        // The failed insert rolled back the ones batched with it; they were sent again and each is stored once.
        let stored = try await pool.query("SELECT amount FROM ledger ORDER BY amount")
        #expect(try stored.map { row throws(PostgresError) in try row.decode("amount", as: Int.self) } == [1, 2, 3, 5, 6, 7])
        #expect(pool.writeBatchesSent < 8, "the writes did not share batches")
    }

    @Test(.timeLimit(.minutes(1))) func answersAndParametersLargerThanTheSocketBuffersArriveWhole() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 1))
        defer { Task { await pool.close() } }
        // 8 MiB each way: more than a socket's buffers, so sending waits for the socket to drain
        // (`PQflush` > 0) and the answer is read over many wake-ups.
        let parameter = String(repeating: "abcdefgh", count: 1 << 20)
        let echoed = try await pool.query("SELECT $1::text AS echoed, length($1::text) AS length", parameter).first
        #expect(try echoed?.decode("length", as: Int.self) == parameter.utf8.count)
        #expect(try echoed?.decode("echoed", as: String.self) == parameter)
        let rows = try await pool.query("SELECT n, repeat('x', 64) AS filler FROM generate_series(1, $1::int) AS n", 100_000)
        #expect(rows.count == 100_000)
        #expect(try rows.last?.decode("n", as: Int.self) == 100_000)
    }

    @Test func thePoolNeverOpensMoreThanItsSize() async throws {
        let configuration = try await TestDatabase.create(poolSize: 3)
        let pool = PostgresPool(configuration: configuration)
        defer { Task { await pool.close() } }
        let peaks = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await pool.query(
                        "SELECT count(*) AS open FROM pg_stat_activity, pg_sleep(0.02) WHERE datname = $1",
                        configuration.database
                    ).first!.decode("open", as: Int.self)
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(peaks.count == 30)
        #expect(peaks.max()! <= 3)
    }

    @Test func blockingCallsLeaveTheCooperativePoolFree() async throws {
        let configuration = try await TestDatabase.create(poolSize: 8)
        let pool = PostgresPool(configuration: configuration)
        var observerConfiguration = configuration
        observerConfiguration.poolSize = 1
        let observer = PostgresPool(configuration: observerConfiguration)
        defer {
            Task {
                await pool.close()
                await observer.close()
            }
        }
        // Eight sleeps at once: were libpq's blocking calls made on the cooperative pool (two threads
        // here), no more than two could ever be in flight, and the observer could not even run. Each sleep
        // is long enough for eight connections to be opened one after another on a loaded machine.
        let sleepers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try await pool.query("SELECT pg_sleep(8)") } }
                try await group.waitForAll()
            }
        }
        var mostInFlight = 0
        let deadline = ContinuousClock.now + .seconds(40)
        while mostInFlight < 8, ContinuousClock.now < deadline {
            let active = try await observer.query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
                    + "AND query LIKE 'SELECT pg_sleep%'",
                configuration.database)
            mostInFlight = max(mostInFlight, try active.first?.decode("n", as: Int.self) ?? 0)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await sleepers.value
        #expect(mostInFlight == 8)
    }
}

@Suite("Server restarts and outages", .serialized)
struct OutageTests {
    @Test func reconnectsAfterTheServerRestarts() async throws {
        let server = try await TemporaryPostgresServer.start()
        let pool = PostgresPool(configuration: server.configuration)
        do {
            try await pool.execute("CREATE TABLE kept (value int)")
            _ = try await pool.query("INSERT INTO kept VALUES ($1)", 42)
            try await server.restart()
            let value = try await pool.query("SELECT value FROM kept").first?.decode("value", as: Int.self)
            #expect(value == 42)
            try await server.restart()
            let read = try await pool.read("SELECT value FROM kept").first?.decode("value", as: Int.self)
            #expect(read == 42)

            try await server.stop()
            do {
                try await pool.ping()
                Issue.record("a stopped server answered")
            } catch {
                #expect(error.isConnectionError)
                #expect(error.code == .connectionFailed)
                #expect(error.description.contains("127.0.0.1:\(server.configuration.port)"))
            }
            try await server.restart()
            try await pool.ping()
        } catch {
            Issue.record(error)
        }
        await pool.close()
        await server.destroy()
    }

    @Test func aClosedPoolRefusesWork() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 1))
        try await pool.ping()
        await pool.close()
        await #expect(throws: PostgresError.self) { try await pool.ping() }
        await #expect(throws: PostgresError.self) { try await pool.read("SELECT 1") }
    }
}

@Suite("Migrations")
struct MigrationTests {
    static let migrations = [
        PostgresMigration(version: 1, name: "accounts", sql: "CREATE TABLE accounts (id bigserial PRIMARY KEY)"),
        PostgresMigration(
            version: 2, name: "account names",
            sql: "ALTER TABLE accounts ADD COLUMN name text; CREATE INDEX accounts_name ON accounts (name)"),
    ]

    @Test func concurrentReplicasApplyEachMigrationOnce() async throws {
        let configuration = try await TestDatabase.create(poolSize: 2)
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let pool = PostgresPool(configuration: configuration)
                    defer { Task { await pool.close() } }
                    return try await PostgresMigrator(owner: "accounts", migrations: Self.migrations).migrate(pool)
                }
            }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        #expect(applied.filter { !$0.isEmpty } == [[1, 2]])
        let pool = PostgresPool(configuration: configuration)
        defer { Task { await pool.close() } }
        let recorded = try await pool.query("SELECT version FROM schema_migrations WHERE owner = 'accounts' ORDER BY 1")
        #expect(try recorded.map { row throws(PostgresError) in try row.decode("version", as: Int.self) } == [1, 2])
        #expect(try await PostgresMigrator(owner: "accounts", migrations: Self.migrations).migrate(pool).isEmpty)
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let pool = PostgresPool(configuration: try await TestDatabase.create(poolSize: 2))
        defer { Task { await pool.close() } }
        let broken = Self.migrations + [PostgresMigration(version: 3, name: "broken", sql: "ALTER TABLE nope ADD x int")]
        await #expect(throws: PostgresError.self) {
            try await PostgresMigrator(owner: "accounts", migrations: broken).migrate(pool)
        }
        let tables = try await pool.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'accounts'")
        #expect(try tables.first?.decode("n", as: Int.self) == 0)
    }
}
