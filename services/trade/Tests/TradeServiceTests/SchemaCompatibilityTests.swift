import Foundation
import Hummingbird
import Postgres
import PostgresTestSupport
import ServiceKit
import ServiceTestSupport
import StockListingService
import Testing

@testable import TradeService

/// During a release the version still serving shares the database with the new one, and a rollback runs it against the
/// new schema: migrations expand, and the running code keeps working on an expanded schema.
@Suite("schema compatibility")
struct SchemaCompatibilityTests {
    @Test func everyExpandMigrationOfBothServicesIsBackwardCompatible() {
        for migration in TradeApp.migrator.migrations + StockListing.migrator.migrations where migration.kind == .expand {
            #expect(PostgresMigration.incompatibleStatements(migration.sql).isEmpty, "\(migration.name)")
        }
    }

    @Test func theCheckNamesWhatTheRunningVersionWouldTripOn() {
        let expanding = """
            CREATE TABLE IF NOT EXISTS audit (id bigint NOT NULL PRIMARY KEY, note text NOT NULL);
            ALTER TABLE trades ADD COLUMN venue text;
            ALTER TABLE trades ADD COLUMN fee numeric(12, 2) NOT NULL DEFAULT 0;
            CREATE INDEX IF NOT EXISTS trades_symbol_idx ON trades (symbol);
            """
        #expect(PostgresMigration.incompatibleStatements(expanding).isEmpty)
        let breaking = PostgresMigration.incompatibleStatements(
            """
            ALTER TABLE trades DROP COLUMN total;
            ALTER TABLE trades RENAME COLUMN price TO unit_price;
            ALTER TABLE trades ALTER COLUMN quantity TYPE numeric;
            ALTER TABLE trades ALTER COLUMN user_id SET NOT NULL;
            ALTER TABLE trades ADD COLUMN venue text NOT NULL;
            DROP TABLE positions
            """)
        #expect(breaking.count == 6, "\(breaking)")
        #expect(breaking.first == "ALTER TABLE trades DROP COLUMN total: drops what the running version may read")
    }

    /// What a next release might add — a column on each table, a defaulted NOT NULL one, a new table — and this version
    /// (the one still serving, or rolled back to) buying, selling and reading on it.
    @Test func theRunningVersionKeepsWorkingOnTheNextReleasesExpandedSchema() async throws {
        try await withTrade { client, pool in
            let nextRelease = """
                ALTER TABLE trades ADD COLUMN venue text;
                ALTER TABLE trades ADD COLUMN fee numeric(12, 2) NOT NULL DEFAULT 0;
                ALTER TABLE positions ADD COLUMN opened_at timestamptz DEFAULT now();
                ALTER TABLE stocks ADD COLUMN isin varchar(12);
                CREATE TABLE IF NOT EXISTS trade_notes (trade_id bigint NOT NULL, note text NOT NULL)
                """
            #expect(PostgresMigration.incompatibleStatements(nextRelease).isEmpty)
            for statement in nextRelease.split(separator: ";") {
                try await pool.execute(String(statement))
            }
            #expect(try await client.buy("carol", "MSFT", 4, "415.50").status == .created)
            #expect(try await client.sell("carol", "MSFT", 1, "420.00").status == .created)
            let portfolio = try await client.get("/portfolio/carol")
            #expect(portfolio.text == #"{"user_id":"carol","positions":[{"symbol":"MSFT","quantity":3,"average_price":415.5}]}"#)
            let history = try await client.get("/trades?user_id=carol")
            #expect(history.status == .ok, "\(history.text)")
            let state = try await tradeState(pool)
            #expect(state.contains("carol|MSFT|3|4|1662.00"), "\(state)")
        }
    }
}
