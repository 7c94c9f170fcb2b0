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
    /// Print one JSON document instead of text.
    public var json = false

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

extension Session {
    /// `stockops gitops rollback|history --env ENV --service SERVICE [--to TAG]`: runs the action as a small
    /// graph (fetch-secrets when the target needs a token, the action, revoke-vault-token) with a record under
    /// `.stockops/runs/`. Exit codes as for `run`: 1 when the action failed (such as a `--to` that was never
    /// deployed), 2 for configuration errors, 3 when the repository, Vault or Argo CD is unreachable.
    public func gitOps(_ request: GitOpsRequest) async -> ExitStatus {
        let config: PipelineConfig
        do {
            config = try PipelineConfig.load(
                path: request.configPath.hasPrefix("/") ? request.configPath : request.root + "/" + request.configPath, displayPath: request.configPath)
        } catch {
            return fail(StockOpsError(.config, error.description))
        }
        guard let target = config.gitOps[request.environment] else {
            let gitops = config.gitOps.keys.sorted().map(\.rawValue)
            return fail(
                StockOpsError(
                    .usage,
                    "\(request.environment.rawValue) is not a kind: gitops environment in \(request.configPath)"
                        + (gitops.isEmpty ? "" : "; gitops environments: \(gitops.joined(separator: ", "))")))
        }
        guard let service = config.service(named: request.service) else {
            return fail(StockOpsError(.usage, "no service named \(request.service); services: \(config.services.map(\.name).joined(separator: ", "))"))
        }
        if let to = request.to, to.isEmpty || to.contains(where: { $0.isWhitespace || $0.isNewline }) {
            return fail(StockOpsError(.usage, "--to must be a tag or a sha256: digest"))
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
            return fail(StockOpsError(.config, "the gitops graph is invalid: \(error.message)"))
        }

        let runID = RunRecord.newRunID()
        let paths = RunPaths(root: request.root, runDirectory: request.root + "/.stockops/runs/" + runID)
        let scheduler = Scheduler(jobs: 1, runner: ProcessRunner(), paths: paths, observer: BlockReporter(console: errors))
        let (result, interrupted) = await Interruption.cancellingOnSignals { await scheduler.run(pipeline) }
        let status: ExitStatus =
            switch result.status {
            case .passed: interrupted ? .interrupted : .success
            case .cancelled: .interrupted
            case .failed: interrupted ? .interrupted : result.hasInfrastructureFailure ? .infrastructure : .gateFailed
            }
        let record = RunRecord(
            runID: runID, environment: request.environment.rawValue, exitCode: status.rawValue, result: result, paths: paths, graph: pipeline)
        do {
            try record.write(to: paths)
            try await RunReport.write(record, paths: paths)
        } catch {
            errors.write("error: could not write the run record under \(paths.runDirectory): \(error)\n")
        }
        if let secretsNode = secrets, let skipped = result[secretsNode.id], skipped.status == .skipped, target.tokenKey != nil {
            errors.write(
                "error: \(target.tokenKey!) is needed to reach \(target.repository), but fetch-secrets was skipped (\(skipped.reason ?? "")); set VAULT_ADDR and the AppRole credentials\n"
            )
        }
        switch request.action {
        case .rollback:
            if let deployment = result.outputs[StageRef<GitOpsDeployment>(node)], request.json {
                printJSON(deployment)
            } else if let deployment = result.outputs[StageRef<GitOpsDeployment>(node)] {
                let change = deployment.change
                output.write(
                    "rolled back \(service.name) in \(request.environment.rawValue): \(change.previous.map(\.description) ?? "none") → \(change.current) (commit \(change.commit.prefix(12)))\n"
                )
            }
        case .history:
            if let revisions = result.outputs[StageRef<[GitOpsRevision]>(node)], request.json {
                struct History: Encodable {
                    var environment: Environment
                    var service: String
                    var image: String
                    var kustomization: String
                    /// Newest first.
                    var revisions: [GitOpsRevision]
                }
                printJSON(
                    History(
                        environment: request.environment, service: service.name, image: imageName, kustomization: target.kustomizationPath, revisions: revisions
                    ))
            } else if let revisions = result.outputs[StageRef<[GitOpsRevision]>(node)] {
                output.write("history of \(imageName) in \(target.kustomizationPath) (newest first):\n")
                for revision in revisions {
                    output.write("\(revision.commit.prefix(12))  \(revision.image.newTag ?? "-")  \(revision.image.digest ?? "-")\n")
                }
            }
        }
        if let failed = result[node], failed.status.isFailure {
            errors.write("error: \(node) failed: \(failed.reason ?? "")\n")
        }
        return status
    }
}
