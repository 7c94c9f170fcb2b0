import Foundation
import Postgres

/// Test databases on the shared test server that `scripts/test.sh` starts.
public enum TestDatabase {
    /// The variable `scripts/test.sh` sets to the test server's admin URL.
    public static let urlVariable = "STOCKOPS_TEST_DATABASE_URL"

    /// A new, empty database of its own for one test; the server is thrown away after the run.
    public static func create(poolSize: Int = 10) async throws -> PostgresConfiguration {
        guard let url = ProcessInfo.processInfo.environment[urlVariable], !url.isEmpty else {
            throw TestSupportError(
                "\(urlVariable) is not set: run the tests with scripts/test.sh, which starts a PostgreSQL server "
                    + "for them (or point \(urlVariable) at one: postgres://postgres@127.0.0.1:PORT/postgres)")
        }
        var admin = try PostgresConfiguration(url: url)
        admin.poolSize = 2
        let pool = PostgresPool(configuration: admin)
        defer { Task { await pool.close() } }
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        // The name is generated here, never taken from input: the only way to name a new database.
        try await pool.execute("CREATE DATABASE \(name)")
        var configuration = admin.with(database: name)
        configuration.poolSize = poolSize
        return configuration
    }
}

/// A private PostgreSQL server (its own data directory and port) for tests that stop or restart it.
public final class TemporaryPostgresServer: Sendable {
    public let configuration: PostgresConfiguration
    let directory: URL
    let binDirectory: URL

    private init(configuration: PostgresConfiguration, directory: URL, binDirectory: URL) {
        self.configuration = configuration
        self.directory = directory
        self.binDirectory = binDirectory
    }

    /// Runs `initdb` in a new temporary directory and starts the server on a free loopback port.
    public static func start() async throws -> TemporaryPostgresServer {
        let binDirectory = try PostgresBinaries.locate()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("stockops-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await ServerProcess.handOverToPostgresUser(directory)
        let dataDirectory = directory.appendingPathComponent("data").path
        try await ServerProcess.run(
            binDirectory.appendingPathComponent("initdb").path,
            ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        let port = try FreePort.pick()
        let server = TemporaryPostgresServer(
            configuration: PostgresConfiguration(
                host: "127.0.0.1", port: port, user: "postgres", password: nil, database: "postgres", poolSize: 4,
                connectTimeoutSeconds: 2),
            directory: directory, binDirectory: binDirectory)
        try await server.startServer()
        return server
    }

    /// Stops the server (fast shutdown: open connections are cut).
    public func stop() async throws {
        try await ServerProcess.run(
            binDirectory.appendingPathComponent("pg_ctl").path,
            ["-D", directory.appendingPathComponent("data").path, "-m", "fast", "-w", "stop"])
    }

    /// Stops the server if it runs, then starts it again on the same port with the same data.
    public func restart() async throws {
        let pidFile = directory.appendingPathComponent("data/postmaster.pid").path
        if FileManager.default.fileExists(atPath: pidFile) { try await stop() }
        try await startServer()
    }

    /// Stops the server if it runs and deletes its directory.
    public func destroy() async {
        try? await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func startServer() async throws {
        try await ServerProcess.run(
            binDirectory.appendingPathComponent("pg_ctl").path,
            [
                "-D", directory.appendingPathComponent("data").path,
                "-l", directory.appendingPathComponent("server.log").path,
                "-w", "-t", "30",
                "-o", "-p \(configuration.port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ])
    }
}

/// A failure of the test scaffolding itself, with what to do about it.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum PostgresBinaries {
    /// `PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
    static func locate() throws -> URL {
        if let configured = ProcessInfo.processInfo.environment["PG_BIN"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        guard
            let newest = versions.compactMap(Int.init).sorted().last.map({ "\(root)/\($0)/bin" }),
            FileManager.default.isExecutableFile(atPath: "\(newest)/initdb")
        else {
            throw TestSupportError("no PostgreSQL server binaries in \(root): apt-get install postgresql, or set PG_BIN")
        }
        return URL(fileURLWithPath: newest)
    }
}

enum ServerProcess {
    static var isRoot: Bool { getuid() == 0 }

    /// PostgreSQL refuses to run as root: as root, the directory goes to the postgres account.
    static func handOverToPostgresUser(_ directory: URL) async throws {
        guard isRoot else { return }
        try await run("/bin/chown", ["postgres:postgres", directory.path], asPostgres: false)
    }

    /// Runs a program to completion (as the postgres account when we are root); throws with its output on failure.
    /// posix_spawn and waitpid on a thread of their own: Foundation's `Process` can miss the exit of a child
    /// inside a test runner that blocks signals, and would hold a cooperative thread while waiting.
    static func run(_ executable: String, _ arguments: [String], asPostgres: Bool = true) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread {
                continuation.resume(with: Result { try runBlocking(executable, arguments, asPostgres: asPostgres) })
            }.start()
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], asPostgres: Bool) throws {
        let argv =
            asPostgres && isRoot
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments
            : [executable] + arguments
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("stockops-pg-output-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = try spawnAndWait(argv, outputPath: outputPath)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw TestSupportError(
                "\(argv.joined(separator: " ")) exited \(status): " + String(text.suffix(2000)))
        }
    }

    /// Starts `argv` with stdout and stderr going to a file (a pipe would stay open in a server it
    /// starts), default signal handling and an empty signal mask, and waits for its exit status.
    private static func spawnAndWait(_ argv: [String], outputPath: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, environ)
        guard spawned == 0 else { throw TestSupportError("cannot start \(argv[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw TestSupportError("waitpid failed: errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public enum FreePort {
    public static func pick() throws -> Int {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw TestSupportError("socket() failed: errno \(errno)") }
        defer { close(socketDescriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestSupportError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketDescriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
