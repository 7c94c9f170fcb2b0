import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceKit

/// The trade routes. A buy or a sell is one SQL statement: the symbol check, the position change and the trade
/// insert, committed with the other writes of its batch (`PostgresPool.write`).
struct TradeHandlers: Sendable {
    let pool: PostgresPool
    let logger: Logger

    static let tradeColumns = """
        id, user_id, symbol, side, quantity, trim_scale(price)::text AS price, trim_scale(total)::text AS total, \
        to_char(executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS executed_at
        """

    /// Upserts the position (a position at zero is reopened with a fresh cost basis) and
    /// records the trade, only when the symbol exists.
    static let buySQL = """
        WITH stock AS (SELECT symbol FROM stocks WHERE symbol = $2::varchar), \
        pos AS ( \
        INSERT INTO positions AS p (user_id, symbol, quantity, buy_quantity, buy_cost) \
        SELECT $1::varchar, symbol, $3::bigint, $3::bigint, $4::numeric * $3::bigint FROM stock \
        ON CONFLICT (user_id, symbol) DO UPDATE SET \
        quantity = p.quantity + EXCLUDED.quantity, \
        buy_quantity = CASE WHEN p.quantity = 0 THEN EXCLUDED.buy_quantity ELSE p.buy_quantity + EXCLUDED.buy_quantity END, \
        buy_cost = CASE WHEN p.quantity = 0 THEN EXCLUDED.buy_cost ELSE p.buy_cost + EXCLUDED.buy_cost END \
        RETURNING 1), \
        trade AS ( \
        INSERT INTO trades (user_id, symbol, side, quantity, price, total) \
        SELECT $1::varchar, symbol, 'buy', $3::bigint, $4::numeric, $4::numeric * $3::bigint FROM stock \
        RETURNING \(tradeColumns)) \
        SELECT * FROM trade
        """

    /// Takes the quantity off the position only if enough is held (the row lock of the
    /// UPDATE serialises concurrent sells, which re-check the condition), and records the
    /// trade only when it did; the first columns tell 404 from 409.
    static let sellSQL = """
        WITH stock AS (SELECT symbol FROM stocks WHERE symbol = $2::varchar), \
        pos AS ( \
        UPDATE positions SET quantity = quantity - $3::bigint \
        WHERE user_id = $1::varchar AND symbol = $2::varchar AND quantity >= $3::bigint \
        AND EXISTS (SELECT 1 FROM stock) \
        RETURNING quantity), \
        trade AS ( \
        INSERT INTO trades (user_id, symbol, side, quantity, price, total) \
        SELECT $1::varchar, $2::varchar, 'sell', $3::bigint, $4::numeric, $4::numeric * $3::bigint FROM pos \
        RETURNING \(tradeColumns)) \
        SELECT (SELECT count(*) FROM stock) AS stock_found, \
        (SELECT quantity FROM pos) AS remaining, \
        (SELECT quantity FROM positions WHERE user_id = $1::varchar AND symbol = $2::varchar) AS held, \
        trade.* FROM (SELECT 1) AS one LEFT JOIN trade ON true
        """

    static let deleteClosedSQL = "DELETE FROM positions WHERE user_id = $1 AND symbol = $2 AND quantity = 0"
    static let listSQL = "SELECT \(tradeColumns) FROM trades WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    static let getSQL = "SELECT \(tradeColumns) FROM trades WHERE id = $1"
    static let portfolioSQL = """
        SELECT symbol, quantity, \
        trim_scale(div(buy_cost * 20000 + buy_quantity, 2 * buy_quantity) * 0.0001)::text AS average_price \
        FROM positions WHERE user_id = $1 AND quantity > 0 ORDER BY symbol
        """

    struct Order {
        var userID: String
        var symbol: String
        var quantity: Int64
        var price: ExactDecimal
    }

    static func order(from request: Request) async throws -> Order {
        let body = try await JSONBody.object(from: request)
        let userID = try body.string("user_id", length: 1...64)
        guard UserID.isValid(userID) else {
            throw APIError.validation("body.user_id: must be 1-64 chars [A-Za-z0-9_.-]")
        }
        let rawSymbol = try body.string("symbol", length: 1...10)
        guard let symbol = StockSymbol.normalize(rawSymbol) else {
            throw APIError.validation("body.symbol: must be 1-10 chars [A-Z0-9.-], starting with a letter")
        }
        let quantity = try body.integer("quantity", in: 1...1_000_000)
        let price = try body.decimal("price", range: 0...1_000_000, lowerExclusive: true)
        return Order(userID: userID, symbol: symbol, quantity: quantity, price: price)
    }

