import Foundation
import Hummingbird
import Postgres
import PostgresTestSupport
import ServiceKit
import ServiceTestSupport
import Testing

@testable import StockListingService

@Suite("stock-listing routes")
struct StockRoutesTests {
    @Test func healthReportsDatabase() async throws {
        try await withStockListing { client, _ in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(response.text == #"{"status":"ok","service":"stock-listing","version":"unknown","revision":"unknown","database":"ok"}"#)
            #expect(response.headers[.contentType] == "application/json")
        }
    }

    @Test func firstBootSeedsTenStocksOnce() async throws {
        let database = try await TestDatabase.create()
        try await withStockListing(database: database) { client, pool in
            let response = try await client.get("/stocks")
            #expect(response.status == .ok)
            let symbols = try response.json.arrayValue.compactMap { $0["symbol"]?.stringValue }
            #expect(symbols.count == 10)
            #expect(symbols.contains("AAPL"))
            #expect(Set(try response.json.arrayValue.compactMap { $0["sector"]?.stringValue }).count >= 4)
            _ = try await pool.query("DELETE FROM stocks WHERE symbol = 'XOM'")
        }
        try await withStockListing(database: database) { _, pool in
            let count = try await pool.query("SELECT count(*) AS n FROM stocks").first?.decode("n", as: Int.self)
            #expect(count == 9, "a second boot neither fails nor seeds again")
        }
    }

    @Test func getStockIsCaseInsensitiveAndExact() async throws {
        try await withStockListing { client, _ in
            let response = try await client.get("/stocks/aapl")
            #expect(response.status == .ok)
            let stock = try response.json
            #expect(stock["symbol"]?.stringValue == "AAPL")
            #expect(stock["name"]?.stringValue == "Apple Inc.")
            #expect(stock["sector"]?.stringValue == "Technology")
            #expect(stock["current_price"]?.numberText == "189.84")
            #expect(stock["change_pct"]?.numberText == "0.85")
            #expect(stock["volume"]?.numberText == "52164300")
            #expect(stock["market_cap"]?.numberText == "2950000000000")

            let price = try await client.get("/stocks/MsFt/price")
            #expect(price.status == .ok)
            #expect(price.text == #"{"symbol":"MSFT","current_price":415.5,"change_pct":1.12}"#)
        }
    }

    @Test(arguments: ["/stocks/NOPE", "/stocks/1ABC", "/stocks/TOOLONGSYMBOL", "/stocks/NOPE/price", "/stocks/%24X/price"])
    func unknownOrInvalidSymbolIs404(path: String) async throws {
        try await withStockListing { client, _ in
            let response = try await client.get(path)
            #expect(response.status == .notFound)
            #expect(response.errorCode == "not_found")
            #expect(try response.json["detail"]?.stringValue != nil)
        }
    }

    @Test func aPercentEncodedSymbolIsDecoded() async throws {
        try await withStockListing { client, _ in
            let response = try await client.get("/stocks/%41APL")
            #expect(response.status == .ok, "\(response.text)")
            #expect(try response.json["symbol"]?.stringValue == "AAPL")
        }
    }

    @Test func listIsInByteOrderWithPaginationAndSector() async throws {
        try await withStockListing { client, _ in
            for symbol in ["A-B", "A.B", "A0", "AA", "b"] {
                let created = try await client.send(
                    .post, "/stocks",
                    json: #"{"symbol":"\#(symbol)","name":"N \#(symbol)","sector":"Test","current_price":1}"#)
                #expect(created.status == .created, "\(symbol): \(created.text)")
            }
            let all = try await client.get("/stocks?limit=1000")
            let symbols = try all.json.arrayValue.compactMap { $0["symbol"]?.stringValue }
            #expect(symbols.count == 15)
            #expect(symbols == symbols.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            #expect(Array(symbols.prefix(5)) == ["A-B", "A.B", "A0", "AA", "AAPL"])

            let page = try await client.get("/stocks?skip=2&limit=3")
            #expect(try page.json.arrayValue.compactMap { $0["symbol"]?.stringValue } == Array(symbols[2..<5]))
            let beyond = try await client.get("/stocks?skip=100")
            #expect(beyond.text == "[]")

            let tech = try await client.get("/stocks?sector=Technology")
            #expect(try tech.json.arrayValue.compactMap { $0["symbol"]?.stringValue } == ["AAPL", "MSFT", "NVDA"])
            let health = try await client.get("/stocks?sector=Health%20Care")
            #expect(try health.json.arrayValue.compactMap { $0["symbol"]?.stringValue } == ["JNJ"])
            let none = try await client.get("/stocks?sector=Nothing")
            #expect(none.text == "[]")
        }
    }

    @Test(arguments: ["limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=1.5", "skip=-1", "skip=x", "skip=99999999999999999999"])
    func invalidPaginationIs422(query: String) async throws {
        try await withStockListing { client, _ in
            let response = try await client.get("/stocks?\(query)")
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "validation_error")
        }
    }

    @Test func createStock() async throws {
        try await withStockListing { client, pool in
            let response = try await client.send(
                .post, "/stocks",
                json:
                    #"{"symbol":"brk.b","name":"Berkshire Hathaway","sector":"Financials","current_price":412.1,"change_pct":-0.5,"volume":3000000,"market_cap":900000000000}"#
            )
            #expect(response.status == .created)
            #expect(
                response.text
                    == #"{"symbol":"BRK.B","name":"Berkshire Hathaway","sector":"Financials","current_price":412.1,"change_pct":-0.5,"volume":3000000,"market_cap":900000000000}"#
            )
            let stored = try await client.get("/stocks/BRK.B")
            #expect(stored.text == response.text)

            let minimal = try await client.send(
                .post, "/stocks", json: #"{"symbol":"MIN","name":"Minimal","sector":"S","current_price":0.01}"#)
            #expect(minimal.status == .created)
            #expect(try minimal.json["change_pct"]?.numberText == "0")
            #expect(try minimal.json["volume"]?.numberText == "0")
            #expect(try await stocksSnapshot(pool).count == 12)
        }
    }

    @Test func duplicateStockIs409AndUnchanged() async throws {
        try await withStockListing { client, pool in
            let before = try await stocksSnapshot(pool)
            let response = try await client.send(
                .post, "/stocks", json: #"{"symbol":"aapl","name":"Other","sector":"Other","current_price":1}"#)
            #expect(response.status == .conflict)
            #expect(response.errorCode == "duplicate")
            #expect(try await stocksSnapshot(pool) == before)
        }
    }

    static let invalidBodies: [(String, String?, Int)] = [
        ("{", "application/json", 400),
        ("not json", "application/json", 400),
        ("[]", "application/json", 422),
        ("{}", "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1}"#, "text/plain", 415),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1}"#, nil, 415),
        (#"{"symbol":"NEW","name":"N","sector":"S"}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":"1.00"}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1.001}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":0}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":-1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1000000.01}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":true}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,"volume":"10"}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,"volume":1.5}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,"volume":-1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,"volume":9223372036854775808}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,"change_pct":-100.01}"#, "application/json", 422),
        (#"{"symbol":"1NEW","name":"N","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NE W","name":"N","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"ABCDEFGHIJK","name":"N","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":12,"name":"N","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N\u0000","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"\#(String(repeating: "n", count: 201))","sector":"S","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"N","sector":"\#(String(repeating: "s", count: 101))","current_price":1}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"\ud800","sector":"S","current_price":1}"#, "application/json", 400),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1,}"#, "application/json", 400),
        (#"{"symbol":"NEW","name":"N","sector":"S","current_price":1e400}"#, "application/json", 422),
        (#"{"symbol":"NEW","name":"<70000 x>","sector":"S","current_price":1}"#, "application/json", 413),
    ]

    @Test(arguments: invalidBodies)
    func invalidCreateNeverChangesState(body: String, contentType: String?, status: Int) async throws {
        try await withStockListing { client, pool in
            let before = try await stocksSnapshot(pool)
            let response = try await client.send(.post, "/stocks", json: expandPlaceholder(body), contentType: contentType)
            #expect(response.status.code == status, "\(body.prefix(80)): \(response.text)")
            #expect(try response.json["error"]?.stringValue != nil)
            #expect(try await stocksSnapshot(pool) == before)
        }
    }

    @Test func updatePrice() async throws {
        try await withStockListing { client, pool in
            let response = try await client.send(.put, "/stocks/aapl/price?price=200.10&change_pct=5.25", contentType: nil)
            #expect(response.status == .ok)
            #expect(try response.json["current_price"]?.numberText == "200.1")
            #expect(try response.json["change_pct"]?.numberText == "5.25")
            let onlyPrice = try await client.send(.put, "/stocks/AAPL/price?price=199", contentType: nil)
            #expect(try onlyPrice.json["current_price"]?.numberText == "199")
            #expect(try onlyPrice.json["change_pct"]?.numberText == "5.25")
            let stored = try await pool.query("SELECT current_price::text AS p FROM stocks WHERE symbol = 'AAPL'")
            #expect(try stored.first?.decode("p", as: String.self) == "199.00")
        }
    }

    @Test(arguments: [
        "price=1.001", "price=0", "price=-5", "price=abc", "price=1000000.01", "", "price=", "price=10&change_pct=-101",
        "price=10&change_pct=1.234", "price=NaN", "price=1e400",
    ])
    func invalidPriceUpdateIs422AndUnchanged(query: String) async throws {
        try await withStockListing { client, pool in
            let before = try await stocksSnapshot(pool)
            let response = try await client.send(.put, "/stocks/AAPL/price?\(query)", contentType: nil)
            #expect(response.status == .unprocessableContent, "\(query): \(response.text)")
            #expect(response.errorCode == "validation_error")
            #expect(try await stocksSnapshot(pool) == before, "never rounded and stored")
        }
    }

    @Test func priceUpdateOfUnknownStockIs404() async throws {
        try await withStockListing { client, _ in
            let response = try await client.send(.put, "/stocks/NOPE/price?price=10", contentType: nil)
            #expect(response.status == .notFound)
            #expect(response.errorCode == "not_found")
        }
    }
}
