import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Postgres
import PostgresTestSupport
import ServiceKit
import Testing

@testable import StockListingService

let quietLogger: Logger = {
    var logger = Logger(label: "stock-listing-test")
    logger.logLevel = .warning
    return logger
}()

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
    let pool = PostgresPool(configuration: database, logger: quietLogger)
    do {
        let configuration = ServiceConfiguration(serviceName: StockListing.serviceName, database: database)
        let app = try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: quietLogger)
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

/// The whole `stocks` table as text, to compare before and after a request.
func stocksSnapshot(_ pool: PostgresPool) async throws -> [String] {
    try await pool.query(
        "SELECT symbol || '|' || name || '|' || sector || '|' || current_price || '|' || change_pct || '|' || volume || '|' || market_cap AS line FROM stocks ORDER BY symbol"
    ).map { try $0.decode("line", as: String.self) }
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

/// The service directory (`services/stock-listing`).
let serviceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Replaces `<70000 x>` by 70,000 x's, so that oversized bodies do not bloat test names.
func expandPlaceholder(_ body: String) -> String {
    body.replacingOccurrences(of: "<70000 x>", with: String(repeating: "x", count: 70_000))
}
