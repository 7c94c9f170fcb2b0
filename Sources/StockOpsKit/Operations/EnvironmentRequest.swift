import CurlHTTP
import Foundation

/// What `rollback`, `status`, `history`, `lock` and `unlock` act on; the CLI fills it from its flags.
public struct EnvironmentRequest: Sendable {
    public var root: String
    public var configPath: String
    public var environment: Environment
    /// The process environment: `STOCKOPS_STATE_DIR`, Compose's variables, registry credentials, `GITHUB_*`.
    public var processEnvironment: RunEnvironment

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
        let config = try PipelineConfig.loadForCommand(root: root, configPath: configPath)
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
