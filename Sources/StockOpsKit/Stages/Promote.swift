import Foundation

/// `promote`: gives the release's images the environment's tag in the registry, without rebuilding: `dev-<sha7>`,
/// `stage-<sha7>`, or in prod the release's `v<semver>` (and `latest` once the deploy passed its smoke test).
///
/// A service built in this run contributes its new digest; an unchanged one (its build skipped) keeps the digest live in
/// the environment (the ledger's last good entry), so the tag always names a complete set. A prod release is accepted
/// only when every digest carries a verified stage proof (``ReleaseTrust``), which only a stage deploy whose smoke test
/// passed signs, unless `--force-unverified` is given (then recorded in the ledger). The tag moves under the
/// environment's lock.
public struct PromoteStage: Stage {
    public var config: PipelineConfig
    public var environment: Environment
    public var builds: [StageRef<BuiltImage>]
    /// The fetched `HARBOR_USERNAME`/`HARBOR_PASSWORD`, when fetch-secrets ran.
    public var secrets: StageRef<FetchedSecrets>?
    public var settings: DeploySettings
    /// `GITHUB_REF` (the prod tag comes from it), `STOCKOPS_STATE_DIR` and the registry credentials.
    public var processEnvironment: RunEnvironment
    public var dependencies: [NodeID] { builds.map(\.id) + (secrets.map { [$0.id] } ?? []) }

    public init(
        config: PipelineConfig, environment: Environment, builds: [StageRef<BuiltImage>], secrets: StageRef<FetchedSecrets>? = nil, settings: DeploySettings,
        processEnvironment: RunEnvironment
    ) {
        self.config = config
        self.environment = environment
        self.builds = builds
        self.secrets = secrets
        self.settings = settings
        self.processEnvironment = processEnvironment
    }

    /// Skips promote when no image was built in the run (no service changed).
    public static func skipReason(_ builds: [StageRef<BuiltImage>]) -> @Sendable (Outputs) throws -> String? {
        { outputs in
            builds.allSatisfy { outputs.settled[$0.id]?.result.status == .skipped } ? "no image was built in this run" : nil
        }
    }

    public func run(_ context: StageContext) async throws -> Promotion {
        // A skipped build (unchanged service) has no output: releaseImages takes that service's live digest from the ledger.
        let built = builds.compactMap { try? context.value($0) }
        let commits = try Set(
            built.map { image throws(StageFailure) in
                do {
                    return try ReleaseTags.commit(ofBuildTag: image.tag)
                } catch {
                    throw StageFailure.failed("\(image.service): \(error)")
                }
            })
        guard commits.count == 1, let commit = commits.first else {
            throw StageFailure.failed(
                commits.isEmpty
                    ? "no image was built in this run"
                    : "the images were built from different commits (\(commits.sorted().joined(separator: ", "))); a release is one commit")
        }
        if environment != .dev, let dirty = built.first(where: { $0.uncommittedFiles != nil }) {
            throw StageFailure.failed(
                "refusing to promote to \(environment.rawValue) images built from uncommitted changes (\(BuildImageStage.list(dirty.uncommittedFiles ?? []))): "
                    + "only dev accepts \(dirty.tag); commit the changes and run again")
        }
        guard let environmentConfig = config.environments[environment] else {
            throw StageFailure.failed("\(config.file) has no environment \(environment.rawValue)")
        }
        let tags: (tag: RegistryTag, following: [RegistryTag])
        do {
            tags = try ReleaseTags.compute(environment: environment, config: environmentConfig, commit: commit, ref: processEnvironment.githubRef)
        } catch {
            throw StageFailure.failed("\(error)")
        }
        let stateDirectory = StateDirectory.resolve(root: context.paths.root, environment: processEnvironment)
        let images = try releaseImages(built, stateDirectory: stateDirectory, log: context.log)
        // fetch-secrets is skipped without VAULT_ADDR: the credentials then come from the environment.
        let registry = RegistryAccess.client(
            config.registry, credentials: RegistryAccess.credentials(fetched: secrets.flatMap { try? context.value($0) }, environment: processEnvironment))

        var verified: Bool?
        if environment == .prod {
            // fetch-secrets is skipped without VAULT_ADDR: the trust then comes from images.sign.public-keys alone.
            let trust = try Self.trust(config: config, root: context.paths.root, secrets: secrets.flatMap { try? context.value($0) })
            let pinned = Dictionary(
                uniqueKeysWithValues: images.map {
                    ($0.service, PinnedImageReference(registry: config.registry.host, repository: $0.repository, digest: $0.digest))
                })
            let check = try await Self.registryCall("read the signatures of the release") { try await trust.check(pinned, registry: registry) }
            let unproven = images.filter { !check.passedStage($0.service) }.map { image in
                "\(image.service) (\(image.digest.short())): " + (check.failures[image.service] ?? "no stage proof among its verified signatures")
            }
            verified = unproven.isEmpty
            if !unproven.isEmpty {
                guard settings.forceUnverified else {
                    throw StageFailure.failed(
                        "refusing to release \(tags.tag) to prod: its digests did not pass stage (\(unproven.joined(separator: "; "))). A stage deploy signs a stage proof once its smoke test passed: deploy \(commit) to stage first, or pass --force-unverified (recorded in the ledger)"
                    )
                }
                context.log.write("warning: --force-unverified: releasing digests that did not pass stage (\(unproven.joined(separator: "; ")))\n")
            } else {
                context.log.write("every digest has a verified stage proof (keys: \(trust.keySources.joined(separator: ", ")))\n")
            }
        }

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

    /// The built images, plus the live image of every service not built in this run.
    func releaseImages(_ built: [BuiltImage], stateDirectory: String, log: NodeLog) throws -> [ReleaseImage] {
        var images: [ReleaseImage] = []
        var ledgerRead = false
        var live: LedgerEntry?
        for service in config.services {
            let repository = config.registry.repository(service.name)
            if let image = built.first(where: { $0.service == service.name }) {
                guard image.repository == config.registry.host + "/" + repository else {
                    throw StageFailure.failed("build[\(image.service)] pushed \(image.repository), not \(config.registry.host)/\(repository)")
                }
                guard let digest = ImageDigest(image.digest) else {
                    throw StageFailure.failed("build[\(image.service)] reported \"\(image.digest)\", which is not a sha256 digest")
                }
                images.append(ReleaseImage(service: service.name, repository: repository, digest: digest))
                continue
            }
            if !ledgerRead {
                ledgerRead = true
                do {
                    live = try Ledger(stateDirectory: stateDirectory, environment: environment).read().lastGood
                } catch {
                    throw StageFailure.infrastructure(error.description)
                }
            }
            guard let entry = live, let text = entry.images[service.name], let digest = ImageDigest(text) else {
                throw StageFailure.failed(
                    "\(service.name) was not built in this run (unchanged) and \(environment.rawValue) has no good deploy to take its image from; run with --all"
                )
            }
            log.write("\(service.name) unchanged: keeps \(digest) (live as \(entry.tag))\n")
            images.append(ReleaseImage(service: service.name, repository: repository, digest: digest))
        }
        return images
    }

    /// The keys of the release's checks, or a failure naming the key that cannot be read.
    static func trust(config: PipelineConfig, root: String, secrets: FetchedSecrets?) throws(StageFailure) -> ReleaseTrust {
        do {
            return try ReleaseTrust.resolve(config: config, root: root, secrets: secrets)
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
            throw StageFailure(error.failureKind, "cannot \(what): \(error)")
        }
    }
}
