import Foundation
import Hummingbird
import Logging
import Postgres

extension RouteTable {
    /// Adds `GET /livez` (200 while the process serves, with the build), `GET /readyz` (200 `{"status":"ok",…}`, or
    /// 503 `{"status":"degraded",…}` when the database does not answer), `GET /health` (the same as `/readyz`) and
    /// `GET /metrics` (Prometheus text format, with the pool gauges read at each scrape).
    public mutating func addStandardRoutes(serviceName: String, pool: PostgresPool, metrics: ServiceMetrics, build: BuildInfo? = nil) {
        let build = build ?? BuildInfo(service: serviceName, version: "unknown", revision: "unknown")
        let alive = Self.healthBody(build, database: nil)
        let healthy = Self.healthBody(build, database: true)
        let degraded = Self.healthBody(build, database: false)
        add(.get, "/livez") { _, _ in .json(alive) }
        let ready: RouteHandler = { _, _ in
            if await DatabaseProbe.isReachable(pool) {
                return .json(healthy)
            }
            return .json(degraded, status: .serviceUnavailable)
        }
        add(.get, "/readyz", ready)
        add(.get, "/health", ready)
        add(.get, "/metrics") { _, _ in
            let usage = pool.usage
            metrics.observe(inUse: usage.inUse, idle: usage.idle, waiting: usage.waiting)
            return metrics.response()
        }
    }

    static func healthBody(_ build: BuildInfo, database: Bool?) -> String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("status", database == false ? "degraded" : "ok")
        writer.field("service", build.service)
        writer.field("version", build.version)
        writer.field("revision", build.revision)
        if let database { writer.field("database", database ? "ok" : "unreachable") }
        writer.endObject()
        return writer.output
    }
}

/// Builds the Hummingbird application of a service.
public enum ServiceApplication {
    /// An application serving `routes` behind `ServiceMiddleware`, listening where
    /// `configuration` says.
    public static func build(
        configuration: ServiceConfiguration, routes: RouteTable, metrics: ServiceMetrics, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ServiceMiddleware(routes: routes, metrics: metrics))
        routes.register(on: router)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: nil),
            logger: logger)
    }
}

/// Checks and waits for the database.
public enum DatabaseProbe {
    /// True when a `SELECT 1` round trip succeeds within `timeout`.
    public static func isReachable(_ pool: PostgresPool, timeout: Duration = .seconds(2)) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await pool.ping()
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                // Task.sleep throws only when cancelled, once the ping has answered and this result is unused.
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Pings until the database answers, backing off exponentially (0.1 s doubling to
    /// 5 s), for at most `configuration.databaseWaitSeconds`; then throws a `StartupError`
    /// naming host:port.
    public static func waitUntilReachable(
        _ pool: PostgresPool, configuration: ServiceConfiguration, logger: Logger
    ) async throws(StartupError) {
        let database = configuration.database
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(configuration.databaseWaitSeconds * 1000))
        var delay = Duration.milliseconds(100)
        var attempt = 0
        while true {
            attempt += 1
            var reason = "no answer"
            do {
                try await pool.ping()
                if attempt > 1 { logger.info("database reachable", metadata: ["attempts": "\(attempt)"]) }
                return
            } catch {
                reason = error.message
            }
            let now = clock.now
            guard now < deadline else {
                throw StartupError(
                    "database \(database.host):\(database.port) not reachable after "
                        + "\(Int(configuration.databaseWaitSeconds)) s (\(attempt) attempts): \(reason)")
            }
            logger.warning(
                "database not reachable yet",
                metadata: [
                    "database": .string("\(database.host):\(database.port)"), "attempt": "\(attempt)",
                    "error": .string(reason),
                ])
            let pause = min(delay, deadline - now)
            do {
                try await Task.sleep(for: pause)
            } catch {
                throw StartupError("interrupted while waiting for database \(database.host):\(database.port)")
            }
            delay = min(delay * 2, .seconds(5))
        }
    }
}

/// A service that cannot start; the message says why.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
