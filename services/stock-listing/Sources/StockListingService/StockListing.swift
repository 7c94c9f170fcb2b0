import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceKit

/// The stock-listing service: the catalogue of tradable stocks and their prices.
/// It owns the `stocks` table.
public enum StockListing {
    /// Name in logs, metrics and `/health`.
    public static let serviceName = "stock-listing"
    /// Port used when `PORT` is unset.
    public static let defaultPort = 8000

    /// Migrates the schema (seeding the catalogue on first boot) and builds the application.
    public static func buildApplication(
        configuration: ServiceConfiguration, pool: PostgresPool, logger: Logger = Logger(label: serviceName),
        build: BuildInfo = .fromEnvironment(service: serviceName)
    ) async throws -> some ApplicationProtocol {
        let applied = try await migrator.migrate(pool)
        if !applied.isEmpty {
            logger.info("migrated", metadata: ["versions": .string(applied.map(String.init).joined(separator: ","))])
        }
        let metrics = ServiceMetrics(build: build)
        return ServiceApplication.build(
            configuration: configuration, routes: routes(pool: pool, metrics: metrics, build: build), metrics: metrics, logger: logger)
    }

    /// Every route the service serves.
    public static func routes(pool: PostgresPool, metrics: ServiceMetrics, build: BuildInfo? = nil) -> RouteTable {
        let handlers = StockHandlers(pool: pool)
        var table = RouteTable()
        table.addStandardRoutes(serviceName: serviceName, pool: pool, metrics: metrics, build: build)
        table.add(.get, "/stocks", handlers.list)
        table.add(.post, "/stocks", handlers.create)
        table.add(.get, "/stocks/{symbol}", handlers.get)
        table.add(.get, "/stocks/{symbol}/price", handlers.price)
        table.add(.put, "/stocks/{symbol}/price", handlers.updatePrice)
        return table
    }

    /// The `stocks` schema and its seed.
    public static let migrator = PostgresMigrator(
        owner: serviceName,
        migrations: [
            PostgresMigration(
                version: 1, name: "create stocks",
                sql: """
                    CREATE TABLE IF NOT EXISTS stocks (
                        symbol varchar(10) COLLATE "C" PRIMARY KEY,
                        name varchar(200) NOT NULL,
                        sector varchar(100) NOT NULL,
                        current_price numeric(12, 2) NOT NULL CHECK (current_price > 0),
                        change_pct numeric(12, 2) NOT NULL DEFAULT 0,
                        volume bigint NOT NULL DEFAULT 0 CHECK (volume >= 0),
                        market_cap bigint NOT NULL DEFAULT 0 CHECK (market_cap >= 0)
                    );
                    CREATE INDEX IF NOT EXISTS stocks_sector_symbol_idx ON stocks (sector, symbol);
                    """),
            PostgresMigration(version: 2, name: "seed stocks", sql: seedSQL),
        ])

    /// The ten stocks of the first boot.
    public static let seed: [(symbol: String, name: String, sector: String, price: String, changePct: String, volume: Int64, marketCap: Int64)] = [
        ("AAPL", "Apple Inc.", "Technology", "189.84", "0.85", 52_164_300, 2_950_000_000_000),
        ("MSFT", "Microsoft Corporation", "Technology", "415.50", "1.12", 21_332_100, 3_090_000_000_000),
        ("GOOGL", "Alphabet Inc.", "Communication Services", "172.63", "-0.41", 25_771_000, 2_140_000_000_000),
        ("AMZN", "Amazon.com Inc.", "Consumer Discretionary", "183.32", "0.27", 38_003_800, 1_910_000_000_000),
        ("NVDA", "NVIDIA Corporation", "Technology", "875.28", "2.35", 45_221_900, 2_150_000_000_000),
        ("TSLA", "Tesla Inc.", "Consumer Discretionary", "177.48", "-1.76", 86_911_700, 565_000_000_000),
        ("JPM", "JPMorgan Chase & Co.", "Financials", "198.47", "0.32", 8_917_500, 571_000_000_000),
        ("V", "Visa Inc.", "Financials", "279.12", "-0.08", 6_046_200, 561_000_000_000),
        ("JNJ", "Johnson & Johnson", "Health Care", "152.64", "-0.22", 7_408_900, 367_000_000_000),
        ("XOM", "Exxon Mobil Corporation", "Energy", "118.03", "0.64", 14_512_600, 468_000_000_000),
    ]

    static var seedSQL: String {
        let rows = seed.map { stock in
            "('\(stock.symbol)', '\(stock.name.replacingOccurrences(of: "'", with: "''"))', '\(stock.sector)', "
                + "\(stock.price), \(stock.changePct), \(stock.volume), \(stock.marketCap))"
        }
        return "INSERT INTO stocks (symbol, name, sector, current_price, change_pct, volume, market_cap) VALUES\n"
            + rows.joined(separator: ",\n") + "\nON CONFLICT (symbol) DO NOTHING;"
    }
}
