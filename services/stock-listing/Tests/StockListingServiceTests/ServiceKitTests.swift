import Foundation
import Hummingbird
import Logging
import Postgres
import PostgresTestSupport
import ServiceTestSupport
import Testing

@testable import ServiceKit
@testable import StockListingService

@Suite("ServiceKit")
struct ServiceKitTests {
    @Test func unknownRouteIs404JSON() async throws {
        try await withStockListing { client, _ in
            let response = try await client.get("/nowhere")
            #expect(response.status == .notFound)
            #expect(response.errorCode == "not_found")
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.headers[.requestID] != nil)
        }
    }

    @Test func wrongMethodIs405JSONWithAllow() async throws {
        try await withStockListing { client, _ in
            let response = try await client.send(.delete, "/stocks/AAPL", contentType: nil)
            #expect(response.status == .methodNotAllowed)
            #expect(response.errorCode == "method_not_allowed")
            #expect(response.headers[.allow] == "GET")
            let price = try await client.send(.post, "/stocks/AAPL/price", contentType: nil)
            #expect(price.status == .methodNotAllowed)
            #expect(price.headers[.allow] == "GET, PUT")
        }
    }

    @Test func requestIDIsHonouredOrGenerated() async throws {
        try await withStockListing { client, _ in
            let given = try await client.get("/health", headers: [.requestID: "abc-123"])
            #expect(given.headers[.requestID] == "abc-123")
            let generated = try await client.get("/health")
            let id = try #require(generated.headers[.requestID])
            #expect(id.count >= 16)
            let invalid = try await client.get("/health", headers: [.requestID: "bad id\"{}"])
            #expect(invalid.headers[.requestID] != "bad id\"{}")
            let error = try await client.get("/stocks/NOPE", headers: [.requestID: "err-1"])
            #expect(error.headers[.requestID] == "err-1")
        }
    }

    @Test func metricsCountRequestsPerRoute() async throws {
        try await withStockListing { client, _ in
            _ = try await client.get("/stocks/AAPL")
            _ = try await client.get("/stocks/MSFT")
            _ = try await client.get("/stocks/NOPE")
            _ = try await client.get("/nowhere")
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            let text = response.text
            #expect(text.contains(#"http_requests_total{route="/stocks/{symbol}",method="GET",status="200"} 2"#))
            #expect(text.contains(#"http_requests_total{route="/stocks/{symbol}",method="GET",status="404"} 1"#))
            #expect(text.contains(#"http_requests_total{route="unmatched",method="GET",status="404"} 1"#))
            #expect(text.contains("http_request_duration_seconds_bucket"))
        }
    }

    @Test func openAPIMatchesTheRoutesBothWays() async throws {
        let pool = PostgresPool(
            configuration: PostgresConfiguration(host: "127.0.0.1", port: 1, user: "u", password: nil, database: "d"),
            logger: quietLogger)
        let served = Set(StockListing.routes(pool: pool, metrics: ServiceMetrics()).routes)
        await pool.close()
        let documented = try openAPIRoutes(at: serviceDirectory.appendingPathComponent("openapi.yaml").path)
        #expect(served.subtracting(documented).isEmpty, "served but not documented")
        #expect(documented.subtracting(served).isEmpty, "documented but not served")
        #expect(served.count == 9)
    }

    @Test func databaseEnvironmentFileParses() throws {
        let values = try DatabaseEnvironmentFile.parse(
            """
            # rendered by Vault Agent
            export DATABASE_URL="postgresql://app@db.internal:5433/stocks"
            export DB_PASSWORD="s3cr\\"et pass"

            PLAIN=value
            export SINGLE='x y'
            """)
        #expect(values["DATABASE_URL"] == "postgresql://app@db.internal:5433/stocks")
        #expect(values["DB_PASSWORD"] == "s3cr\"et pass")
        #expect(values["PLAIN"] == "value")
        #expect(values["SINGLE"] == "x y")
        #expect(throws: ConfigurationError.self) { try DatabaseEnvironmentFile.parse("export BROKEN") }
        #expect(throws: ConfigurationError.self) { try DatabaseEnvironmentFile.parse("export A=\"open") }
    }

    @Test func configurationFromVaultFile() throws {
        let file = """
            export DATABASE_URL="postgresql://app:old@db.internal:5433/stocks"
            export DB_PASSWORD="from-vault"
            """
        let configuration = try ServiceConfiguration.fromEnvironment(
            serviceName: "trade", defaultPort: 8001,
            environment: ["DB_ENV_FILE": "/run/db.env", "PORT": "9000", "LOG_LEVEL": "DEBUG"],
            readFile: { $0 == "/run/db.env" ? file : nil })
        #expect(configuration.database.host == "db.internal")
        #expect(configuration.database.port == 5433)
        #expect(configuration.database.user == "app")
        #expect(configuration.database.database == "stocks")
        #expect(configuration.database.password == "from-vault")
        #expect(configuration.port == 9000)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.databaseWaitSeconds == 60)
        #expect(!configuration.description.contains("from-vault"))
        #expect(!"\(configuration.database)".contains("from-vault"))
    }

    @Test func configurationFromEnvironment() throws {
        let configuration = try ServiceConfiguration.fromEnvironment(
            serviceName: "stock-listing", defaultPort: 8000,
            environment: [
                "DATABASE_URL": "postgres://u:pw@localhost:5432/app", "HOST": "127.0.0.1", "DB_WAIT_SECONDS": "5",
                "DB_POOL_SIZE": "4", "DB_READ_BATCHES": "3",
            ],
            readFile: { _ in nil })
        #expect(configuration.port == 8000)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.database.password == "pw")
        #expect(configuration.database.poolSize == 4)
        #expect(configuration.database.readBatches == 3)
        #expect(configuration.databaseWaitSeconds == 5)
        #expect(configuration.logLevel == .info)
    }

    @Test(arguments: [
        ["PORT": "x"], ["PORT": "70000"], ["LOG_LEVEL": "loud"], ["DB_WAIT_SECONDS": "-1"], ["DB_POOL_SIZE": "0"],
        ["DB_READ_BATCHES": "0"], ["DB_READ_BATCHES": "two"], ["DATABASE_URL": ""], ["DATABASE_URL": "mysql://x"], ["DB_ENV_FILE": "/missing"],
    ])
    func invalidConfigurationIsRejected(overrides: [String: String]) {
        var environment = ["DATABASE_URL": "postgres://u@localhost:5432/app"]
        environment.merge(overrides) { _, new in new }
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration.fromEnvironment(
                serviceName: "s", defaultPort: 1, environment: environment, readFile: { _ in nil })
        }
    }

    @Test func jsonParserKeepsNumbersExact() throws {
        let value = try JSONParser.parse(Array(#" {"a": 0.10, "b": [1, -2e3, true, null], "c": "\u00e9\n\ud83d\ude00"} "#.utf8))
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members["a"] == .number("0.10"))
        #expect(members["b"] == .array([.number("1"), .number("-2e3"), .bool(true), .null]))
        #expect(members["c"] == .string("é\n😀"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "NaN", "\"\\ud800\"", "\"\\x\"", "\"a\u{01}\"", "{} {}",
        "tru", "[" + String(repeating: "[", count: 100) + String(repeating: "]", count: 101),
    ])
    func jsonParserRejectsInvalidDocuments(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func exactDecimalsNeverRound() throws {
        let tenCents = try #require(ExactDecimal("0.10"))
        #expect(tenCents.text == "0.1")
        #expect(tenCents.scale == 1)
        #expect((tenCents.value * 3).description == "0.3")
        #expect(ExactDecimal("182.520")?.text == "182.52")
        #expect(ExactDecimal("1.001")?.scale == 3)
        #expect(ExactDecimal("1e2")?.text == "100")
        #expect(ExactDecimal("12.5e-1")?.text == "1.25")
        #expect(ExactDecimal("-0.5")?.text == "-0.5")
        #expect(ExactDecimal("0.000")?.text == "0")
        #expect(ExactDecimal("1e400") == nil)
        #expect(ExactDecimal("abc") == nil)
        #expect(ExactDecimal("1.") == nil)
        #expect(throws: DecimalValidationError.self) {
            try DecimalRule(range: 0...1_000_000, lowerExclusive: true).check("0.125")
        }
    }

    @Test func symbolsAndUserIDs() {
        #expect(StockSymbol.normalize("brk.b") == "BRK.B")
        #expect(StockSymbol.normalize("A-1") == "A-1")
        #expect(StockSymbol.normalize("1A") == nil)
        #expect(StockSymbol.normalize("") == nil)
        #expect(StockSymbol.normalize("ABCDEFGHIJK") == nil)
        #expect(StockSymbol.normalize("ÄPFEL") == nil)
        #expect(UserID.isValid("user_1.a-b"))
        #expect(!UserID.isValid(""))
        #expect(!UserID.isValid(String(repeating: "u", count: 65)))
        #expect(!UserID.isValid("a b"))
    }

    @Test(arguments: [
        ("application/json", true), ("Application/JSON", true), ("application/json; charset=utf-8", true),
        (" \tapplication/json ;charset=utf-8", true), ("application/jsonx", false), ("text/json", false),
        ("application/json-patch+json", false), ("", false), ("application/", false), ("APPLICATION/JSO", false),
    ])
    func aJSONBodyNeedsTheJSONMediaType(contentType: String, isJSON: Bool) {
        #expect(JSONBody.isJSON(contentType) == isJSON)
    }

    @Test func jsonWriterEscapes() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("s", "a\"b\\c\n\u{01}é")
        writer.field("n", number: "1.5")
        writer.key("list")
        writer.beginArray()
        writer.number(1)
        writer.number(2)
        writer.endArray()
        writer.endObject()
        #expect(writer.output == #"{"s":"a\"b\\c\n\u0001é","n":1.5,"list":[1,2]}"#)
    }

    @Test func databaseWaitGivesUpNamingHostAndPort() async throws {
        let database = PostgresConfiguration(host: "127.0.0.1", port: 9, user: "u", password: "p", database: "d")
        let pool = PostgresPool(configuration: database, logger: quietLogger)
        let configuration = ServiceConfiguration(serviceName: "s", database: database, databaseWaitSeconds: 0.5)
        let start = ContinuousClock.now
        do {
            try await DatabaseProbe.waitUntilReachable(pool, configuration: configuration, logger: quietLogger)
            Issue.record("expected a start-up error")
        } catch {
            #expect(error.message.contains("127.0.0.1:9"))
        }
        // A hang guard, not a timing check: the full suite on two cores stretches a 0.5 s wait well past 10 s.
        #expect(ContinuousClock.now - start < .seconds(120))
        await pool.close()
    }
}

