import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Postgres
import PostgresTestSupport
import ServiceKit
import Testing

import StockListingService
@testable import TradeService

let quietLogger: Logger = {
    var logger = Logger(label: "trade-test")
    logger.logLevel = .warning
    return logger
}()

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
    let pool = PostgresPool(configuration: database, logger: quietLogger)
    do {
        if migrateStocks { _ = try await StockListing.migrator.migrate(pool) }
        let configuration = ServiceConfiguration(serviceName: TradeApp.serviceName, database: database)
        let app = try await TradeApp.buildApplication(configuration: configuration, pool: pool, logger: quietLogger)
        try await app.test(.router) { client in try await body(client, pool) }
    } catch {
        await pool.close()
        throw error
    }
    await pool.close()
}

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await executeRequest(uri: uri, method: .get, headers: headers, body: nil)
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, contentType: String? = "application/json")
        async throws -> TestResponse
    {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var json: JSONValue {
        get throws { try JSONParser.parse(body.readableBytesView) }
    }

    /// The `error` code of an error body.
    var errorCode: String? { (try? json)?["error"]?.stringValue }
}

extension JSONValue {
    subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// The number's exact source text.
    var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }

    var arrayValue: [JSONValue] {
        if case .array(let values) = self { return values }
        return []
    }
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

func count(_ pool: PostgresPool, _ sql: String) async throws -> Int {
    try await pool.query(sql).first?.decode("n", as: Int.self) ?? -1
}

/// `(method, path)` pairs of an OpenAPI document's `paths`.
func openAPIRoutes(at path: String) throws -> Set<RouteDescription> {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var routes: Set<RouteDescription> = []
    var inPaths = false
    var currentPath: String?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if !line.hasPrefix(" ") {
            inPaths = line.hasPrefix("paths:")
            continue
        }
        guard inPaths else { continue }
        if line.hasPrefix("  /"), !line.hasPrefix("   ") {
            currentPath = String(line.dropFirst(2).dropLast())
        } else if line.hasPrefix("    "), !line.hasPrefix("     "), let currentPath {
            let method = line.dropFirst(4).prefix { $0 != ":" }
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(String(method)) {
                routes.insert(RouteDescription(method: method.uppercased(), path: currentPath))
            }
        }
    }
    return routes
}

/// The service directory (`services/trade`).
let serviceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Replaces `<70000 x>` by 70,000 x's, so that oversized bodies do not bloat test names.
func expandPlaceholder(_ body: String) -> String {
    body.replacingOccurrences(of: "<70000 x>", with: String(repeating: "x", count: 70_000))
}
