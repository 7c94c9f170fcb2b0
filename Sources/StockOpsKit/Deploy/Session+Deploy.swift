import CurlHTTP
import Foundation

/// What `rollback`, `status`, `history`, `lock` and `unlock` act on; the CLI fills it from its flags.
public struct EnvironmentRequest: Sendable {
    public var root: String
    public var configPath: String
    public var environment: Environment
    /// The process environment: `STOCKOPS_STATE_DIR`, Compose's variables, registry credentials, `GITHUB_*`.
    public var processEnvironment: RunEnvironment
    /// Print JSON instead of text.
    public var json = false

    public init(
        root: String, configPath: String = PipelineConfig.defaultPath, environment: Environment,
        processEnvironment: RunEnvironment
    ) {
        self.root = root
        self.configPath = configPath
        self.environment = environment
        self.processEnvironment = processEnvironment
    }

    var stateDirectory: String { StateDirectory.resolve(root: root, environment: processEnvironment) }
}

/// `stockops rollback`'s options.
public struct RollbackRequest: Sendable {
    public var target: EnvironmentRequest
    /// `--tag`; nil with `--to-previous`.
    public var tag: String?
    /// `--to-previous`: the newest good tag of the ledger other than the live one.
    public var toPrevious = false
    /// `--yes`: no confirmation question (an environment requiring approval still needs one).
    public var yes = false
    /// `--approver NAME`.
    public var approver: String?
    public var smokeTimeout: Duration = SmokeTest.defaultTimeout
    /// `--wait`: how long to wait for a held lock.
    public var lockWait: Duration = .zero
    /// `--force-unverified`: roll back to digests whose signatures do not verify, or (prod) that were never live there
    /// and have no stage proof; the ledger records it.
    public var forceUnverified = false
    /// Asks for a confirmation and returns who confirmed; nil means no terminal. The CLI asks on its terminal.
    public var confirm: (@Sendable (String, String) -> String?)?

    public init(target: EnvironmentRequest, tag: String?) {
        self.target = target
        self.tag = tag
    }
}

extension EnvironmentRequest {
    /// The pipeline file, with `STOCKOPS_REGISTRY` replacing the registry host as in the image stages; an environment
    /// it does not list is a usage error.
    public func pipelineConfig() throws(StockOpsError) -> PipelineConfig {
        let path = configPath.hasPrefix("/") ? configPath : root + "/" + configPath
        let config: PipelineConfig
        do {
            config = try PipelineConfig.load(path: path, displayPath: configPath)
        } catch {
            throw StockOpsError(.config, error.description)
        }
        do {
            try Environment.check(environment, in: config.environments)
        } catch {
            throw StockOpsError(.usage, error.message)
        }
        return RegistryAccess.effective(config, environment: processEnvironment)
    }

    /// The deployer of this environment as commands outside the pipeline make it (`rollback`, `tags`): Compose as
    /// installed (or `flavor`), the registry login and trusted keys found the way the pipeline finds them.
    func deployer(
        config: PipelineConfig, runner: ProcessRunner, log: NodeLog, progress: @escaping @Sendable (String) -> Void, smokeTimeout: Duration,
        lockWait: Duration, approval: Approval?, runID: String, forceUnverified: Bool = false, flavor known: ComposeCommand.Flavor? = nil
    ) async throws(StockOpsError) -> Deployer {
        let flavor: ComposeCommand.Flavor
        if let known {
            flavor = known
        } else {
            flavor = try await ComposeEnvironment.detectFlavor(runner: runner, environment: processEnvironment)
        }
        let verifies = config.environments[environment]?.verify == .signature || environment == .prod
        let (credentials, trust) = try await RegistryAccess.outsidePipeline(config: config, root: root, environment: processEnvironment, keys: verifies)
        return Deployer(
            environment: ComposeEnvironment(
                compose: ComposeEnvironment.command(flavor: flavor, environment: environment, root: root, processEnvironment: processEnvironment),
                config: config, environment: environment, processEnvironment: processEnvironment),
            registry: RegistryAccess.client(config.registry, credentials: credentials),
            stateDirectory: stateDirectory, runner: runner, log: log, progress: progress,
            smokeTimeout: smokeTimeout, lockWait: lockWait, actor: DeployActor.name(processEnvironment), approval: approval, runID: runID,
            pullCredentials: credentials, trust: trust, forceUnverified: forceUnverified)
    }
}

