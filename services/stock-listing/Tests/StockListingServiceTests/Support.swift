import Foundation
import Hummingbird
import Logging
import NIOCore
import Postgres
import PostgresTestSupport
import ServiceKit
import ServiceTestSupport
import Testing

@testable import StockListingService

let quietLogger = ServiceTestSupport.quietLogger("stock-listing-test")

/// Builds the application on a fresh database and runs `body` with a router test client.
func withStockListing(
    _ body: @Sendable (any TestClientProtocol, PostgresPool) async throws -> Void
) async throws {
    let database = try await TestDatabase.create()
    try await withStockListing(database: database, body)
}

func withStockListing(
    database: PostgresConfiguration, _ body: @Sendable (any TestClientProtocol, PostgresPool) async throws -> Void
) async throws {
    try await withApplication(
        database: database, logger: quietLogger,
        { pool in
            let configuration = ServiceConfiguration(serviceName: StockListing.serviceName, database: database)
            return try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: quietLogger)
        }, body)
}

/// The whole `stocks` table as text, to compare before and after a request.
func stocksSnapshot(_ pool: PostgresPool) async throws -> [String] {
    try await pool.query(
        "SELECT symbol || '|' || name || '|' || sector || '|' || current_price || '|' || change_pct || '|' || volume || '|' || market_cap AS line FROM stocks ORDER BY symbol"
    ).map { try $0.decode("line", as: String.self) }
}

/// The service directory (`services/stock-listing`).
let serviceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
