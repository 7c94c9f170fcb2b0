import Foundation

/// A server a test runs as a child process. ``stop()`` kills it and removes what it wrote (``ownPath``).
protocol ChildServer: AnyObject {
    var process: Process { get }
    /// A directory or file of the server's own, removed when it stops; nil when it has none.
    var ownPath: String? { get }
}

extension ChildServer {
    var ownPath: String? { nil }

    /// Kills the server, waits for it, and removes ``ownPath``; stopping twice does nothing more.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if let ownPath {
            // Gone already, or left for the run's temporary directory to take: neither is the test's concern.
            try? FileManager.default.removeItem(atPath: ownPath)
        }
    }
}

/// Starts a server made by `make` (which picks its free ports) until `ready` says it serves, three times at most:
/// another process may take a port between its choice and the server's bind.
func startChildServer<Server: ChildServer>(_ name: String, make: () throws -> Server, ready: (Server) async throws -> Void) async throws -> Server {
    var lastError: (any Error)?
    for _ in 0..<3 {
        let server = try make()
        do {
            try await ready(server)
            return server
        } catch {
            lastError = error
            server.stop()
        }
    }
    throw lastError ?? FixtureError("\(name) did not start")
}
