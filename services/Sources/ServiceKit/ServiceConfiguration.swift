import Foundation
import Logging
import Postgres

/// How a service is configured, from the environment and the database file that Vault
/// Agent renders.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `DATABASE_URL` | `postgres://user:pass@host:port/db` | from the db.env file |
/// | `DB_ENV_FILE` | file with `export KEY="value"` lines (`DATABASE_URL`, `DB_PASSWORD`) | `/vault/secrets/db.env` |
/// | `DB_PASSWORD` | overrides the URL's password | — |
/// | `DB_POOL_SIZE` | connections in the pool | 10 |
/// | `DB_READ_BATCHES` | batches of reads in flight at once, each on a pooled connection | 2 |
/// | `DB_WAIT_SECONDS` | how long start-up waits for the database | 60 |
/// | `HOST`, `PORT` | listening address | `0.0.0.0`, the service's port |
/// | `LOG_LEVEL` | trace, debug, info, notice, warning, error, critical | info |
///
/// Variables set in the process environment win over the file, except `DB_PASSWORD`
/// from the file, which Vault keeps current.
public struct ServiceConfiguration: Sendable, CustomStringConvertible {
    /// The service's name, used in logs and `/health`.
    public var serviceName: String
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    /// The database to use; its description never shows the password.
    public var database: PostgresConfiguration
    /// Bound on the total time spent waiting for the database at start-up.
    public var databaseWaitSeconds: Double

    /// The default location of the file Vault Agent renders.
    public static let defaultDatabaseEnvironmentFile = "/vault/secrets/db.env"

    public init(
        serviceName: String, database: PostgresConfiguration, host: String = "0.0.0.0", port: Int = 8000,
        logLevel: Logger.Level = .info, databaseWaitSeconds: Double = 60
    ) {
        self.serviceName = serviceName
        self.database = database
        self.host = host
        self.port = port
        self.logLevel = logLevel
        self.databaseWaitSeconds = databaseWaitSeconds
    }

    public var description: String {
        "\(serviceName) on \(host):\(port), database \(database.user)@\(database.host):\(database.port)/\(database.database), log level \(logLevel)"
    }

    /// Reads the configuration from `environment`, and from the db.env file when it exists
    /// (`DB_ENV_FILE`, else the default path); `readFile` is injectable for tests.
    public static func fromEnvironment(
        serviceName: String, defaultPort: Int,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        // Nil is handled: an explicit DB_ENV_FILE must be readable, the default file is optional.
        readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(ConfigurationError) -> ServiceConfiguration {
        let explicitFile = environment["DB_ENV_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let filePath = explicitFile ?? defaultDatabaseEnvironmentFile
        var fileValues: [String: String] = [:]
        if let text = readFile(filePath) {
            fileValues = try DatabaseEnvironmentFile.parse(text)
        } else if explicitFile != nil {
            throw ConfigurationError("DB_ENV_FILE \(filePath) cannot be read")
        }

        guard let url = nonEmpty(environment["DATABASE_URL"]) ?? nonEmpty(fileValues["DATABASE_URL"]) else {
            throw ConfigurationError("DATABASE_URL is not set, neither in the environment nor in \(filePath)")
        }
        var database: PostgresConfiguration
        do {
            database = try PostgresConfiguration(url: url)
        } catch {
            throw ConfigurationError("DATABASE_URL is not a valid postgres:// URL")
        }
        if let password = nonEmpty(fileValues["DB_PASSWORD"]) ?? nonEmpty(environment["DB_PASSWORD"]) {
            database.password = password
        }
        if let text = nonEmpty(environment["DB_POOL_SIZE"]) {
            guard let size = Int(text), (1...200).contains(size) else {
                throw ConfigurationError("DB_POOL_SIZE must be an integer from 1 to 200")
            }
            database.poolSize = size
        }
        if let text = nonEmpty(environment["DB_READ_BATCHES"]) {
            guard let count = Int(text), (1...200).contains(count) else {
                throw ConfigurationError("DB_READ_BATCHES must be an integer from 1 to 200")
            }
            database.readBatches = count
        }
        var port = defaultPort
        if let text = nonEmpty(environment["PORT"]) {
            guard let value = Int(text), (1...65535).contains(value) else {
                throw ConfigurationError("PORT must be an integer from 1 to 65535")
            }
            port = value
        }
        var level = Logger.Level.info
        if let text = nonEmpty(environment["LOG_LEVEL"]) {
            guard let value = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigurationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            level = value
        }
        var wait = 60.0
        if let text = nonEmpty(environment["DB_WAIT_SECONDS"]) {
            guard let value = Double(text), value >= 0, value <= 86_400 else {
                throw ConfigurationError("DB_WAIT_SECONDS must be a number of seconds from 0 to 86400")
            }
            wait = value
        }
        return ServiceConfiguration(
            serviceName: serviceName, database: database, host: nonEmpty(environment["HOST"]) ?? "0.0.0.0",
            port: port, logLevel: level, databaseWaitSeconds: wait)
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// A configuration that cannot be used; the message never contains a password.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The shell-style file Vault Agent renders: `export KEY="value"` lines; plain
/// `KEY=value`, single quotes, blank lines and `#` comments are accepted too.
public enum DatabaseEnvironmentFile {
    /// The variables the file sets.
    public static func parse(_ text: String) throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)[...]
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") || line.hasPrefix("export\t") {
                line = line.dropFirst(7).drop { $0 == " " || $0 == "\t" }
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError("line \(number + 1) of the database environment file is not KEY=value")
            }
            let key = String(line[..<equals])
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError("line \(number + 1) of the database environment file has an invalid name")
            }
            values[key] = try unquote(line[line.index(after: equals)...], line: number + 1)
        }
        return values
    }

    private static func unquote(_ raw: Substring, line: Int) throws(ConfigurationError) -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("\"") {
            var result = ""
            var escaped = false
            var closed = false
            for character in value.dropFirst() {
                if closed {
                    throw ConfigurationError("line \(line) of the database environment file has text after the closing quote")
                }
                if escaped {
                    result.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    closed = true
                } else {
                    result.append(character)
                }
            }
            guard closed else { throw ConfigurationError("line \(line) of the database environment file has an unclosed quote") }
            return result
        }
        if value.hasPrefix("'") {
            guard value.count >= 2, value.hasSuffix("'") else {
                throw ConfigurationError("line \(line) of the database environment file has an unclosed quote")
            }
            return String(value.dropFirst().dropLast())
        }
        return value
    }
}
