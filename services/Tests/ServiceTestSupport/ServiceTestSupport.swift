import Foundation
import Hummingbird
import Logging
import NIOCore
import Postgres
import ServiceKit

/// A logger for tests that speaks only for warnings and worse.
public func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}

/// Builds an application on `database` and runs `body` with a router test client and the
/// application's pool, which is closed afterwards whatever happens.
public func withApplication<App: ApplicationProtocol>(
    database: PostgresConfiguration, logger: Logger,
    _ makeApplication: (PostgresPool) async throws -> App,
    _ body: @Sendable (any TestClientProtocol, PostgresPool) async throws -> Void
) async throws {
    let pool = PostgresPool(configuration: database, logger: logger)
    do {
        let app = try await makeApplication(pool)
        try await body(try await RouterTestClient(app), pool)
    } catch {
        await pool.close()
        throw error
    }
    await pool.close()
}

/// Counts what `sql` returns in its `n` column.
public func count(_ pool: PostgresPool, _ sql: String) async throws -> Int {
    try await pool.query(sql).first?.decode("n", as: Int.self) ?? -1
}

extension TestClientProtocol {
    public func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await executeRequest(uri: uri, method: .get, headers: headers, body: nil)
    }

    public func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, contentType: String? = "application/json")
        async throws -> TestResponse
    {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    public var text: String { String(buffer: body) }

    public var json: JSONValue {
        get throws { try JSONParser.parse(body.readableBytesView) }
    }

    /// The `error` code of an error body.
    public var errorCode: String? { (try? json)?["error"]?.stringValue }
}

extension JSONValue {
    public subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// The number's exact source text.
    public var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }

    public var arrayValue: [JSONValue] {
        if case .array(let values) = self { return values }
        return []
    }
}

/// `(method, path)` pairs of an OpenAPI document's `paths`.
public func openAPIRoutes(at path: String) throws -> Set<RouteDescription> {
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

/// Replaces `<70000 x>` by 70,000 x's, so that oversized bodies do not bloat test names.
public func expandPlaceholder(_ body: String) -> String {
    body.replacingOccurrences(of: "<70000 x>", with: String(repeating: "x", count: 70_000))
}
