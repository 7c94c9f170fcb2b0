import Foundation
import Hummingbird
import Postgres
import PostgresTestSupport
import ServiceKit
import ServiceTestSupport
import StockListingService
import Testing

@testable import TradeService

func order(_ user: String, _ symbol: String, _ quantity: Int, _ price: String) -> String {
    #"{"user_id":"\#(user)","symbol":"\#(symbol)","quantity":\#(quantity),"price":\#(price)}"#
}

extension TestClientProtocol {
    func buy(_ user: String, _ symbol: String, _ quantity: Int, _ price: String) async throws -> TestResponse {
        try await send(.post, "/trades/buy", json: order(user, symbol, quantity, price))
    }

    func sell(_ user: String, _ symbol: String, _ quantity: Int, _ price: String) async throws -> TestResponse {
        try await send(.post, "/trades/sell", json: order(user, symbol, quantity, price))
    }

    /// `symbol → (quantity, average_price text)` of a user's portfolio.
    func positions(_ user: String) async throws -> [String: (Int, String)] {
        let response = try await get("/portfolio/\(user)")
        var result: [String: (Int, String)] = [:]
        for position in try response.json["positions"]?.arrayValue ?? [] {
            guard let symbol = position["symbol"]?.stringValue, let quantity = position["quantity"]?.numberText,
                let average = position["average_price"]?.numberText
            else { continue }
            result[symbol] = (Int(quantity) ?? -1, average)
        }
        return result
    }
}