@Suite("stock-listing persistence", .serialized)
struct PersistenceTests {
    @Test func survivesRestartAndReports503WhileDown() async throws {
        let server = try await TemporaryPostgresServer.start()
        do {
            try await withStockListing(database: server.configuration) { client, _ in
                let created = try await client.send(
                    .post, "/stocks", json: #"{"symbol":"KEEP","name":"Kept","sector":"S","current_price":12.34}"#)
                #expect(created.status == .created)

                try await server.stop()
                let health = try await client.get("/health")
                #expect(health.status == .serviceUnavailable)
                #expect(health.text == #"{"status":"degraded","service":"stock-listing","version":"unknown","revision":"unknown","database":"unreachable"}"#)
                let read = try await client.get("/stocks/KEEP")
                #expect(read.status.code >= 500)
                #expect(read.status == .serviceUnavailable)
                #expect(read.errorCode == "database_unavailable")

                try await server.restart()
                var healthy = false
                for _ in 0..<50 where !healthy {
                    healthy = try await client.get("/health").status == .ok
                    if !healthy { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(healthy)
                let after = try await client.get("/stocks/keep")
                #expect(after.status == .ok)
                #expect(try after.json["current_price"]?.numberText == "12.34")
            }
            try await withStockListing(database: server.configuration) { client, _ in
                let reread = try await client.get("/stocks/KEEP")
                #expect(reread.status == .ok, "a new process sees what the old one stored")
                let all = try await client.get("/stocks?limit=1000")
                #expect(try all.json.arrayValue.count == 11)
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}

@Suite("health check probe")
struct HealthCheckProbeTests {
    /// Runs the blocking probe off the cooperative pool. Its timeout is generous: a refused port answers at once, and a
    /// live server on a loaded 2-core machine took longer than 5 s.
    func probe(port: Int) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: HealthCheck.probe(port: port, timeoutSeconds: 30)) }
        }
    }

    @Test func probeAsksTheLiveServer() async throws {
        let database = try await TestDatabase.create()
        let pool = PostgresPool(configuration: database, logger: quietLogger)
        do {
            let configuration = ServiceConfiguration(
                serviceName: StockListing.serviceName, database: database, host: "127.0.0.1", port: 0)
            let app = try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: quietLogger)
            try await withLiveServer(app) { port in
                #expect(await probe(port: port))
            }
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
        #expect(await !probe(port: 9))
    }
}
