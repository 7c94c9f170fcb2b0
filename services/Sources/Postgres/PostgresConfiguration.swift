import Foundation

/// Where and how to connect to PostgreSQL. Its description never shows the password.
public struct PostgresConfiguration: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The most connections the pool opens at once.
    public var poolSize: Int
    /// The most batches of reads (``PostgresPool/read(_:_:)``) in flight at once, each on a pooled connection.
    public var readBatches: Int
    /// Seconds to wait for a connection to be established.
    public var connectTimeoutSeconds: Int
    /// libpq's `sslmode` (`disable`, `prefer`, `require`, `verify-full`, …); nil leaves libpq's default.
    public var sslMode: String?
    public var applicationName: String

    public init(
        host: String, port: Int = 5432, user: String, password: String?, database: String,
        poolSize: Int = 10, readBatches: Int = 2, connectTimeoutSeconds: Int = 5, sslMode: String? = nil,
        applicationName: String = "stockops"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.poolSize = poolSize
        self.readBatches = readBatches
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.sslMode = sslMode
        self.applicationName = applicationName
    }

    /// Reads a `postgres://` or `postgresql://user:password@host:port/database?sslmode=…` URL.
    /// A `+driver` suffix on the scheme (`postgresql+psycopg2`) is accepted and ignored.
    public init(url: String) throws(PostgresError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            throw PostgresError(
                code: .invalidConfiguration,
                message: "not a URL: expected postgres://user:password@host:port/database")
        }
        let baseScheme = scheme.split(separator: "+").first.map(String.init) ?? scheme
        guard baseScheme == "postgres" || baseScheme == "postgresql" else {
            throw PostgresError(
                code: .invalidConfiguration,
                message: "unsupported scheme '\(scheme)': expected postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresError(code: .invalidConfiguration, message: "the database URL names no host")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let user = components.user ?? "postgres"
        let query = components.queryItems ?? []
        func item(_ name: String) -> String? { query.first(where: { $0.name == name })?.value }
        self.init(
            host: host,
            port: components.port ?? 5432,
            user: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database.isEmpty ? user : (database.removingPercentEncoding ?? database),
            sslMode: item("sslmode"),
            applicationName: item("application_name") ?? "stockops"
        )
        if let timeout = item("connect_timeout").flatMap(Int.init) { connectTimeoutSeconds = timeout }
    }

    /// The same server with another database.
    public func with(database: String) -> PostgresConfiguration {
        var copy = self
        copy.database = database
        return copy
    }

    /// `user@host:port/database`, never the password.
    public var description: String { "\(user)@\(host):\(port)/\(database)" }

    /// The keyword/value pairs handed to `PQconnectdbParams` (no conninfo string is ever built).
    var connectionParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            ("host", host),
            ("port", String(port)),
            ("user", user),
            ("dbname", database),
            ("connect_timeout", String(connectTimeoutSeconds)),
            ("application_name", applicationName),
            // Text values are parsed by this module: fix the formats it reads.
            ("options", "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3"),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }
        if let sslMode { parameters.append(("sslmode", sslMode)) }
        return parameters
    }
}
