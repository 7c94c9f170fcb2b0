import Foundation
import Hummingbird
import Logging
import Postgres
import PostgresTestSupport
import ServiceTestSupport
import Synchronization
import Testing

@testable import ServiceKit
@testable import StockListingService

/// What an operator sees from outside: which build answers, whether it is alive and ready, and an access log.
@Suite("Service observability")
struct ObservabilityTests {
    static let build = BuildInfo(service: "stock-listing", version: "git-1a2b3c4", revision: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")

    /// Runs `body` against stock-listing of ``build``, which logs to `logger`.
    func withBuild(logger: Logger = quietLogger, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        try await withApplication(
            database: database, logger: quietLogger,
            { pool in
                let configuration = ServiceConfiguration(serviceName: StockListing.serviceName, database: database)
                return try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: logger, build: Self.build)
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
            #expect(
                metrics.contains(#"stockops_build_info{service="stock-listing",version="git-1a2b3c4",revision="1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"} 1"#),
                "\(metrics)")
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

    @Test func metricsShowWhatTheProcessUses() async throws {
        try await withBuild { client in
            let metrics = try await client.get("/metrics").text
            func value(_ name: String) -> Double? {
                metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(metrics.contains("# TYPE process_cpu_seconds_total counter"), "\(metrics)")
            // The test process is this service: its resident memory, descriptors and start time are its own.
            let resident = try #require(value("process_resident_memory_bytes"), "\(metrics)")
            #expect(resident > 1_000_000)
            #expect(try #require(value("process_virtual_memory_bytes")) >= resident)
            #expect(try #require(value("process_open_fds")) >= 3)
            #expect(try #require(value("process_max_fds")) >= 64)
            let started = try #require(value("process_start_time_seconds"))
            #expect(started <= Date().timeIntervalSince1970 && started > Date().timeIntervalSince1970 - 86_400 * 30, "\(started)")
            let cpu = try #require(value("process_cpu_seconds_total"))
            #expect(cpu > 0)
            _ = try await client.get("/stocks?limit=50")
            let again = try await client.get("/metrics").text
            let later = again.split(separator: "\n").first { $0.hasPrefix("process_cpu_seconds_total ") }.flatMap {
                Double($0.split(separator: " ").last ?? "")
            }
            #expect((later ?? 0) >= cpu, "a counter does not go down")
        }
    }

    @Test func procSelfStatIsReadAfterTheCommandName() throws {
        // A command name with a space and a parenthesis; utime 250, stime 50, starttime 1000 ticks, vsize, rss pages.
        var fields = Array(repeating: "0", count: 50)
        (fields[0], fields[1], fields[2]) = ("4242", "(trade (v2))", "S")
        (fields[13], fields[14], fields[21], fields[22], fields[23]) = ("250", "50", "1000", "123456789", "2048")
        let sample = try #require(
            ProcessSample.parse(selfStat: fields.joined(separator: " ") + "\n", ticksPerSecond: 100, pageSize: 4096, bootTime: 1_700_000_000))
        #expect(sample.cpuSeconds == 3 && sample.residentBytes == 2048 * 4096 && sample.virtualBytes == 123_456_789)
        #expect(sample.startTimeSeconds == 1_700_000_010)
        #expect(ProcessSample.bootTime(procStat: "cpu 1 2 3\nbtime 1700000000\nprocesses 9\n") == 1_700_000_000)
        #expect(ProcessSample.parse(selfStat: "4242 (trade) S 1 2", ticksPerSecond: 100, pageSize: 4096, bootTime: 0) == nil)
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
        #expect(
            BuildInfo.fromEnvironment(service: "trade", ["SERVICE_REVISION": revision])
                == BuildInfo(service: "trade", version: "git-0123456", revision: revision))
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

    @Test func theAccessLogNamesEachRequestByTheIDItAnswersWith() async throws {
        let lines = LogLines()
        let logger = Logger(label: StockListing.serviceName) { label in
            CapturingLogHandler(rendering: JSONLogHandler(label: label, level: .info), into: lines)
        }
        try await withBuild(logger: logger) { client in
            let received = try await client.get("/stocks/AAPL", headers: [.requestID: "trace-42"])
            #expect(received.headers[.requestID] == "trace-42")
            let generated = try await client.get("/stocks/NOPE")
            let generatedID = try #require(generated.headers[.requestID])
            #expect(generatedID.count >= 16)
            let other = try await client.get("/stocks/MSFT")
            #expect(other.headers[.requestID] != generatedID)

            let access = try lines.all
                .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
                .filter { $0["message"] as? String == "request" }
            #expect(access.map { $0["path"] as? String } == ["/stocks/AAPL", "/stocks/NOPE", "/stocks/MSFT"])
            #expect(access.map { $0["request_id"] as? String } == ["trace-42", generatedID, other.headers[.requestID]])
            #expect(access.allSatisfy { $0[JSONLogHandler.requestIDKey] == nil })
        }
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

/// The lines a ``CapturingLogHandler`` kept.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }
}

/// Keeps the lines a `JSONLogHandler` renders instead of writing them to standard output.
struct CapturingLogHandler: LogHandler {
    var rendering: JSONLogHandler
    let into: LogLines

    var logLevel: Logger.Level {
        get { rendering.logLevel }
        set { rendering.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { rendering.metadata }
        set { rendering.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { rendering[metadataKey: key] }
        set { rendering[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        into.append(String(decoding: rendering.render(event), as: UTF8.self))
    }
}
