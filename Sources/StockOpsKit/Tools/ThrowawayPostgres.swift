import Foundation

/// A PostgreSQL server of the runner's own binaries, for one test node: a new data directory, trust authentication,
/// loopback only, a free port, no fsync; stopped (immediate) and deleted by ``stop()``.
///
/// As root the server runs as the `postgres` account (`runuser`), since PostgreSQL refuses to run as root.
public struct ThrowawayPostgres: Sendable {
    /// The URL the tests connect with, as `STOCKOPS_TEST_DATABASE_URL`.
    public let url: String
    let directory: String
    let binaries: String
    let runner: ProcessRunner

    /// The directory of `initdb` and `pg_ctl`: `$STOCKOPS_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`,
    /// else the `PATH`'s. Nil when none has both.
    public static func findBinaries(environment: RunEnvironment = .process) -> String? {
        func usable(_ directory: String) -> Bool {
            ["initdb", "pg_ctl"].allSatisfy { FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
        }
        if let configured = environment.postgresBinaries { return usable(configured) ? configured : nil }
        // Without Debian's PostgreSQL directory the PATH is searched instead.
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { name in Int(name).map { ($0, "/usr/lib/postgresql/\(name)/bin") } }
            .sorted { $0.0 > $1.0 }
        if let found = versions.map(\.1).first(where: usable) { return found }
        return environment.path.split(separator: ":").map(String.init).first(where: usable)
    }

    /// Why a test node that needs a database cannot have one, and what to do.
    public static let missingBinaries = """
        the tests need a PostgreSQL: set STOCKOPS_TEST_DATABASE_URL to a server they may use, or install the \
        PostgreSQL server binaries (apt-get install postgresql; or set STOCKOPS_PG_BIN to the directory of initdb and pg_ctl) \
        so that a throwaway one is started
        """

    /// Starts a server; throws an infrastructure ``StageFailure`` naming what is missing or what failed.
    public static func start(runner: ProcessRunner, log: NodeLog, environment: RunEnvironment = .process) async throws
        -> ThrowawayPostgres
    {
        guard let binaries = findBinaries(environment: environment) else { throw StageFailure.infrastructure(missingBinaries) }
        var template = Array((NSTemporaryDirectory() + "/stockops-postgres-XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StageFailure.infrastructure("cannot create a directory for a throwaway PostgreSQL in \(NSTemporaryDirectory())")
        }
        let directory = String(cString: created)
        let asRoot = getuid() == 0
        if asRoot {
            let chown = try await runner.run(Command("chown", ["postgres:", directory]))
            guard chown.succeeded else {
                // Cleanup of an empty temporary directory; the chown failure below is what matters.
                try? FileManager.default.removeItem(atPath: directory)
                throw StageFailure.infrastructure("cannot give \(directory) to the postgres account (the server refuses to run as root): \(chown.output)")
            }
        }
        let port = try LoopbackPort.free()
        let server = ThrowawayPostgres(url: "postgres://postgres@127.0.0.1:\(port)/postgres", directory: directory, binaries: binaries, runner: runner)
        let initdb = server.command("initdb", ["-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        let start = server.command(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
                "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off",
                "start",
            ])
        log.write("a throwaway PostgreSQL for the tests: \(binaries), port \(port)\n")
        for command in [initdb, start] {
            let result = try await runner.run(command)
            if !result.succeeded {
                // The server log only adds detail to the failure; without it the tool output is reported alone.
                let serverLog = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
                await server.stop()
                throw StageFailure.infrastructure(
                    "the throwaway PostgreSQL did not start (\(command.displayString)): \(result.output.suffix(800))\(serverLog.suffix(800))")
            }
        }
        return server
    }

    /// Stops the server at once and deletes its directory; safe to call when it never started. Returns why the server
    /// may still run, when `pg_ctl stop` failed.
    @discardableResult
    public func stop() async -> String? {
        var problem: String?
        if FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid") {
            do {
                let result = try await runner.run(command("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"]))
                if !result.succeeded { problem = "pg_ctl stop exited \(result.exitStatus.map(String.init) ?? "by a signal"): \(result.output.suffix(300))" }
            } catch {
                problem = "pg_ctl stop could not run: \(error)"
            }
        }
        // A temporary directory left behind costs disk space, nothing else.
        try? FileManager.default.removeItem(atPath: directory)
        return problem
    }

    /// `binaries/name arguments`, as the postgres account when this process is root.
    func command(_ name: String, _ arguments: [String]) -> Command {
        let executable = binaries + "/" + name
        if getuid() == 0 { return Command("runuser", ["-u", "postgres", "--", executable] + arguments) }
        return Command(executable, arguments)
    }
}

/// Ports on 127.0.0.1.
public enum LoopbackPort {
    /// A loopback TCP port nothing listens on right now.
    public static func free() throws -> Int {
        let (descriptor, port) = try boundSocket()
        close(descriptor)
        return port
    }

    /// A socket bound to a loopback port of the kernel's choosing, not listening, and that port. While the socket is
    /// open, a connection to the port is refused and no other socket gets it.
    static func boundSocket() throws -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StageFailure.infrastructure("socket() failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw StageFailure.infrastructure("no free loopback port: \(reason)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
