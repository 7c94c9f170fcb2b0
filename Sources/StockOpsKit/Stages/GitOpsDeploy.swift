import Foundation

/// What `gitops-deploy[<service>]` did.
public struct GitOpsDeployment: Codable, Sendable, Equatable {
    public var service: String
    public var change: GitOpsChange
    /// Argo CD's view once the wait ended; nil when no application is configured.
    public var argoCD: ArgoCDApplicationStatus?
}

/// `gitops-deploy[<service>]`: deploys a built image to a `kind: gitops` environment by updating its
/// Kustomize overlay (`images:` entry → `newTag: git-<sha7>` or `digest: sha256:…`), committing as the
/// configured author and pushing. With `gitops.argocd`, it then waits until the Argo CD application is
/// Synced to that commit and Healthy; when it is not (Degraded, or the timeout passes), the stage restores
/// the previous value in a new commit and fails.
public struct GitOpsDeployStage: Stage {
    public var service: ServiceConfig
    public var environment: Environment
    public var target: GitOpsTarget
    public var built: StageRef<BuiltImage>
    /// Present when the target needs a push token or an Argo CD token.
    public var secrets: StageRef<FetchedSecrets>?
    /// Seconds between two Argo CD polls.
    public var pollInterval: Duration

    public init(
        service: ServiceConfig, environment: Environment, target: GitOpsTarget, built: StageRef<BuiltImage>, secrets: StageRef<FetchedSecrets>?,
        pollInterval: Duration = .seconds(3)
    ) {
        self.service = service
        self.environment = environment
        self.target = target
        self.built = built
        self.secrets = secrets
        self.pollInterval = pollInterval
    }

    public var dependencies: [NodeID] { [built.id] + (secrets.map { [$0.id] } ?? []) }

    /// Whether the target needs fetched secrets.
    public static func needsSecrets(_ target: GitOpsTarget) -> Bool {
        target.tokenKey != nil || target.argoCD != nil
    }

    /// The overlay entry for `image`.
    public func entry(for image: BuiltImage) -> KustomizeImage {
        KustomizeImage(
            name: target.imageNames[service.name] ?? image.repository, newName: image.repository,
            newTag: target.pin == .tag ? image.tag : nil, digest: target.pin == .digest ? image.digest : nil)
    }

    public func run(_ context: StageContext) async throws -> GitOpsDeployment {
        let image = try context.value(built)
        let fetched = try secrets.map { try context.value($0) }
        let token = try target.tokenKey.map { try Self.secret($0, from: fetched) }
        let deployer = GitOpsDeployer(
            target: target, environment: environment, token: token, runner: context.runner, log: context.log, workDirectory: context.paths.runDirectory)
        let entry = entry(for: image)
        let runID = (context.paths.runDirectory as NSString).lastPathComponent
        let message =
            "Deploy \(service.name) \(target.pin == .tag ? image.tag : image.digest) to \(environment.rawValue)\n\nImage: \(image.pinnedReference)\nTag: \(image.tag)\nstockops run: \(runID)\n"
        let change = try await deployer.deploy(entry, message: message)

        guard let argo = target.argoCD else {
            return GitOpsDeployment(service: service.name, change: change, argoCD: nil)
        }
        let argoToken = try Self.secret(argo.tokenKey, from: fetched)
        let client = ArgoCDClient(baseURL: argo.url, token: argoToken)
        context.log.write(
            "waiting up to \(argo.timeout) s for Argo CD application \(argo.application) to be Synced at \(change.commit.prefix(12)) and Healthy\n")
        let log = context.log
        let (status, deployed) = try await client.waitUntilDeployed(
            application: argo.application, revision: change.commit, repository: target.repository, timeout: .seconds(argo.timeout), interval: pollInterval,
            observe: { log.write("argo cd: \($0)\n") })
        if deployed {
            return GitOpsDeployment(service: service.name, change: change, argoCD: status)
        }
        var failure = "Argo CD application \(argo.application) is not Synced at \(change.commit.prefix(12)) and Healthy (\(status))"
        if change.changed, change.previous != nil {
            let rollback = try await deployer.rollback(name: entry.name, to: nil) { restore, current in
                "Roll back \(service.name) in \(environment.rawValue) to \(restore.image)\n\nArgo CD: \(status)\nReplaces: \(current.map(\.description) ?? "none")\nstockops run: \(runID)\n"
            }
            failure += "; rolled back to \(rollback.current) in \(rollback.commit.prefix(12))"
        }
        throw StageFailure.failed(failure)
    }

    private static func secret(_ key: String, from fetched: FetchedSecrets?) throws -> Secret {
        guard let fetched else { throw StageFailure.failed("secret \(key) is needed, but fetch-secrets produced no secrets") }
        return try fetched.require(key)
    }
}