extension Session {
    func loadConfig(_ request: EnvironmentRequest) throws(StockOpsError) -> PipelineConfig {
        try request.pipelineConfig()
    }

    /// The approval of a run that deploys (`--approve deploy`) to an environment that requires one; nil otherwise.
    func deployApproval(_ request: RunRequest, config: PipelineConfig, environment: Environment) async throws(StockOpsError) -> Approval? {
        let deploys = request.approvals.contains { StockOpsPipeline.deploy.id.matches(selector: $0) }
        guard deploys, config.environments[environment]?.approval == true else { return nil }
        let question = "Deploy to \(environment.rawValue)?"
        let confirm: (() -> String?)? =
            request.confirm.map { ask in { ask(question, environment.rawValue) } }
            ?? Approval.terminalConfirmation(question, expected: environment.rawValue)
        return try await Approval.resolve(
            environment: environment, approver: request.approver, processEnvironment: request.processEnvironment, confirm: confirm)
    }

    /// `stockops rollback`: returns an environment to a tag that exists for every service in the registry.
    ///
    /// Exit status: 0 rolled back and smoke-tested; 1 the tag failed its smoke test (and the environment went back to
    /// its previous good tag when there was one); 2 invalid, missing or untrusted tag, or signatures that do not verify
    /// (nothing changed), no approval; 3 Docker,
    /// Compose or the registry failed; 4 the environment is locked.
    public func rollback(_ request: RollbackRequest) async -> ExitStatus {
        let target = request.target
        let config: PipelineConfig
        do {
            config = try loadConfig(target)
        } catch {
            return fail(error)
        }
        let environment = target.environment
        var tag: RegistryTag?
        switch (request.tag, request.toPrevious) {
        case (nil, false), (.some, true):
            return fail(StockOpsError(.usage, "pass either --tag TAG or --to-previous"))
        case (let text?, false):
            do {
                tag = try RegistryTag.parse(text)
            } catch {
                return fail(StockOpsError(.usage, "--tag: \(error.message)"))
            }
        case (nil, true):
            tag = nil
        }

        let question = "Roll \(environment.rawValue) back to \(tag?.name ?? "its previous good tag")?"
        let confirm: (() -> String?)? =
            request.confirm.map { ask in { ask(question, environment.rawValue) } }
            ?? Approval.terminalConfirmation(question, expected: environment.rawValue)
        var approval: Approval?
        if config.environments[environment]?.approval == true {
            do {
                approval = try await Approval.resolve(
                    environment: environment, approver: request.approver, processEnvironment: target.processEnvironment, confirm: confirm)
            } catch {
                return fail(error)
            }
        } else if !request.yes {
            guard let confirm else {
                return fail(StockOpsError(.usage, "rolling back \(environment.rawValue) needs a confirmation: pass --yes, or run on a terminal"))
            }
            guard confirm() != nil else {
                return fail(StockOpsError(.usage, "not confirmed; nothing was changed"))
            }
        }

        let runID = RecordPaths.newRunID(kind: "rollback")
        let paths = RunPaths(root: target.root, runDirectory: target.root + "/.stockops/runs/" + runID)
        let log = NodeLog(path: paths.logsDirectory + "/rollback.log")
        let deployer: Deployer
        // Under --json the progress goes to standard error, the one document to standard output.
        let progress = target.json ? errors : output
        do {
            deployer = try await target.deployer(
                config: config, runner: ProcessRunner(), log: log, progress: { progress.write($0 + "\n") }, smokeTimeout: request.smokeTimeout,
                lockWait: request.lockWait, approval: approval, runID: runID, forceUnverified: request.forceUnverified)
        } catch {
            return fail(error)
        }
        let started = ContinuousClock.now
        let outcome: Result<Deployment, DeployFailure>
        do {
            let destination: RegistryTag
            if let tag {
                destination = tag
            } else {
                destination = try deployer.previousGoodTag()
            }
            // SIGINT/SIGTERM cancel it; a switch of the proxy already under way is finished and recorded first.
            let interruptible = await Interruption.cancellingOnSignals { () async -> Result<Deployment, DeployFailure> in
                do throws(DeployFailure) {
                    return .success(try await deployer.rollback(to: destination))
                } catch {
                    return .failure(error)
                }
            }
            if interruptible.interrupted, case .failure(let error) = interruptible.value {
                outcome = .failure(DeployFailure(error.code, "interrupted before the proxy was switched, so the live version kept serving: \(error.message)"))
            } else {
                outcome = interruptible.value
            }
        } catch {
            outcome = .failure(error)
        }
        log.flush()
        do {
            try RecordPaths.writeSummary(outcome, to: paths)
        } catch {
            // The rollback's outcome stands and is printed below; only its summary file is missing, and the operator is told.
            errors.write("warning: \(paths.runDirectory)/rollback.json could not be written: \(error.localizedDescription)\n")
        }
        if target.json {
            printJSON(RecordPaths.RollbackSummary(outcome, environment: environment, runID: runID, log: paths.logsDirectory + "/rollback.log"))
        }
        switch outcome {
        case .success where target.json:
            return .success
        case .success(let deployment):
            output.write(
                "\(environment.rawValue) is on \(deployment.tag) (was \(deployment.previousTag ?? "nothing")): smoke test passed, "
                    + String(format: "%.1f s", Deployer.seconds(since: started)) + "; log: \(paths.logsDirectory)/rollback.log\n")
            return .success
        case .failure(let failure):
            errors.write("error: \(failure.message)\n")
            return failure.exitStatus
        }
    }

