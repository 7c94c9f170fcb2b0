import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import PostgresTestSupport
import ServiceTestSupport
import Testing

@testable import ServiceKit
@testable import StockListingService

/// What an operator sees from outside: which build answers, whether it is alive and ready, and an access log.
@Suite("Service observability")
struct ObservabilityTests {
    static let build = BuildInfo(service: "stock-listing", version: "git-1a2b3c4", revision: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")

    func withBuild(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        try await withApplication(database: database, logger: quietLogger, { pool in
            let configuration = ServiceConfiguration(serviceName: StockListing.serviceName, database: database)
            return try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: quietLogger, build: Self.build)
        }, { client, _ in try await body(client) })
    }

    @Test func probesAndMetricsNameTheBuildThatAnswers() async throws {
        try await withBuild { client in
            let live = try await client.get("/livez")
            #expect(live.status == .ok)
            let liveBody = try JSONSerialization.jsonObject(with: Data(live.text.utf8)) as? [String: String]
            #expect(liveBody == ["status": "ok", "service": "stock-listing", "version": "git-1a2b3c4", "revision": Self.build.revision])
            for path in ["/readyz", "/health"] {
                let ready = try await client.get(path)
                #expect(ready.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(ready.text.utf8)) as? [String: String]
                #expect(body?["database"] == "ok" && body?["version"] == "git-1a2b3c4", "\(path): \(ready.text)")
            }
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"stockops_build_info{service="stock-listing",version="git-1a2b3c4",revision="1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"} 1"#), "\(metrics)")
        }
    }

    @Test func metricsShowThePoolAsTheScrapeFindsIt() async throws {
        try await withBuild { client in
            _ = try await client.get("/stocks?limit=2")
            let metrics = try await client.get("/metrics").text
            let idle = metrics.split(separator: "\n").first { $0.hasPrefix(#"db_pool_connections{state="idle"}"#) }
            let idleCount = idle.flatMap { Double($0.split(separator: " ").last ?? "") }
            #expect((idleCount ?? 0) >= 1, "a connection went back to the pool: \(idle ?? "no gauge")")
            #expect(metrics.contains(#"db_pool_connections{state="in_use"} 0"#), "\(metrics)")
            #expect(metrics.contains("db_pool_waiting 0"), "\(metrics)")
        }
    }

    @Test func aMethodNobodyServesIsCountedAsOther() async throws {
        try await withBuild { client in
            let method = try #require(HTTPRequest.Method("PROPFIND"))
            let response = try await client.send(method, "/stocks", contentType: nil)
            #expect(response.status.code >= 400 && response.status.code < 500)
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"method="other""#), "\(metrics)")
            #expect(!metrics.contains("PROPFIND"))
        }
    }

    @Test func theBuildComesFromTheImagesRevision() {
        let revision = "0123456789abcdef0123456789abcdef01234567"
        #expect(BuildInfo.fromEnvironment(service: "trade", ["SERVICE_REVISION": revision]) == BuildInfo(service: "trade", version: "git-0123456", revision: revision))
        #expect(BuildInfo.fromEnvironment(service: "trade", ["SERVICE_REVISION": "unknown"]).version == "unknown")
        #expect(BuildInfo.fromEnvironment(service: "trade", [:]).revision == "unknown")
    }

    @Test func requestsAreLoggedAtInfoAndProbesOnlyWhenTheyFail() {
        #expect(ServiceMiddleware.accessLogLevel(route: "/stocks/{symbol}", status: 200) == .info)
        #expect(ServiceMiddleware.accessLogLevel(route: "/stocks/{symbol}", status: 404) == .info)
        #expect(ServiceMiddleware.accessLogLevel(route: "/readyz", status: 200) == .debug)
        #expect(ServiceMiddleware.accessLogLevel(route: "/readyz", status: 503) == .warning)
        #expect(ServiceMiddleware.accessLogLevel(route: "/stocks", status: 500) == .error)
    }

    @Test func numbersInTheLogAreJSONNumbers() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("status")
        JSONLogHandler.writeValue(.stringConvertible(200), to: &writer)
        writer.key("duration_ms")
        JSONLogHandler.writeValue(.stringConvertible(1.25), to: &writer)
        writer.key("path")
        JSONLogHandler.writeValue(.string("/stocks"), to: &writer)
        writer.endObject()
        #expect(writer.output == #"{"status":200,"duration_ms":1.25,"path":"/stocks"}"#)
    }
}
