import Foundation

/// `deploy`: runs the promoted tag in the environment with the ``Deployer`` (lock → pull → up → smoke test → ledger),
/// rolling back to the previous good tag when the smoke test fails. Manual where the environment requires approval.
public struct DeployStage: Stage {
    public var config: PipelineConfig
    public var environment: Environment
    public var promotion: StageRef<Promotion>
    /// The fetched `HARBOR_USERNAME`/`HARBOR_PASSWORD`, when fetch-secrets ran.
    public var secrets: StageRef<FetchedSecrets>?
    public var settings: DeploySettings
    /// Compose's pass-through variables, `STOCKOPS_STATE_DIR`, `STOCKOPS_COMPOSE`, registry credentials, `GITHUB_ACTOR`.
    public var processEnvironment: RunEnvironment
    public var dependencies: [NodeID] { [promotion.id] + (secrets.map { [$0.id] } ?? []) }

    public init(
        config: PipelineConfig, environment: Environment, promotion: StageRef<Promotion>, secrets: StageRef<FetchedSecrets>? = nil, settings: DeploySettings,
        processEnvironment: RunEnvironment
    ) {
        self.config = config
        self.environment = environment
        self.promotion = promotion
        self.secrets = secrets
        self.settings = settings
        self.processEnvironment = processEnvironment
    }

    public func run(_ context: StageContext) async throws -> Deployment {
        let promotion = try context.value(promotion)
        let flavor: ComposeCommand.Flavor
        do {
            flavor = try await ComposeEnvironment.detectFlavor(runner: context.runner, environment: processEnvironment)
        } catch {
            throw StageFailure(error.code == .infrastructure ? .infrastructure : .failed, error.message)
        }
        // fetch-secrets is skipped without VAULT_ADDR: credentials then come from the environment, trust from the key files.
        let fetched = secrets.flatMap { try? context.value($0) }
        let credentials = RegistryAccess.credentials(fetched: fetched, environment: processEnvironment)
        let trust = try PromoteStage.trust(config: config, root: context.paths.root, secrets: fetched)
        let deployer = Deployer(
            environment: ComposeEnvironment(
                compose: ComposeEnvironment.command(flavor: flavor, environment: environment, root: context.paths.root, processEnvironment: processEnvironment),
                config: config,
                environment: environment, processEnvironment: processEnvironment),
            registry: RegistryAccess.client(config.registry, credentials: credentials),
            stateDirectory: StateDirectory.resolve(root: context.paths.root, environment: processEnvironment),
            runner: context.runner, log: context.log, smokeTimeout: settings.smokeTimeout, lockWait: settings.lockWait,
            actor: DeployActor.name(processEnvironment), approval: settings.approval,
            runID: (context.paths.runDirectory as NSString).lastPathComponent, pullCredentials: credentials, trust: trust,
            forceUnverified: settings.forceUnverified)
        do {
            return try await deployer.deploy(promotion)
        } catch {
            throw StageFailure(error.failureKind, error.message)
        }
    }
}

/// How the deploy stages behave; filled from `stockops run`'s options.
public struct DeploySettings: Sendable {
    /// Who approved a deploy to an environment that requires approval.
    public var approval: Approval?
    /// `--force-unverified`: release to prod digests that did not pass stage, and run digests whose signatures do not
    /// verify (both recorded in the ledger).
    public var forceUnverified: Bool
    public var smokeTimeout: Duration
    /// `--wait`: how long to wait for a held environment lock.
    public var lockWait: Duration

    public init(approval: Approval? = nil, forceUnverified: Bool = false, smokeTimeout: Duration = SmokeTest.defaultTimeout, lockWait: Duration = .seconds(600))
    {
        self.approval = approval
        self.forceUnverified = forceUnverified
        self.smokeTimeout = smokeTimeout
        self.lockWait = lockWait
    }
}
