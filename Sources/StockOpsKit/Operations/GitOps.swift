import Foundation

/// What `stockops gitops` acts on.
public struct GitOpsRequest: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        /// Restore the previous (or a named) value of a service's image in a new commit.
        case rollback
        /// List the values the overlay held for a service's image.
        case history
    }

    public var action: Action
    public var root: String
    public var configPath: String
    public var environment: Environment
    public var service: String
    /// `rollback --to`: a tag or digest from the overlay's history.
    public var to: String?
    public var processEnvironment: RunEnvironment

    public init(
        action: Action, root: String, configPath: String = PipelineConfig.defaultPath, environment: Environment, service: String, to: String? = nil,
        processEnvironment: RunEnvironment
    ) {
        self.action = action
        self.root = root
        self.configPath = configPath
        self.environment = environment
        self.service = service
        self.to = to
        self.processEnvironment = processEnvironment
    }
}

extension GitOpsTarget {
    /// The Kustomize image name of `service`: `images.<service>`, else its registry repository.
    public func imageName(for service: String, registry: RegistryConfig) -> String {
        imageNames[service] ?? registry.host + "/" + registry.repository(service)
    }
}

/// What `stockops gitops rollback|history` did: the change it pushed or the overlay's history, and why it failed.
public struct GitOpsOutcome: CommandOutcome {
    /// The overlay's values for a service's image, newest first. Encodes as `history --json`.
    public struct History: Sendable, Encodable {
        public var environment: Environment
        public var service: String
        public var image: String
        public var kustomization: String
        /// Newest first.
        public var revisions: [GitOpsRevision]
    }

    public let runID: String
    /// The commit `rollback` pushed, when it did.
    public let deployment: GitOpsDeployment?
    /// What `history` read, when it could.
    public let history: History?
    /// What went wrong, each a line for the operator: the action's failure, a skipped `fetch-secrets` it needed, a
    /// record that could not be written.
    public let problems: [String]
    /// As for `run`: 1 the action failed (such as a `--to` never deployed), 3 the repository, Vault or Argo CD is
    /// unreachable, 130 interrupted.
    public let exitStatus: ExitStatus
}

extension GitOpsRequest {
    /// `stockops gitops rollback|history --env ENV --service SERVICE [--to TAG]`: runs the action as a small graph
    /// (fetch-secrets when the target needs a token, the action, revoke-vault-token) with a record under
    /// `.stockops/runs/`, a block per node on `progress`. Throws for configuration and usage errors, before anything runs.
    public func perform(progress: Console) async throws(StockOpsError) -> GitOpsOutcome {
        let request = self
        let config = try PipelineConfig.loadForCommand(root: request.root, configPath: request.configPath)
        guard let target = config.gitOps[request.environment] else {
            let gitops = config.gitOps.keys.sorted().map(\.rawValue)
            throw StockOpsError(
                .usage,
                "\(request.environment.rawValue) is not a kind: gitops environment in \(request.configPath)"
                    + (gitops.isEmpty ? "" : "; gitops environments: \(gitops.joined(separator: ", "))"))
        }
        guard let service = config.service(named: request.service) else {
            throw StockOpsError(.usage, "no service named \(request.service); services: \(config.services.map(\.name).joined(separator: ", "))")
        }
        if let to = request.to, to.isEmpty || to.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw StockOpsError(.usage, "--to must be a tag or a sha256: digest")
        }

        var graph = GraphBuilder()
        let needsSecrets = target.tokenKey != nil || (request.action == .rollback && target.argoCD != nil)
        var secrets: StageRef<FetchedSecrets>?
        if needsSecrets {
            let fetch = FetchSecretsStage(secrets: config.vault, settings: VaultSettings(environment: request.processEnvironment))
            secrets = graph.add(
                StockOpsPipeline.fetchSecrets.id, fetch, policy: NodePolicy(.gate, timeout: .seconds(120)), summary: "AppRole login",
                when: { _ in fetch.skipReason })
        }
        let imageName = target.imageName(for: service.name, registry: config.registry)
        let node: NodeID
        switch request.action {
        case .rollback:
            node = NodeID("gitops-rollback", key: service.name)
            graph.add(
                node,
                GitOpsRollbackStage(service: service, environment: request.environment, target: target, imageName: imageName, to: request.to, secrets: secrets),
                policy: NodePolicy(.gate, timeout: .seconds((target.argoCD?.timeout ?? 0) + 600), retries: 2),
                summary: "roll back \(service.name) in \(target.kustomizationPath)")
        case .history:
            node = NodeID("gitops-history", key: service.name)
            graph.add(
                node, GitOpsHistoryStage(environment: request.environment, target: target, imageName: imageName, secrets: secrets),
                policy: NodePolicy(.gate, timeout: .seconds(600), retries: 2), summary: "history of \(service.name) in \(target.kustomizationPath)")
        }
        if let secrets {
            graph.add(
                "revoke-vault-token", RevokeVaultTokenStage(fetched: secrets), policy: NodePolicy(.finally, timeout: .seconds(60), retries: 2),
                after: graph.ids, when: RevokeVaultTokenStage.skipReason(secrets))
        }
        let pipeline: PipelineGraph
        do {
            pipeline = try graph.build()
        } catch {
            throw StockOpsError(.config, "the gitops graph is invalid: \(error.message)")
        }

        let runID = RunRecord.newRunID()
        let paths = RunPaths(root: request.root, runDirectory: request.root + "/.stockops/runs/" + runID)
        let scheduler = Scheduler(jobs: 1, runner: ProcessRunner(), paths: paths, observer: BlockReporter(console: progress))
        let (result, interrupted) = await Interruption.cancellingOnSignals { await scheduler.run(pipeline) }
        let status = ExitStatus(result, interrupted: interrupted)
        let record = RunRecord(
            runID: runID, environment: request.environment.rawValue, exitCode: status.rawValue, result: result, paths: paths, graph: pipeline)
        var problems: [String] = []
        do {
            try record.write(to: paths)
            try await RunReport.write(record, paths: paths)
        } catch {
            problems.append("could not write the run record under \(paths.runDirectory): \(error)")
        }
        if let secretsNode = secrets, let skipped = result[secretsNode.id], skipped.status == .skipped, let tokenKey = target.tokenKey {
            problems.append(
                "\(tokenKey) is needed to reach \(target.repository), but fetch-secrets was skipped (\(skipped.reason ?? "")); set VAULT_ADDR and the AppRole credentials"
            )
        }
        if let failed = result[node], failed.status.isFailure {
            problems.append("\(node) failed: \(failed.reason ?? "")")
        }
        let history = result.outputs[StageRef<[GitOpsRevision]>(node)].map { revisions in
            GitOpsOutcome.History(
                environment: request.environment, service: service.name, image: imageName, kustomization: target.kustomizationPath, revisions: revisions)
        }
        return GitOpsOutcome(
            runID: runID, deployment: result.outputs[StageRef<GitOpsDeployment>(node)], history: history, problems: problems, exitStatus: status)
    }
}