@Suite("trade routes")
struct TradeRoutesTests {
    @Test func healthNamesTheService() async throws {
        try await withTrade { client, _ in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(response.text == #"{"status":"ok","service":"trade","version":"unknown","revision":"unknown","database":"ok"}"#)
        }
    }

    @Test func buyRecordsTradeAndPosition() async throws {
        try await withTrade { client, pool in
            let response = try await client.buy("alice", "aapl", 10, "189.84")
            #expect(response.status == .created)
            let trade = try response.json
            let id = try #require(trade["id"]?.numberText.flatMap { Int($0) })
            #expect(trade["user_id"]?.stringValue == "alice")
            #expect(trade["symbol"]?.stringValue == "AAPL")
            #expect(trade["side"]?.stringValue == "buy")
            #expect(trade["quantity"]?.numberText == "10")
            #expect(trade["price"]?.numberText == "189.84")
            #expect(trade["total"]?.numberText == "1898.4")
            let executedAt = try #require(trade["executed_at"]?.stringValue)
            #expect(try Date(executedAt, strategy: .iso8601) <= Date())

            let fetched = try await client.get("/trades/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.text == response.text)
            #expect(try await tradeState(pool) == ["\(id)|alice|AAPL|buy|10|189.84|1898.40", "--", "alice|AAPL|10|10|1898.40"])
            let portfolio = try await client.get("/portfolio/alice")
            #expect(portfolio.text == #"{"user_id":"alice","positions":[{"symbol":"AAPL","quantity":10,"average_price":189.84}]}"#)
        }
    }

    @Test func moneyIsExactToTheCent() async throws {
        try await withTrade { client, pool in
            let three = try await client.buy("cents", "MSFT", 3, "0.10")
            #expect(three.status == .created)
            #expect(try three.json["total"]?.numberText == "0.3")
            #expect(try three.json["price"]?.numberText == "0.1")
            for _ in 0..<3 {
                #expect(try await client.buy("sum", "MSFT", 1, "0.10").status == .created)
            }
            let total = try await pool.query("SELECT sum(total)::text AS s FROM trades WHERE user_id = 'sum'")
            #expect(try total.first?.decode("s", as: String.self) == "0.30")
            #expect(try await client.positions("sum")["MSFT"]?.1 == "0.1")
        }
    }

    @Test(arguments: ["10.001", "0.005", "189.845"])
    func priceWithThreeDecimalsIs422NotRounded(price: String) async throws {
        try await withTrade { client, pool in
            let response = try await client.buy("alice", "AAPL", 1, price)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "validation_error")
            #expect(try await count(pool, "SELECT count(*) AS n FROM trades") == 0)
        }
    }

    @Test func weightedAverageFollowsTheBuysSinceOpening() async throws {
        try await withTrade { client, _ in
            var statuses: [Int] = []
            statuses.append(try await client.buy("w", "NVDA", 10, "100").status.code)
            statuses.append(try await client.buy("w", "NVDA", 10, "110").status.code)
            let opened = try await client.positions("w")["NVDA"]
            #expect(opened?.0 == 20)
            #expect(opened?.1 == "105")
            statuses.append(try await client.sell("w", "NVDA", 5, "150").status.code)
            let afterSell = try await client.positions("w")["NVDA"]
            #expect(afterSell?.0 == 15)
            #expect(afterSell?.1 == "105", "sells leave the average unchanged")
            statuses.append(try await client.sell("w", "NVDA", 15, "90").status.code)
            let closed = try await client.positions("w")
            #expect(closed["NVDA"] == nil, "a position at zero disappears")
            statuses.append(try await client.buy("w", "NVDA", 3, "50").status.code)
            let reopened = try await client.positions("w")["NVDA"]
            #expect(reopened?.0 == 3)
            #expect(reopened?.1 == "50", "a new position has a new average")
            statuses.append(try await client.buy("w", "NVDA", 4, "50.01").status.code)
            let rounded = try await client.positions("w")["NVDA"]
            #expect(rounded?.1 == "50.0057", "rendered with 4 decimals, rounded")
            #expect(statuses == Array(repeating: 201, count: 6))
        }
    }

    @Test func sellingMoreThanHeldIs409() async throws {
        try await withTrade { client, pool in
            #expect(try await client.buy("bob", "TSLA", 5, "177.48").status == .created)
            let before = try await tradeState(pool)
            let response = try await client.sell("bob", "TSLA", 6, "180")
            #expect(response.status == .conflict)
            #expect(response.errorCode == "insufficient_holdings")
            #expect(try response.json["detail"]?.stringValue?.contains("holds 5") == true)
            let nothingHeld = try await client.sell("bob", "AAPL", 1, "180")
            #expect(nothingHeld.status == .conflict)
            #expect(nothingHeld.errorCode == "insufficient_holdings")
            #expect(try await tradeState(pool) == before)
        }
    }

    @Test func unknownSymbolIs404() async throws {
        try await withTrade { client, pool in
            let buy = try await client.buy("carol", "NOPE", 1, "1")
            #expect(buy.status == .notFound)
            #expect(buy.errorCode == "not_found")
            let sell = try await client.sell("carol", "NOPE", 1, "1")
            #expect(sell.status == .notFound)
            #expect(try await tradeState(pool) == ["--"])
        }
    }

    @Test func withoutTheStocksTableTradesAre404() async throws {
        try await withTrade(migrateStocks: false) { client, pool in
            let buy = try await client.buy("dave", "AAPL", 1, "1")
            #expect(buy.status == .notFound)
            let sell = try await client.sell("dave", "AAPL", 1, "1")
            #expect(sell.status == .notFound)
            _ = try await StockListing.migrator.migrate(pool)
            let later = try await client.buy("dave", "AAPL", 1, "1")
            #expect(later.status == .created, "works once stock-listing has migrated")
        }
    }

    @Test func concurrentSellsNeverGoBelowZero() async throws {
        try await withTrade { client, pool in
            #expect(try await client.buy("race", "AAPL", 20, "100").status == .created)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<60 {
                    group.addTask { try await client.sell("race", "AAPL", 1, "101").status.code }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 20)
            #expect(statuses.filter { $0 == 409 }.count == 40)
            #expect(try await client.positions("race")["AAPL"] == nil)
            #expect(try await count(pool, "SELECT count(*) AS n FROM positions WHERE quantity > 0") == 0)
            #expect(try await count(pool, "SELECT count(*) AS n FROM trades WHERE side = 'sell'") == 20)
        }
    }

