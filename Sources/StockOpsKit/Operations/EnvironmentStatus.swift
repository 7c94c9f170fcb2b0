import CurlHTTP
import Foundation

/// What `stockops status` found in an environment: the ledger's live and last good versions, its lock, what the
/// proxy and the engine serve, and how that differs from the ledger. Encodes as `status --json`.
public struct EnvironmentStatus: CommandOutcome, Encodable {
    /// One service's container (or, without an engine to ask, what the ledger says).
    public struct Service: Sendable, Encodable {
        public var service: String
        /// `live` or `retained` (the other slot).
        public var role: String?
        public var state: String?
        public var health: String?
        public var image: String?
        public var digest: String?
    }

    /// The slot the proxy sends traffic to (nil before the first switch) and what each slot holds.
    public struct ProxyStatus: Sendable, Encodable {
        public var active: Slot?
        public var slots: [String: SlotContents]
    }

    public var environment: Environment
    public var live: LedgerEntry?
    public var lastGood: LedgerEntry?
    public var lock: String
    public var services: [Service]
    /// Why the engine could not be asked; nil when it answered.
    public var docker: String?
    public var stateDirectory: String
    public var proxy: ProxyStatus
    /// The version each service reports through the published ports (`GET /livez`).
    public var answering: [String: String]
    /// What the engine runs that differs from the ledger's live version; empty when it serves it.
    public var drift: [String]
    /// The canary a deploy is running, with its figures so far.
    public var canary: RolloutState?
    /// The environment's Compose project.
    public var project: String
    /// The ledger file, and the lines of it that could not be read.
    public var ledger: String
    public var ledgerProblems: [LedgerProblem]
    /// The SwiftPM directories of the test and build nodes, when they are kept in the state directory.
    public var builds: String?

    private enum CodingKeys: String, CodingKey {
        case environment, live, lastGood, lock, services, docker, stateDirectory, proxy, answering, drift, canary
    }

    /// 0 the engine serves what the ledger says is live; 1 it does not; 3 the engine could not be asked.
    public var exitStatus: ExitStatus {
        if docker != nil { return .infrastructure }
        return drift.isEmpty ? .success : .gateFailed
    }
}

extension EnvironmentRequest {
    /// `stockops status`: what runs in the environment (ledger), who holds its lock, and each service's container.
    /// Throws only when the ledger or lock cannot be read; an engine that cannot be asked is the status's `docker`.
    public func status() async throws(StockOpsError) -> EnvironmentStatus {
        let ledger = Ledger(stateDirectory: stateDirectory, environment: environment)
        let contents: LedgerContents
        let lock: LockState
        do {
            contents = try ledger.read()
            lock = try EnvironmentLock.inspect(stateDirectory: stateDirectory, environment: environment)
        } catch {
            throw StockOpsError(.infrastructure, "\(error)")
        }
        let project = ComposeEnvironment.command(flavor: .plugin, environment: environment, root: nil, processEnvironment: processEnvironment).projectName
        let argv = ContainerStatus.list(project: project)
        var containers: [ContainerStatus]?
        var dockerProblem: String?
        do {
            let result = try await ProcessRunner().run(
                Command(argv[0], Array(argv.dropFirst()), environment: Command.dockerEnvironment(from: processEnvironment)))
            if result.succeeded {
                containers = try ContainerStatus.parse(result.output)
            } else {
                dockerProblem = "docker ps exited with \(result.exitStatus ?? -1): \(Deployer.tail(result.output))"
            }
        } catch {
            dockerProblem = "docker ps could not run: \(error)"
        }

        let live = contents.last
        let proxy = TrafficProxy(stateDirectory: stateDirectory, project: project)
        let activeSlot = proxy.activeSlot()
        let drift =
            containers.map {
                Self.servingDrift(live: contents.lastGood.flatMap { live?.outcome == .succeeded ? live : $0 }, containers: $0, slot: activeSlot)
            } ?? []
        let answering = activeSlot == nil ? [:] : await answeringBuilds()
        let services = Self.serviceNames(contents, containers).map { name in
            let container = containers?.first { $0.service == name }
            let role = Slot.parse(name).map { $0.slot == activeSlot ? "live" : "retained" } ?? (live?.images[name] != nil ? "live" : nil)
            let digest =
                container.flatMap { $0.image.split(separator: "@").last.map(String.init) }.flatMap { $0.hasPrefix("sha256:") ? $0 : nil }
                ?? live?.images[name]
            return EnvironmentStatus.Service(
                service: name, role: role, state: container?.state, health: container?.health, image: container?.image, digest: digest)
        }
        return EnvironmentStatus(
            environment: environment, live: live, lastGood: contents.lastGood, lock: lock.description, services: services, docker: dockerProblem,
            stateDirectory: stateDirectory,
            proxy: EnvironmentStatus.ProxyStatus(
                active: activeSlot, slots: Dictionary(uniqueKeysWithValues: proxy.slots().map { ($0.key.rawValue, $0.value) })),
            answering: answering, drift: drift, canary: proxy.rollout(), project: project, ledger: ledger.path, ledgerProblems: contents.problems,
            builds: StateDirectory.swiftPM(root: root, environment: processEnvironment, deploying: environment))
    }

    /// The version each service of the pipeline reports on its published port (`GET /livez` through the proxy), or
    /// why it could not be asked; empty without a readable pipeline.
    func answeringBuilds() async -> [String: String] {
        // Optional: without a readable pipeline the status shows no answering builds, as documented above.
        guard let config = try? PipelineConfig.load(root: root, configPath: configPath) else { return [:] }
        let compose = ComposeEnvironment.command(flavor: .standalone, environment: environment, root: nil, processEnvironment: processEnvironment)
        let project = ComposeEnvironment(compose: compose, config: config, environment: environment, processEnvironment: processEnvironment)
        // Likewise without the services' published ports.
        guard let ports = try? project.ports() else { return [:] }
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        var versions: [String: String] = [:]
        for service in config.services {
            let url = "http://\(project.smokeHost):\(ports[service.name] ?? 0)/livez"
            do {
                let response = try await client.send(HTTPRequest(url: url))
                // A body that is not JSON reads as "no version in /livez".
                let body = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]
                versions[service.name] =
                    response.status == 200 ? (body?["version"] as? String ?? "no version in /livez") : "GET /livez answered \(response.status)"
            } catch {
                versions[service.name] = "no answer on port \(ports[service.name] ?? 0)"
            }
        }
        return versions
    }

    /// How the engine's containers differ from the version the ledger says is live: a service not running, unhealthy,
    /// or running another digest. Empty when nothing was deployed or it serves exactly that version.
    static func servingDrift(live: LedgerEntry?, containers: [ContainerStatus], slot: Slot?) -> [String] {
        guard let live else { return [] }
        let running = Deployer.runningDigests(containers, slot: slot)
        return live.images.keys.sorted().compactMap { service in
            let container = containers.first { $0.service == (slot?.composeService(service) ?? service) }
            guard let container, container.state == "running" else {
                return "\(service) is \(container?.state ?? "not there")"
            }
            if container.health == "unhealthy" { return "\(service) is unhealthy" }
            if let digest = running[service], digest != live.images[service] {
                return "\(service) runs \(digest.prefix(19)), not \(live.tag)'s \(live.images[service]?.prefix(19) ?? "")"
            }
            return nil
        }
    }

    static func serviceNames(_ contents: LedgerContents, _ containers: [ContainerStatus]?) -> [String] {
        guard let containers, !containers.isEmpty else { return (contents.last?.images.keys).map { Array($0).sorted() } ?? [] }
        return Array(Set(containers.map(\.service))).sorted()
    }
}
