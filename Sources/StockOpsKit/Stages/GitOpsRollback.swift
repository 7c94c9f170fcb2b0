import Foundation

/// `gitops-rollback[<service>]` (run by `stockops gitops rollback`): restores the previous value of the
/// service's image in the overlay — or the most recent one whose tag or digest is `to` — in a new commit,
/// then, with `gitops.argocd`, waits for the application to be Synced to it and Healthy.
public struct GitOpsRollbackStage: Stage {
    public var service: ServiceConfig
    public var environment: Environment
    public var target: GitOpsTarget
    public var imageName: String
    /// A tag or digest to restore; nil for the value before the current one.
    public var to: String?
    public var secrets: StageRef<FetchedSecrets>?
    public var pollInterval: Duration

    public init(
        service: ServiceConfig, environment: Environment, target: GitOpsTarget, imageName: String, to: String?, secrets: StageRef<FetchedSecrets>?,
        pollInterval: Duration = .seconds(3)
    ) {
        self.service = service
        self.environment = environment
        self.target = target
        self.imageName = imageName
        self.to = to
        self.secrets = secrets
        self.pollInterval = pollInterval
    }

    public var dependencies: [NodeID] { secrets.map { [$0.id] } ?? [] }

    public func run(_ context: StageContext) async throws -> GitOpsDeployment {
        let fetched = try secrets.map { try context.value($0) }
        let token = try target.tokenKey.map { key in
            guard let fetched else { throw StageFailure.failed("secret \(key) is needed, but fetch-secrets produced no secrets") }
            return try fetched.require(key)
        }
        let deployer = GitOpsDeployer(
            target: target, environment: environment, token: token, runner: context.runner, log: context.log, workDirectory: context.paths.runDirectory)
        let runID = (context.paths.runDirectory as NSString).lastPathComponent
        let change = try await deployer.rollback(name: imageName, to: to) { restore, current in
            "Roll back \(service.name) in \(environment.rawValue) to \(restore.image.newTag ?? restore.image.digest ?? restore.image.description)\n\nRestores: \(restore.image) (from \(restore.commit.prefix(12)))\nReplaces: \(current.map(\.description) ?? "none")\nstockops run: \(runID)\n"
        }
        context.log.write("\(service.name) in \(environment.rawValue): \(change.previous.map(\.description) ?? "none") → \(change.current)\n")
        guard let argo = target.argoCD else { return GitOpsDeployment(service: service.name, change: change, argoCD: nil) }
        guard let fetched else { throw StageFailure.failed("secret \(argo.tokenKey) is needed, but fetch-secrets produced no secrets") }
        let client = ArgoCDClient(baseURL: argo.url, token: try fetched.require(argo.tokenKey))
        let log = context.log
        let (status, deployed) = try await client.waitUntilDeployed(
            application: argo.application, revision: change.commit, repository: target.repository, timeout: .seconds(argo.timeout), interval: pollInterval,
            observe: { log.write("argo cd: \($0)\n") })
        guard deployed else {
            throw StageFailure.failed(
                "rolled back in \(change.commit.prefix(12)), but Argo CD application \(argo.application) is not Synced to it and Healthy (\(status))")
        }
        return GitOpsDeployment(service: service.name, change: change, argoCD: status)
    }
}

/// `gitops-history[<service>]` (run by `stockops gitops history`): the values the overlay held for the service's image.
public struct GitOpsHistoryStage: Stage {
    public var environment: Environment
    public var target: GitOpsTarget
    public var imageName: String
    public var secrets: StageRef<FetchedSecrets>?

    public init(environment: Environment, target: GitOpsTarget, imageName: String, secrets: StageRef<FetchedSecrets>?) {
        self.environment = environment
        self.target = target
        self.imageName = imageName
        self.secrets = secrets
    }

    public var dependencies: [NodeID] { secrets.map { [$0.id] } ?? [] }

    public func run(_ context: StageContext) async throws -> [GitOpsRevision] {
        let fetched = try secrets.map { try context.value($0) }
        let token = try target.tokenKey.map { key in
            guard let fetched else { throw StageFailure.failed("secret \(key) is needed, but fetch-secrets produced no secrets") }
            return try fetched.require(key)
        }
        let deployer = GitOpsDeployer(
            target: target, environment: environment, token: token, runner: context.runner, log: context.log, workDirectory: context.paths.runDirectory)
        return try await deployer.history(name: imageName)
    }
}
