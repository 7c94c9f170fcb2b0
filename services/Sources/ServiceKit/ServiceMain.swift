import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a service's `main` does: read the configuration, set up JSON logging, wait for
/// the database, build the application (which migrates), serve until SIGTERM/SIGINT,
/// let in-flight requests finish, then close the pool.
///
/// With `--healthcheck` it instead asks `GET /readyz` on 127.0.0.1:`PORT` and exits 0
/// when it answers 200, 1 otherwise (the container health check, as the image has no curl).
public enum ServiceMain {
    /// Runs the service and returns the process exit status.
    public static func run<App: ApplicationProtocol>(
        serviceName: String, defaultPort: Int, arguments: [String] = CommandLine.arguments,
        makeApplication: (ServiceConfiguration, PostgresPool, Logger) async throws -> App
    ) async -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        if arguments.dropFirst().contains("--healthcheck") {
            let port = environment["PORT"].flatMap { Int($0) } ?? defaultPort
            return HealthCheck.probe(port: port) ? 0 : 1
        }
        let configuration: ServiceConfiguration
        do {
            configuration = try ServiceConfiguration.fromEnvironment(serviceName: serviceName, defaultPort: defaultPort)
        } catch {
            printError("\(serviceName): configuration error: \(error.message)")
            return 2
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: serviceName)
        logger.info("starting", metadata: ["configuration": .string(configuration.description)])

        let pool = PostgresPool(configuration: configuration.database, logger: logger)
        do {
            try await DatabaseProbe.waitUntilReachable(pool, configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": .string(error.message)])
            printError("\(serviceName): \(error.message)")
            await pool.close()
            return 1
        }
        do {
            let app = try await makeApplication(configuration, pool, logger)
            let group = ServiceGroup(
                configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        } catch {
            logger.critical("stopped on error", metadata: ["error": .string(String(describing: error))])
            printError("\(serviceName): \(error)")
            await pool.close()
            return 1
        }
        await pool.close()
        logger.info("stopped")
        return 0
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// A minimal HTTP/1.0 probe over a plain socket.
public enum HealthCheck {
    /// True when `GET /readyz` on 127.0.0.1:`port` answers with status 200 within `timeoutSeconds`.
    public static func probe(port: Int, timeoutSeconds: Int = 3) -> Bool {
        #if os(Linux)
        let socketType = Int32(SOCK_STREAM.rawValue)
        #else
        let socketType = SOCK_STREAM
        #endif
        let descriptor = socket(AF_INET, socketType, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return false }
        let request = Array("GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard send(descriptor, request, request.count, 0) == request.count else { return false }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while response.count < 16 {
            let received = recv(descriptor, &chunk, chunk.count, 0)
            if received <= 0 { break }
            response.append(contentsOf: chunk[0..<received])
        }
        let statusLine = String(decoding: response.prefix(16), as: UTF8.self)
        return statusLine.hasPrefix("HTTP/1.1 200") || statusLine.hasPrefix("HTTP/1.0 200")
    }
}
