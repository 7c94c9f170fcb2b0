import Foundation

/// `stockops logs`'s options.
public struct LogsRequest: Sendable {
    public var target: EnvironmentRequest
    /// `--service`: a service of the pipeline (its live slot's container), or `proxy`, `db` or `vault-agent`; nil: every
    /// service of the pipeline.
    public var service: String?
    /// `--since`: `30s`, `5m`, `2h`, or an RFC 3339 time.
    public var since: String?
    /// `--tail`: at most this many lines per container.
    public var tail: Int?
    /// `--follow`: keep printing until interrupted.
    public var follow = false
    /// `--all-slots`: also the retained slot's containers.
    public var allSlots = false

    public init(target: EnvironmentRequest) {
        self.target = target
    }
}

extension LogsRequest {
    /// The containers' own (non-service) parts of an environment's Compose project.
    static let infrastructureServices = ["proxy", "db", "vault-agent"]

    /// `stockops logs`: writes the logs of an environment's containers, read from the engine (`docker logs`), to
    /// `output` (masked), each line prefixed with its container's service when there are several; an interruption ends
    /// it quietly. Throws a usage error for a service or `--since` it does not know, a gate error when no such
    /// container exists, an infrastructure error when Docker cannot be asked.
    public func stream(to output: Console) async throws(StockOpsError) {
        let config = try target.pipelineConfig()
        let services = config.services.map(\.name)
        if let service, !services.contains(service), !Self.infrastructureServices.contains(service) {
            throw StockOpsError(
                .usage, "--service \(service): \(target.environment.rawValue) has " + (services + Self.infrastructureServices).joined(separator: ", "))
        }
        if let since, !Self.validSince(since) {
            throw StockOpsError(.usage, "--since \(since): give a duration such as 30s, 5m or 2h, or an RFC 3339 time such as 2026-01-01T12:00:00Z")
        }
        let project = ComposeEnvironment.command(flavor: .standalone, environment: target.environment, root: nil, processEnvironment: target.processEnvironment)
            .projectName
        let active = TrafficProxy(stateDirectory: target.stateDirectory, project: project).activeSlot()
        let wanted: [String]
        if let service, Self.infrastructureServices.contains(service) {
            wanted = [service]
        } else {
            wanted = (service.map { [$0] } ?? services).flatMap { name -> [String] in
                guard let active else { return [name] }
                return allSlots ? [active.composeService(name), active.other.composeService(name)] : [active.composeService(name)]
            }
        }
        let environment = Command.dockerEnvironment(from: target.processEnvironment)
        let runner = ProcessRunner()
        var containers: [(service: String, id: String)] = []
        for service in wanted {
            let argv = [
                "docker", "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project=\(project)", "--filter",
                "label=com.docker.compose.service=\(service)",
            ]
            let result: ProcessResult
            do {
                result = try await runner.run(Command(argv: argv, environment: environment))
            } catch {
                throw StockOpsError(.infrastructure, "docker ps could not run: \(error)")
            }
            guard result.succeeded else { throw StockOpsError(.infrastructure, "docker ps failed: \(Deployer.tail(result.output))") }
            containers += result.output.split(whereSeparator: \.isNewline).map { (service, String($0)) }
        }
        guard !containers.isEmpty else {
            throw StockOpsError(
                .gate,
                "no container of \(wanted.joined(separator: ", ")) in \(project): is anything deployed? (stockops status --env \(target.environment.rawValue))")
        }
        var arguments = ["--timestamps"]
        if let since { arguments += ["--since", since] }
        if let tail { arguments += ["--tail", String(tail)] }
        if follow { arguments.append("--follow") }
        let prefixed = containers.count > 1
        let commands = containers.map { container in
            (
                Command(argv: ["docker", "logs"] + arguments + [container.id], environment: environment),
                NodeLog(forwardingTo: output.fd, prefix: prefixed ? container.service + " | " : "")
            )
        }
        let follow = follow
        let read = await Interruption.cancellingOnSignals { () async -> Bool in
            if follow {
                return await withTaskGroup(of: Bool.self) { group in
                    for (command, log) in commands {
                        // A docker logs that fails or cannot start counts as failed unless interrupted; the caller reports it.
                        group.addTask { (try? await runner.run(command, log: log))?.succeeded ?? Task.isCancelled }
                    }
                    return await group.allSatisfy { $0 }
                }
            }
            for (command, log) in commands {
                // A docker logs that fails or cannot start ends the loop; the caller reports the failure.
                guard (try? await runner.run(command, log: log))?.succeeded == true else { return false }
                log.flush()
            }
            return true
        }
        for (_, log) in commands { log.flush() }
        guard read.interrupted || read.value else { throw StockOpsError(.infrastructure, "docker logs failed for \(project)") }
    }

    static func validSince(_ value: String) -> Bool {
        if let unit = value.last, "smh".contains(unit), let amount = Double(value.dropLast()), amount >= 0 { return true }
        return ISO8601DateFormatter().date(from: value) != nil
    }
}
