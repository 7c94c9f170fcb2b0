import Foundation
import Testing

@testable import StockOpsKit

/// `stockops logs`: what it refuses before asking Docker, and how it writes several containers' lines.
@Suite struct LogsTests {
    func request(service: String? = nil, since: String? = nil) -> LogsRequest {
        let target = EnvironmentRequest(
            root: OpenBaoDevServer.repositoryRoot.path, environment: .dev,
            processEnvironment: [
                "STOCKOPS_STATE_DIR": temporaryDirectory("state"), "DOCKER_HOST": "unix:///nonexistent.sock",
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "",
            ])
        var request = LogsRequest(target: target)
        request.service = service
        request.since = since
        return request
    }

    @Test func anUnknownServiceOrSinceIsRefusedNamingWhatExists() async throws {
        func streamed(_ request: LogsRequest) async -> StockOpsError? {
            await attempt { () async throws(StockOpsError) in try await request.stream(to: .discarding) }.failure
        }
        let unknown = await streamed(request(service: "trades"))
        #expect(unknown?.exitStatus == .usage)
        #expect(unknown?.message.contains("--service trades: dev has stock-listing, trade, proxy, db, vault-agent") == true)
        let badSince = await streamed(request(service: "trade", since: "yesterday"))
        #expect(badSince?.exitStatus == .usage)
        #expect(badSince?.message.contains("--since yesterday: give a duration such as 30s") == true)
        #expect(LogsRequest.validSince("90s") && LogsRequest.validSince("1.5h") && LogsRequest.validSince("2026-01-01T12:00:00Z"))
        let noDocker = await streamed(request(service: "trade", since: "5m"))
        #expect(noDocker?.exitStatus == .infrastructure)
        #expect(noDocker?.message.contains("docker ps failed") == true)
    }

    @Test func forwardedLinesCarryTheirPrefixAndAreMasked() throws {
        let secret = Secret("logs-\(UUID().uuidString)").registered()
        let path = temporaryDirectory() + "/out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(fd) }
        let log = NodeLog(forwardingTo: fd, prefix: "trade-green | ")
        log.write("first\nsec")
        log.write("ond " + secret.reveal() + "\nthird")
        log.flush()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "trade-green | first\ntrade-green | second ***\ntrade-green | third")
        #expect(fcntl(fd, F_GETFD) >= 0, "the descriptor it forwards to stays open")
    }
}

/// The short flags argument-parser users expect (`-e` for `--env`, `-j` for `--jobs`), and one spelling of the lock wait.
@Suite struct ShortFlagsTests {
    @Test func dashEIsTheEnvironmentAndDashJTheJobs() async throws {
        let binary = EnvironmentLockTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw FixtureError("\(binary) is missing: run swift build --build-tests first") }
        let root = temporaryDirectory("short-flags")
        let environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "STOCKOPS_STATE_DIR": root + "/state",
            "DOCKER_HOST": "unix:///nonexistent.sock",
        ]
        let status = try await runTool([binary, "status", "-e", "stage", "--root", root], environment: environment)
        #expect(status.output.contains("environment: stage (project stocks-stage)"), "\(status.output)")
        let help = try await runTool([binary, "plan", "--help"], environment: environment)
        #expect(help.output.contains("-e, --env <env>") && help.output.contains("-j, --jobs <jobs>"), "\(help.output)")
        let run = try await runTool([binary, "run", "--help"], environment: environment)
        #expect(run.output.contains("--wait, --lock-wait <seconds>"), "run spells the lock wait as rollback and lock do: \(run.output)")
        let negative = try await runTool([binary, "run", "--wait=-1", "--root", root], environment: environment)
        #expect(negative.status == 2 && negative.output.contains("--wait must be between 0 and 86400 seconds"), "\(negative.output)")
    }
}
