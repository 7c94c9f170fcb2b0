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

extension Session {
    /// The containers' own (non-service) parts of an environment's Compose project.
    static let infrastructureServices = ["proxy", "db", "vault-agent"]

    /// `stockops logs`: the logs of an environment's containers, read from the engine (`docker logs`), masked, each line
    /// prefixed with its container's service when there are several. Exit 1 when no such container exists, 2 for a
    /// service or `--since` it does not know, 3 when Docker cannot be asked.
    public func logs(_ request: LogsRequest) async -> ExitStatus {
        let config: PipelineConfig
        do {
            config = try loadConfig(request.target)
        } catch {
            return fail(error)
        }
        let services = config.services.map(\.name)
        if let service = request.service, !services.contains(service), !Self.infrastructureServices.contains(service) {
            return fail(
                StockOpsError(
                    .usage,
                    "--service \(service): \(request.target.environment.rawValue) has " + (services + Self.infrastructureServices).joined(separator: ", ")))
        }
        if let since = request.since, !Self.validSince(since) {
            return fail(StockOpsError(.usage, "--since \(since): give a duration such as 30s, 5m or 2h, or an RFC 3339 time such as 2026-01-01T12:00:00Z"))
        }
        let project = ComposeEnvironment.command(
            flavor: .standalone, environment: request.target.environment, root: nil, processEnvironment: request.target.processEnvironment
        ).projectName
        let active = TrafficProxy(stateDirectory: request.target.stateDirectory, project: project).activeSlot()
        let wanted: [String]
        if let service = request.service, Self.infrastructureServices.contains(service) {
            wanted = [service]
        } else {
            let names = request.service.map { [$0] } ?? services
            wanted = names.flatMap { name -> [String] in
                guard let active else { return [name] }
                return request.allSlots ? [active.composeService(name), active.other.composeService(name)] : [active.composeService(name)]
            }
        }
        let environment = Command.dockerEnvironment(from: request.target.processEnvironment)
        let runner = ProcessRunner()
        var containers: [(service: String, id: String)] = []
        for service in wanted {
            let argv = [
                "docker", "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project=\(project)", "--filter",
                "label=com.docker.compose.service=\(service)",
            ]
            do {
                let result = try await runner.run(Command(argv: argv, environment: environment))
                guard result.succeeded else { return fail(StockOpsError(.infrastructure, "docker ps failed: \(Deployer.tail(result.output))")) }
                containers += result.output.split(whereSeparator: \.isNewline).map { (service, String($0)) }
            } catch {
                return fail(StockOpsError(.infrastructure, "docker ps could not run: \(error)"))
            }
        }
        guard !containers.isEmpty else {
            errors.write(
                "error: no container of \(wanted.joined(separator: ", ")) in \(project): is anything deployed? (stockops status --env \(request.target.environment.rawValue))\n"
            )
            return .gateFailed
        }
        var arguments = ["--timestamps"]
        if let since = request.since { arguments += ["--since", since] }
        if let tail = request.tail { arguments += ["--tail", String(tail)] }
        if request.follow { arguments.append("--follow") }
        let prefixed = containers.count > 1
        let output = output
        let commands = containers.map { container in
            (
                Command(argv: ["docker", "logs"] + arguments + [container.id], environment: environment),
                NodeLog(forwardingTo: output.fd, prefix: prefixed ? container.service + " | " : "")
            )
        }
        let interrupted = await Interruption.cancellingOnSignals { () async -> Bool in
            if request.follow {
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
        if interrupted.interrupted { return .success }
        return interrupted.value ? .success : fail(StockOpsError(.infrastructure, "docker logs failed for \(project)"))
    }

    static func validSince(_ value: String) -> Bool {
        if let unit = value.last, "smh".contains(unit), let amount = Double(value.dropLast()), amount >= 0 { return true }
        return ISO8601DateFormatter().date(from: value) != nil
    }
}
