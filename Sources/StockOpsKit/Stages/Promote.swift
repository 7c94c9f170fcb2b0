import Foundation

/// `promote`: gives the built images the environment's tag in the registry, without rebuilding: `dev-<sha7>`,
/// `stage-<sha7>`, or in prod the release's `v<semver>` (and `latest` once the deploy passed its smoke test).
///
/// A prod release is accepted only when `stage-<sha7>` points to the same digest for every service, i.e. the exact
/// bytes passed stage, unless `--force-unverified` is given (then recorded in the ledger). The tag moves under the
/// environment's lock.
public struct PromoteStage: Stage {
    public var config: PipelineConfig
    public var environment: Environment
    public var builds: [StageRef<BuiltImage>]
    public var settings: DeploySettings
    /// `GITHUB_REF` (the prod tag comes from it), `STOCKOPS_STATE_DIR` and the registry credentials.
    public var processEnvironment: [String: String]
    public var dependencies: [NodeID] { builds.map(\.id) }

    public init(config: PipelineConfig, environment: Environment, builds: [StageRef<BuiltImage>], settings: DeploySettings, processEnvironment: [String: String]) {
        self.config = config
        self.environment = environment
        self.builds = builds
        self.settings = settings
        self.processEnvironment = processEnvironment
    }

    public func run(_ context: StageContext) async throws -> Promotion {
        let built = try builds.map { try context.value($0) }
        let commits = try Set(built.map { image throws(StageFailure) in
            do {
                return try ReleaseTags.commit(ofBuildTag: image.tag)
            } catch {
                throw StageFailure.failed("\(image.service): \(error)")
            }
        })
        guard commits.count == 1, let commit = commits.first else {
            throw StageFailure.failed("the images were built from different commits (\(commits.sorted().joined(separator: ", "))); a release is one commit")
        }
        guard let environmentConfig = config.environments[environment] else {
            throw StageFailure.failed("\(config.file) has no environment \(environment.rawValue)")
        }
        let tags: (tag: RegistryTag, following: [RegistryTag])
        do {
            tags = try ReleaseTags.compute(environment: environment, config: environmentConfig, commit: commit, ref: processEnvironment["GITHUB_REF"])
        } catch {
            throw StageFailure.failed("\(error)")
        }
        var images: [ReleaseImage] = []
        for image in built {
            let repository = RegistryAccess.repository(config, service: image.service)
            guard image.repository == config.registry.host + "/" + repository else {
                throw StageFailure.failed("build[\(image.service)] pushed \(image.repository), not \(config.registry.host)/\(repository) of \(config.file)")
            }
            guard let digest = ImageDigest(image.digest) else {
                throw StageFailure.failed("build[\(image.service)] reported \"\(image.digest)\", which is not a sha256 digest")
            }
            images.append(ReleaseImage(service: image.service, repository: repository, digest: digest))
        }
        let registry = RegistryAccess.client(host: config.registry.host, environment: processEnvironment)

        var verified: Bool?
        if environment == .prod {
            let stageTag = try Self.mapFailure { () throws(ReleaseTagError) in try ReleaseTags.stageTag(commit: commit) }
            var mismatches: [String] = []
            for image in images {
                let digest = try await Self.registryCall("read \(image.repository):\(stageTag)") { try await registry.digest(of: stageTag, in: image.repository) }
                if digest != image.digest {
                    mismatches.append("\(image.service): \(stageTag) " + (digest.map { "points to \($0)" } ?? "does not exist") + ", built \(image.digest)")
                }
            }
            verified = mismatches.isEmpty
            if !mismatches.isEmpty {
                guard settings.forceUnverified else {
                    throw StageFailure.failed(
                        "refusing to release \(tags.tag) to prod: its digests did not pass stage (\(mismatches.joined(separator: "; "))). Deploy \(commit) to stage first, or pass --force-unverified (recorded in the ledger)")
                }
                context.log.write("warning: --force-unverified: releasing digests that did not pass stage (\(mismatches.joined(separator: "; ")))\n")
            } else {
                context.log.write("every digest passed stage as \(stageTag)\n")
            }
        }

        let stateDirectory = StateDirectory.resolve(root: context.paths.root, environment: processEnvironment)
        let lock: EnvironmentLock
        do {
            lock = try await EnvironmentLock.acquire(
                stateDirectory: stateDirectory, environment: environment, holder: LockHolder(command: "promote \(tags.tag)"), wait: settings.lockWait
            ) { state in context.log.write("waiting for the \(environment.rawValue) lock: \(state.description)\n") }
        } catch let error as LockError {
            throw StageFailure(error.code == .busy ? .failed : .infrastructure, error.message)
        }
        defer { lock.release() }
        for image in images {
            try await Self.registryCall("tag \(image.repository)@\(image.digest) as \(tags.tag)") {
                try await registry.retag(image.repository, from: .digest(image.digest), to: tags.tag)
            }
            context.log.write("\(image.repository):\(tags.tag) → \(image.digest)\n")
        }
        return Promotion(
            environment: environment, tag: tags.tag, followingTags: tags.following, commit: String(commit.prefix(7)), images: images,
            verifiedInStage: verified, forceUnverified: verified == false && settings.forceUnverified)
    }

    private static func mapFailure<T>(_ body: () throws(ReleaseTagError) -> T) throws(StageFailure) -> T {
        do {
            return try body()
        } catch {
            throw StageFailure.failed(error.message)
        }
    }

    /// Runs a registry request; an unreachable registry or a 5xx is transient (retried), anything else fails.
    @discardableResult
    static func registryCall<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RegistryError {
            let transient = error.code == .unreachable || (error.status.map { $0 >= 500 || $0 == 429 } ?? false)
            throw StageFailure(transient ? .transient : .failed, "cannot \(what): \(error)")
        }
    }
}