    @Test func concurrentBuysAllCount() async throws {
        try await withTrade { client, pool in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 {
                    group.addTask { try await client.buy("many", "JPM", 1, "198.47").status.code }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 201, count: 40))
            #expect(try await count(pool, "SELECT count(*) AS n FROM trades") == 40)
            #expect(try await client.positions("many")["JPM"]?.0 == 40)
            #expect(try await client.positions("many")["JPM"]?.1 == "198.47")
        }
    }

    @Test func portfolioEqualsTheSumOfTrades() async throws {
        try await withTrade { client, pool in
            let steps: [(Bool, String, Int)] = [
                (true, "AAPL", 7), (true, "MSFT", 3), (false, "AAPL", 2), (true, "AAPL", 1), (false, "MSFT", 3),
                (false, "AAPL", 9), (true, "V", 4),
            ]
            for (isBuy, symbol, quantity) in steps {
                _ =
                    isBuy
                    ? try await client.buy("sum", symbol, quantity, "10.5")
                    : try await client.sell("sum", symbol, quantity, "11")
            }
            let fromTrades = try await pool.query(
                """
                SELECT symbol, sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END)::text AS q
                FROM trades WHERE user_id = 'sum' GROUP BY symbol
                HAVING sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) <> 0 ORDER BY symbol
                """
            ).map { "\(try $0.decode("symbol", as: String.self))=\(try $0.decode("q", as: String.self))" }
            let positions = try await client.positions("sum").map { "\($0.key)=\($0.value.0)" }.sorted()
            #expect(fromTrades == positions)
            #expect(positions == ["AAPL=6", "V=4"])
        }
    }

    @Test func tradesAreListedNewestFirstWithPagination() async throws {
        try await withTrade { client, _ in
            var ids: [String] = []
            for index in 1...5 {
                let response = try await client.buy("lister", "XOM", index, "118.03")
                ids.append(try #require(try response.json["id"]?.numberText))
            }
            _ = try await client.buy("other", "XOM", 1, "1")
            let all = try await client.get("/trades?user_id=lister")
            #expect(all.status == .ok)
            #expect(try all.json.arrayValue.compactMap { $0["id"]?.numberText } == ids.reversed())
            let page = try await client.get("/trades?user_id=lister&skip=1&limit=2")
            #expect(try page.json.arrayValue.compactMap { $0["id"]?.numberText } == [ids[3], ids[2]])
            let nobody = try await client.get("/trades?user_id=nobody")
            #expect(nobody.text == "[]")
        }
    }

    @Test(arguments: [
        "/trades", "/trades?user_id=", "/trades?user_id=a%20b", "/trades?user_id=x&limit=0", "/trades?user_id=x&limit=1001",
        "/trades?user_id=x&skip=-1", "/trades?user_id=x&skip=abc",
    ])
    func invalidTradeListIs422(uri: String) async throws {
        try await withTrade { client, _ in
            let response = try await client.get(uri)
            #expect(response.status == .unprocessableContent, "\(uri)")
            #expect(response.errorCode == "validation_error")
        }
    }

    @Test func getTradeErrors() async throws {
        try await withTrade { client, _ in
            let missing = try await client.get("/trades/999999")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
            for invalid in ["abc", "0", "-1", "99999999999999999999", "1.5"] {
                let response = try await client.get("/trades/\(invalid)")
                #expect(response.status == .unprocessableContent, "\(invalid)")
            }
        }
    }

    @Test func portfolioOfUnknownUserIsEmpty() async throws {
        try await withTrade { client, _ in
            let response = try await client.get("/portfolio/ghost")
            #expect(response.status == .ok)
            #expect(response.text == #"{"user_id":"ghost","positions":[]}"#)
            let invalid = try await client.get("/portfolio/bad%20user")
            #expect(invalid.status == .unprocessableContent)
        }
    }

    static let badOrders: [(String, String, String?, Int)] = [
        ("/trades/buy", "{", "application/json", 400),
        ("/trades/buy", "", "application/json", 400),
        ("/trades/sell", "[1]", "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "1"), "text/plain", 415),
        ("/trades/sell", order("u", "AAPL", 1, "1"), nil, 415),
        ("/trades/buy", #"{"symbol":"AAPL","quantity":1,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","quantity":1,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":"10","price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":1.5,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":1.0,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":true,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":null,"price":1}"#, "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 0, "1"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", -1, "1"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1_000_001, "1"), "application/json", 422),
        ("/trades/buy", #"{"user_id":"u","symbol":"AAPL","quantity":99999999999999999999999,"price":1}"#, "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "0"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "-1"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "1000000.01"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "\"1\""), "application/json", 422),
        ("/trades/buy", order("u", "AAPL", 1, "1e400"), "application/json", 422),
        ("/trades/sell", order("u", "AAPL", 1, "0.001"), "application/json", 422),
        ("/trades/buy", order("", "AAPL", 1, "1"), "application/json", 422),
        ("/trades/buy", order("a b", "AAPL", 1, "1"), "application/json", 422),
        ("/trades/buy", order(String(repeating: "u", count: 65), "AAPL", 1, "1"), "application/json", 422),
        ("/trades/buy", order("u", "", 1, "1"), "application/json", 422),
        ("/trades/buy", order("u", "1AAPL", 1, "1"), "application/json", 422),
        ("/trades/buy", order("u", "AAPL'--", 1, "1"), "application/json", 422),
        ("/trades/buy", #"{"user_id":7,"symbol":"AAPL","quantity":1,"price":1}"#, "application/json", 422),
        ("/trades/buy", #"{"user_id":"u\u0000","symbol":"AAPL","quantity":1,"price":1}"#, "application/json", 422),
        ("/trades/buy", order("<70000 x>", "AAPL", 1, "1"), "application/json", 413),
    ]

    @Test(arguments: badOrders)
    func badInputNeverFailsOrChangesState(path: String, body: String, contentType: String?, status: Int) async throws {
        try await withTrade { client, pool in
            #expect(try await client.buy("u", "AAPL", 3, "10").status == .created)
            let before = try await tradeState(pool)
            let response = try await client.send(.post, path, json: expandPlaceholder(body), contentType: contentType)
            #expect(response.status.code == status, "\(body.prefix(80)): \(response.text)")
            #expect(response.status.code < 500)
            #expect(try response.json["error"]?.stringValue != nil)
            #expect(try await tradeState(pool) == before)
        }
    }

    @Test func routesMatchOpenAPI() async throws {
        let pool = PostgresPool(
            configuration: PostgresConfiguration(host: "127.0.0.1", port: 1, user: "u", password: nil, database: "d"),
            logger: quietLogger)
        let served = Set(TradeApp.routes(pool: pool, metrics: ServiceMetrics()).routes)
        await pool.close()
        let documented = try openAPIRoutes(at: serviceDirectory.appendingPathComponent("openapi.yaml").path)
        #expect(served.subtracting(documented).isEmpty, "served but not documented")
        #expect(documented.subtracting(served).isEmpty, "documented but not served")
        #expect(served.count == 9)
    }

    @Test func unknownRouteAndMethod() async throws {
        try await withTrade { client, _ in
            let missing = try await client.get("/trades/1/extra")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
            let wrongMethod = try await client.get("/trades/buy")
            #expect(wrongMethod.status == .methodNotAllowed || wrongMethod.status == .unprocessableContent)
            let put = try await client.send(.put, "/trades/buy", json: "{}")
            #expect(put.status == .methodNotAllowed)
            #expect(put.errorCode == "method_not_allowed")
        }
    }
}

@Suite("trade persistence", .serialized)
struct TradePersistenceTests {
    @Test func tradesSurviveARestartAnd503WhileDown() async throws {
        let server = try await TemporaryPostgresServer.start()
        do {
            try await withTrade(database: server.configuration) { client, _ in
                #expect(try await client.buy("p", "AAPL", 2, "150.25").status == .created)
                try await server.stop()
                let health = try await client.get("/health")
                #expect(health.status == .serviceUnavailable)
                #expect(health.text == #"{"status":"degraded","service":"trade","version":"unknown","revision":"unknown","database":"unreachable"}"#)
                let buy = try await client.buy("p", "AAPL", 1, "1")
                #expect(buy.status == .serviceUnavailable)
                #expect(buy.errorCode == "database_unavailable")
                try await server.restart()
            }
            try await withTrade(database: server.configuration) { client, _ in
                #expect(try await client.positions("p")["AAPL"]?.0 == 2)
                #expect(try await client.positions("p")["AAPL"]?.1 == "150.25")
                let trades = try await client.get("/trades?user_id=p")
                #expect(try trades.json.arrayValue.count == 1)
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