    func buy(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let order = try await Self.order(from: request)
        let result = try await tradeStatement(Self.buySQL, order)
        guard let row = result.first else { throw Self.unknownStock(order.symbol) }
        return .json(try Self.tradeJSON(row), status: .created)
    }

    func sell(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let order = try await Self.order(from: request)
        let result = try await tradeStatement(Self.sellSQL, order)
        guard let row = result.first, try row.decode("stock_found", as: Int64.self) > 0 else {
            throw Self.unknownStock(order.symbol)
        }
        guard let remaining = try row.decodeIfPresent("remaining", as: Int64.self) else {
            let held = try row.decodeIfPresent("held", as: Int64.self) ?? 0
            throw APIError.conflict(
                "insufficient_holdings",
                "\(order.userID) holds \(held) \(order.symbol), cannot sell \(order.quantity)")
        }
        if remaining == 0 {
            do {
                _ = try await pool.write(Self.deleteClosedSQL, order.userID, order.symbol)
            } catch {
                logger.warning("closed position not removed yet", metadata: ["error": .string(error.message)])
            }
        }
        return .json(try Self.tradeJSON(row), status: .created)
    }

    /// Runs a buy or sell; a missing `stocks` table (stock-listing not migrated yet) is an
    /// unknown symbol.
    private func tradeStatement(_ sql: String, _ order: Order) async throws -> PostgresResult {
        do {
            return try await pool.write(sql, order.userID, order.symbol, order.quantity, order.price)
        } catch {
            guard Self.isMissingStocksTable(error) else { throw error }
            logger.warning("stocks table missing: stock-listing has not migrated this database yet")
            throw Self.unknownStock(order.symbol)
        }
    }

    static func isMissingStocksTable(_ error: PostgresError) -> Bool {
        error.sqlState == "42P01" && error.message.contains("\"stocks\"")
    }

    func list(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        guard let userID = query["user_id"] else { throw APIError.validation("query.user_id: field required") }
        guard UserID.isValid(userID) else {
            throw APIError.validation("query.user_id: must be 1-64 chars [A-Za-z0-9_.-]")
        }
        let skip = try query.integer("skip", in: 0...Int64.max, default: 0)
        let limit = try query.integer("limit", in: 1...1000, default: 100)
        let result = try await pool.read(Self.listSQL, userID, limit, skip)
        var output = "["
        output.reserveCapacity(200 * result.count + 2)
        for (index, row) in result.enumerated() {
            if index > 0 { output.append(",") }
            output.append(try Self.tradeJSON(row))
        }
        output.append("]")
        return .json(output)
    }

    func get(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let raw = context.pathParameter("trade_id")
        guard let id = Int64(raw), id >= 1 else {
            throw APIError.validation("path.trade_id: must be an integer between 1 and \(Int64.max)")
        }
        guard let row = try await pool.read(Self.getSQL, id).first else {
            throw APIError.notFound("trade \(id) not found")
        }
        return .json(try Self.tradeJSON(row))
    }

    func portfolio(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let userID = context.pathParameter("user_id")
        guard UserID.isValid(userID) else {
            throw APIError.validation("path.user_id: must be 1-64 chars [A-Za-z0-9_.-]")
        }
        let result = try await pool.read(Self.portfolioSQL, userID)
        var writer = JSONWriter(capacity: 64 + 80 * result.count)
        writer.beginObject()
        writer.field("user_id", userID)
        writer.key("positions")
        writer.beginArray()
        for row in result {
            writer.beginObject()
            writer.field("symbol", try row.decode("symbol", as: String.self))
            writer.field("quantity", number: try row.decode("quantity", as: String.self))
            writer.field("average_price", number: try row.decode("average_price", as: String.self))
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return .json(writer)
    }

    static func unknownStock(_ symbol: String) -> APIError {
        .notFound("stock \(symbol) not found")
    }

    static func tradeJSON(_ row: PostgresRow) throws -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.field("id", number: try row.decode("id", as: String.self))
        writer.field("user_id", try row.decode("user_id", as: String.self))
        writer.field("symbol", try row.decode("symbol", as: String.self))
        writer.field("side", try row.decode("side", as: String.self))
        writer.field("quantity", number: try row.decode("quantity", as: String.self))
        writer.field("price", number: try row.decode("price", as: String.self))
        writer.field("total", number: try row.decode("total", as: String.self))
        writer.field("executed_at", try row.decode("executed_at", as: String.self))
        writer.endObject()
        return writer.output
    }
}
