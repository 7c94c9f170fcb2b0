import Foundation
import Hummingbird
import Postgres
import ServiceKit

/// The stock routes; every query is one parameterised statement.
struct StockHandlers: Sendable {
    let pool: PostgresPool

    static let columns = """
        symbol, name, sector, trim_scale(current_price)::text AS current_price, \
        trim_scale(change_pct)::text AS change_pct, volume, market_cap
        """
    static let listAll = "SELECT \(columns) FROM stocks ORDER BY symbol LIMIT $1 OFFSET $2"
    static let listSector = "SELECT \(columns) FROM stocks WHERE sector = $1 ORDER BY symbol LIMIT $2 OFFSET $3"
    static let selectOne = "SELECT \(columns) FROM stocks WHERE symbol = $1"
    static let selectPrice = """
        SELECT symbol, trim_scale(current_price)::text AS current_price, trim_scale(change_pct)::text AS change_pct \
        FROM stocks WHERE symbol = $1
        """
    static let insert = """
        INSERT INTO stocks (symbol, name, sector, current_price, change_pct, volume, market_cap) \
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (symbol) DO NOTHING RETURNING \(columns)
        """
    static let updatePrice = """
        UPDATE stocks SET current_price = $2::numeric, change_pct = COALESCE($3::numeric, change_pct) \
        WHERE symbol = $1 RETURNING \(columns)
        """

    static let priceRule = DecimalRule(range: 0...1_000_000, lowerExclusive: true)
    static let changeRule = DecimalRule(range: -100...1_000_000)
    static let bigintRange: ClosedRange<Int64> = 0...Int64.max

    func list(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        let skip = try query.integer("skip", in: 0...Int64.max, default: 0)
        let limit = try query.integer("limit", in: 1...1000, default: 100)
        let result: PostgresResult
        if let sector = query["sector"], !sector.isEmpty {
            guard sector.count <= 100, !sector.utf8.contains(0) else {
                throw APIError.validation("query.sector: must be at most 100 characters without NUL")
            }
            result = try await pool.read(Self.listSector, sector, limit, skip)
        } else {
            result = try await pool.read(Self.listAll, limit, skip)
        }
        var writer = JSONWriter(capacity: 192 * result.count + 2)
        writer.beginArray()
        for row in result { try Self.writeStock(row, to: &writer) }
        writer.endArray()
        return .json(writer)
    }

    func get(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let raw = context.pathParameter("symbol")
        guard let symbol = StockSymbol.normalize(raw),
            let row = try await pool.read(Self.selectOne, symbol).first
        else { throw Self.notFound(raw) }
        var writer = JSONWriter(capacity: 192)
        try Self.writeStock(row, to: &writer)
        return .json(writer)
    }

    func price(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let raw = context.pathParameter("symbol")
        guard let symbol = StockSymbol.normalize(raw),
            let row = try await pool.read(Self.selectPrice, symbol).first
        else { throw Self.notFound(raw) }
        var writer = JSONWriter(capacity: 96)
        writer.beginObject()
        writer.field("symbol", try row.decode("symbol", as: String.self))
        writer.field("current_price", number: try row.decode("current_price", as: String.self))
        writer.field("change_pct", number: try row.decode("change_pct", as: String.self))
        writer.endObject()
        return .json(writer)
    }

    func create(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let body = try await JSONBody.object(from: request)
        let rawSymbol = try body.string("symbol", length: 1...10)
        guard let symbol = StockSymbol.normalize(rawSymbol) else {
            throw APIError.validation("body.symbol: must be 1-10 chars [A-Z0-9.-], starting with a letter")
        }
        let name = try body.string("name", length: 1...200)
        let sector = try body.string("sector", length: 1...100)
        let price = try body.decimal("current_price", range: Self.priceRule.range, lowerExclusive: true)
        let change = try body.decimal("change_pct", range: Self.changeRule.range, default: ExactDecimal("0"))
        let volume = try body.integer("volume", in: Self.bigintRange, default: 0)
        let marketCap = try body.integer("market_cap", in: Self.bigintRange, default: 0)
        guard
            let row = try await pool.query(Self.insert, symbol, name, sector, price, change, volume, marketCap).first
        else {
            throw APIError.conflict("duplicate", "stock \(symbol) already exists")
        }
        var writer = JSONWriter(capacity: 192)
        try Self.writeStock(row, to: &writer)
        return .json(writer, status: .created)
    }

    func updatePrice(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let raw = context.pathParameter("symbol")
        let query = QueryParameters(request)
        guard let price = try query.decimal("price", rule: Self.priceRule, required: true) else {
            throw APIError.validation("query.price: field required")
        }
        let change = try query.decimal("change_pct", rule: Self.changeRule, required: false)
        guard let symbol = StockSymbol.normalize(raw),
            let row = try await pool.query(Self.updatePrice, symbol, price, change).first
        else { throw Self.notFound(raw) }
        var writer = JSONWriter(capacity: 192)
        try Self.writeStock(row, to: &writer)
        return .json(writer)
    }

    static func notFound(_ raw: String) -> APIError {
        .notFound("stock '\(raw)' not found")
    }

    static func writeStock(_ row: PostgresRow, to writer: inout JSONWriter) throws {
        writer.beginObject()
        writer.field("symbol", try row.decode("symbol", as: String.self))
        writer.field("name", try row.decode("name", as: String.self))
        writer.field("sector", try row.decode("sector", as: String.self))
        writer.field("current_price", number: try row.decode("current_price", as: String.self))
        writer.field("change_pct", number: try row.decode("change_pct", as: String.self))
        writer.field("volume", number: try row.decode("volume", as: String.self))
        writer.field("market_cap", number: try row.decode("market_cap", as: String.self))
        writer.endObject()
    }
}