    /// `stockops status`: what runs in the environment (ledger), who holds its lock, and each service's container.
    /// Exit status 1 when the engine does not serve what the ledger says is live (a service stopped, unhealthy or on
    /// another digest); 3 when Docker cannot be asked (what the ledger knows is printed anyway).
    public func status(_ request: EnvironmentRequest) async -> ExitStatus {
        let environment = request.environment
        let ledger = Ledger(stateDirectory: request.stateDirectory, environment: environment)
        let contents: LedgerContents
        let lock: LockState
        do {
            contents = try ledger.read()
            lock = try EnvironmentLock.inspect(stateDirectory: request.stateDirectory, environment: environment)
        } catch {
            return fail(StockOpsError(.infrastructure, "\(error)"))
        }
        for problem in contents.problems { errors.write("warning: \(ledger.path) \(problem)\n") }
        let project = ComposeEnvironment.command(flavor: .plugin, environment: environment, root: nil, processEnvironment: request.processEnvironment)
            .projectName
        let argv = ContainerStatus.list(project: project)
        let environmentVariables = Command.dockerEnvironment(from: request.processEnvironment)
        var containers: [ContainerStatus]?
        var dockerProblem: String?
        do {
            let result = try await ProcessRunner().run(Command(argv[0], Array(argv.dropFirst()), environment: environmentVariables))
            if result.succeeded {
                containers = try ContainerStatus.parse(result.output)
            } else {
                dockerProblem = "docker ps exited with \(result.exitStatus ?? -1): \(Deployer.tail(result.output))"
            }
        } catch {
            dockerProblem = "docker ps could not run: \(error)"
        }

        let live = contents.last
        let proxy = TrafficProxy(stateDirectory: request.stateDirectory, project: project)
        let activeSlot = proxy.activeSlot()
        let slotContents = proxy.slots()
        let drift =
            containers.map { Self.servingDrift(live: contents.lastGood.flatMap { live?.outcome == .succeeded ? live : $0 }, containers: $0, slot: activeSlot) }
            ?? []
        let answering = activeSlot == nil ? [:] : await Self.answeringBuilds(request)
        let role = { (name: String) -> String? in
            Slot.parse(name).map { $0.slot == activeSlot ? "live" : "retained" } ?? (live?.images[name] != nil ? "live" : nil)
        }
        let digest = { (name: String, container: ContainerStatus?) -> String? in
            container.flatMap { $0.image.split(separator: "@").last.map(String.init) }.flatMap { $0.hasPrefix("sha256:") ? $0 : nil } ?? live?.images[name]
        }
        if request.json {
            struct Service: Encodable {
                var service: String
                var role: String?
                var state: String?
                var health: String?
                var image: String?
                var digest: String?
            }
            struct ProxyStatus: Encodable {
                var active: Slot?
                var slots: [String: SlotContents]
            }
            struct Status: Encodable {
                var environment: Environment
                var live: LedgerEntry?
                var lastGood: LedgerEntry?
                var lock: String
                var services: [Service]
                var docker: String?
                var stateDirectory: String
                /// The slot the proxy sends traffic to (nil before the first switch) and what each slot holds.
                var proxy: ProxyStatus
                /// The version each service reports through the published ports (`GET /livez`).
                var answering: [String: String]
                /// What the engine runs that differs from the ledger's live version; empty when it serves it.
                var drift: [String]
                /// The canary a deploy is running, with its figures so far.
                var canary: RolloutState?
            }
            let services = Self.serviceNames(contents, containers).map { name in
                let container = containers?.first { $0.service == name }
                return Service(
                    service: name, role: role(name), state: container?.state, health: container?.health, image: container?.image,
                    digest: digest(name, container))
            }
            let status = Status(
                environment: environment, live: live, lastGood: contents.lastGood, lock: lock.description, services: services, docker: dockerProblem,
                stateDirectory: request.stateDirectory,
                proxy: ProxyStatus(active: activeSlot, slots: Dictionary(uniqueKeysWithValues: slotContents.map { ($0.key.rawValue, $0.value) })),
                answering: answering,
                drift: drift, canary: proxy.rollout())
            printJSON(status)
        } else {
            var text = "environment: \(environment.rawValue) (project \(project))\n"
            if let live {
                text += "live:        \(live.tag) — \(live.action.rawValue) \(live.outcome.rawValue) \(TextTable.time(live.time)) by \(live.actor)"
                text += (live.approver.map { ", approved by \($0)" } ?? "") + (live.runID.map { ", run \($0)" } ?? "") + "\n"
                if live.outcome == .failed, let good = contents.lastGood {
                    text += "last good:   \(good.tag) (\(TextTable.time(good.time)))\n"
                }
                if live.forceUnverified == true { text += "             released with --force-unverified: its digests did not pass stage\n" }
            } else {
                text += "live:        nothing deployed by stockops (the ledger \(ledger.path) is empty)\n"
            }
            text += "lock:        \(lock.description)\n"
            text += "state:       \(request.stateDirectory)\n"
            if let builds = StateDirectory.swiftPM(root: request.root, environment: request.processEnvironment, deploying: request.environment) {
                text += "builds:      \(builds) (SwiftPM directories of the test and build nodes)\n"
            }
            if let activeSlot {
                let held = { (slot: Slot) in slotContents[slot].map { "\(slot.rawValue) (\($0.tag))" } ?? "\(slot.rawValue) (empty)" }
                text += "proxy:       traffic to \(held(activeSlot)); retained: \(held(activeSlot.other))\n"
                if let rollout = proxy.rollout() { text += Self.describe(rollout) + "\n" }
                if !answering.isEmpty {
                    text +=
                        "answering:   " + answering.keys.sorted().map { "\($0) \(answering[$0]!)" }.joined(separator: ", ")
                        + " (GET /livez on the published ports)\n"
                }
            } else {
                text += "proxy:       not started: no deploy has switched it yet\n"
            }
            let rows = Self.serviceNames(contents, containers).map { name -> [String] in
                let container = containers?.first { $0.service == name }
                return [
                    name, container?.state ?? "-", container?.health ?? "-", role(name) ?? "-", digest(name, container).map { String($0.prefix(19)) } ?? "-",
                    container?.image ?? "-",
                ]
            }
            text += TextTable.render([["SERVICE", "STATE", "HEALTH", "ROLE", "DIGEST", "IMAGE"]] + rows)
            if let dockerProblem { text += "containers unknown: \(dockerProblem)\n" }
            if !drift.isEmpty { text += "NOT SERVING what the ledger says: " + drift.joined(separator: "; ") + "\n" }
            output.write(text)
        }
        if dockerProblem != nil { return .infrastructure }
        return drift.isEmpty ? .success : .gateFailed
    }

