import Foundation
import Hummingbird
import Logging
import NIOCore
import Postgres
import PostgresTestSupport
import ServiceKit
import ServiceTestSupport
import StockListingService
import Testing

@testable import TradeService

let quietLogger = ServiceTestSupport.quietLogger("trade-test")

/// A fresh database where stock-listing has created and seeded `stocks`, then the trade
/// application on it, with a router test client.
func withTrade(
    migrateStocks: Bool = true,
    _ body: @Sendable (any TestClientProtocol, PostgresPool) async throws -> Void
) async throws {
    let database = try await TestDatabase.create()
    try await withTrade(database: database, migrateStocks: migrateStocks, body)
}

func withTrade(
    database: PostgresConfiguration, migrateStocks: Bool = true,
    _ body: @Sendable (any TestClientProtocol, PostgresPool) async throws -> Void
) async throws {
    try await withApplication(
        database: database, logger: quietLogger,
        { pool in
            if migrateStocks { _ = try await StockListing.migrator.migrate(pool) }
            let configuration = ServiceConfiguration(serviceName: TradeApp.serviceName, database: database)
            return try await TradeApp.buildApplication(configuration: configuration, pool: pool, logger: quietLogger)
        }, body)
}

/// Both trade tables as text, to compare before and after a request.
func tradeState(_ pool: PostgresPool) async throws -> [String] {
    let trades = try await pool.query(
        "SELECT id || '|' || user_id || '|' || symbol || '|' || side || '|' || quantity || '|' || price || '|' || total AS line FROM trades ORDER BY id"
    ).map { try $0.decode("line", as: String.self) }
    let positions = try await pool.query(
        "SELECT user_id || '|' || symbol || '|' || quantity || '|' || buy_quantity || '|' || buy_cost AS line FROM positions ORDER BY user_id, symbol"
    ).map { try $0.decode("line", as: String.self) }
    return trades + ["--"] + positions
}

/// The service directory (`services/trade`).
let serviceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