    /// The version each service of the pipeline reports on its published port (`GET /livez` through the proxy), or
    /// why it could not be asked; empty without a readable pipeline.
    static func answeringBuilds(_ request: EnvironmentRequest) async -> [String: String] {
        let path = request.configPath.hasPrefix("/") ? request.configPath : request.root + "/" + request.configPath
        // Optional: without a readable pipeline the status shows no answering builds, as documented above.
        guard let config = try? PipelineConfig.load(path: path, displayPath: request.configPath) else { return [:] }
        let compose = ComposeEnvironment.command(
            flavor: .standalone, environment: request.environment, root: nil, processEnvironment: request.processEnvironment)
        let environment = ComposeEnvironment(compose: compose, config: config, environment: request.environment, processEnvironment: request.processEnvironment)
        // Likewise without the services' published ports.
        guard let ports = try? environment.ports() else { return [:] }
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        var versions: [String: String] = [:]
        for service in config.services {
            let url = "http://\(environment.smokeHost):\(ports[service.name] ?? 0)/livez"
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

/// Records of commands that run outside the pipeline (rollback).
enum RecordPaths {
    static func newRunID(kind: String) -> String {
        RunRecord.newRunID() + "-" + kind
    }

    /// `rollback.json` in the run directory, and what `rollback --json` prints: the deployment, or the failure.
    struct RollbackSummary: Encodable {
        var status: String
        var deployment: Deployment?
        var error: String?
        var code: String?
        var environment: Environment?
        var runID: String?
        var log: String?

        init(_ outcome: Result<Deployment, DeployFailure>, environment: Environment? = nil, runID: String? = nil, log: String? = nil) {
            switch outcome {
            case .success(let deployment):
                status = "passed"
                self.deployment = deployment
            case .failure(let failure):
                status = "failed"
                error = failure.message
                code = failure.code.rawValue
            }
            self.environment = environment
            self.runID = runID
            self.log = log
        }
    }

    /// Writes `rollback.json` (masked); throws when it cannot be written.
    static func writeSummary(_ outcome: Result<Deployment, DeployFailure>, to paths: RunPaths) throws {
        let summary = RollbackSummary(outcome)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(summary)
        try FileManager.default.createDirectory(atPath: paths.runDirectory, withIntermediateDirectories: true)
        try PrivateFile.write(Data(SecretMasker.shared.mask(String(decoding: data, as: UTF8.self)).utf8), to: paths.runDirectory + "/rollback.json")
    }
}

extension Session {
    /// Runs `promote` and `deploy` for images built elsewhere (`builds`), as the pipeline runs them after
    /// `build[<service>]`; prints one line `release <env> <tag> <status> <seconds>`. For `stockops bench-deploy`.
    public func release(_ request: RunRequest, builds: [BuiltImage]) async -> ExitStatus {
        guard let environment = request.environment else { return fail(StockOpsError(.usage, "pass --env")) }
        let config: PipelineConfig
        do {
            config = try loadConfig(
                EnvironmentRequest(root: request.root, configPath: request.configPath, environment: environment, processEnvironment: request.processEnvironment)
            )
        } catch {
            return fail(error)
        }
        var options = StockOpsPipeline.Options(environment: environment)
        options.processEnvironment = request.processEnvironment
        options.deploy = DeploySettings(forceUnverified: request.forceUnverified, smokeTimeout: request.smokeTimeout, lockWait: request.lockWait)
        let graph: PipelineGraph
        var external: [NodeID: Data] = [:]
        do {
            options.deploy.approval = try await deployApproval(request, config: config, environment: environment)
            graph = try StockOpsPipeline.releaseGraph(config: config, options: options)
            for build in builds {
                external[StockOpsPipeline.build(build.service).id] = try JSONEncoder().encode(build)
            }
        } catch let error as StockOpsError {
            return fail(error)
        } catch {
            return fail(StockOpsError(.config, "\(error)"))
        }
        let runID = RecordPaths.newRunID(kind: "release")
        let scheduler = Scheduler(
            jobs: 2, paths: RunPaths(root: request.root, runDirectory: request.root + "/.stockops/runs/" + runID), approvals: [StockOpsPipeline.deploy.id],
            observer: BlockReporter(console: errors), externalOutputs: external)
        let started = ContinuousClock.now
        let result = await scheduler.run(graph)
        let tag = result.outputs[StockOpsPipeline.promote]?.tag.name ?? "-"
        output.write("release \(environment.rawValue) \(tag) \(result.status.rawValue) " + String(format: "%.2f", Deployer.seconds(since: started)) + "\n")
        switch result.status {
        case .passed: return .success
        case .cancelled: return .interrupted
        case .failed: return result.hasInfrastructureFailure ? .infrastructure : .gateFailed
        }
    }
}
