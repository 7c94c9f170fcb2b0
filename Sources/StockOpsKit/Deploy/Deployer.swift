import CurlHTTP
import Foundation

/// What a deploy or rollback left live.
public struct Deployment: Codable, Sendable, Equatable {
    public var environment: Environment
    public var tag: String
    /// Digest per service.
    public var images: [String: String]
    /// The tag live before.
    public var previousTag: String?
    public var approver: String?
    public var smoke: SmokeReport?
    /// From taking the lock to the end of the smoke test.
    public var seconds: Double
    /// Whether every digest's signature verified before it ran (false: overridden with `--force-unverified`); nil
    /// where the environment does not verify.
    public var signaturesVerified: Bool?
    /// Stage: whether the stage proof of every digest was signed after the smoke test.
    public var stageProof: Bool?

    public init(
        environment: Environment, tag: String, images: [String: String], previousTag: String?, approver: String?, smoke: SmokeReport?, seconds: Double,
        signaturesVerified: Bool? = nil, stageProof: Bool? = nil
    ) {
        self.signaturesVerified = signaturesVerified
        self.stageProof = stageProof
        self.environment = environment
        self.tag = tag
        self.images = images
        self.previousTag = previousTag
        self.approver = approver
        self.smoke = smoke
        self.seconds = seconds
    }
}

/// A deploy or rollback that did not leave its tag live.
public struct DeployFailure: Error, Sendable, ClassifiedError, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The tag failed to start or failed its smoke test (and was rolled back when possible).
        case smokeFailed = "smoke-failed"
        /// The tag's canary was rolled back, by its analysis or by a person.
        case canaryFailed = "canary-failed"
        /// The tag does not exist for every service in the registry: nothing was changed.
        case missingTag = "missing-tag"
        /// Another deploy, rollback or maintenance holds the environment.
        case locked
        /// The tag or the release is not acceptable (invalid tag, digest that did not pass stage or whose signature does
        /// not verify, untrusted rollback target, no approval).
        case refused
        /// Docker, Compose, the registry or the state directory failed.
        case infrastructure
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public var failureKind: StageFailure.Kind {
        code == .infrastructure ? .infrastructure : .failed
    }

    /// The CLI's exit status for this failure.
    public var exitStatus: ExitStatus {
        switch code {
        case .smokeFailed, .canaryFailed: .gateFailed
        case .missingTag, .refused: .usage
        case .locked: .locked
        case .infrastructure: .infrastructure
        }
    }
}

/// A tag a rollback could name, and whether it would accept it.
public struct RollbackTarget: Codable, Sendable, Equatable {
    public var tag: String
    /// Digest per service.
    public var digests: [String: String]
    /// Whether it is what the environment runs now.
    public var live: Bool
    /// Whether these exact digests were live in the environment with success (ledger).
    public var wasLive: Bool
    /// Whether every digest's signature verifies; nil where the environment does not verify.
    public var signaturesVerified: Bool?
    /// Whether every digest carries a stage proof; nil where not checked.
    public var stageProof: Bool?
    /// Whether `stockops rollback` would take it without `--force-unverified`.
    public var acceptable: Bool
    /// Why it would refuse it.
    public var refusal: String?
}

/// The one path that changes what runs in an environment, shared by the `deploy` stage and `stockops rollback`:
/// lock → pull → up → smoke test → ledger → unlock, and back to the previous good tag when the smoke test fails.
public struct Deployer: Sendable {
    public var environment: ComposeEnvironment
    public var registry: RegistryClient
    public var stateDirectory: String
    public var runner: ProcessRunner
    /// Receives the output of docker and compose.
    public var log: NodeLog
    /// Receives one line per step (also written to `log`).
    public var progress: @Sendable (String) -> Void
    public var smokeTimeout: Duration
    /// How long to wait for a held lock.
    public var lockWait: Duration
    public var actor: String
    public var approval: Approval?
    public var runID: String?
    /// The registry login for `compose pull`: a temporary Docker client configuration is logged in with it (the
    /// password on stdin) for the pull and deleted afterwards. Without it the pull uses the caller's `DOCKER_CONFIG`.
    public var pullCredentials: RegistryCredentials?
    /// The keys signatures are verified with and stage proofs signed with.
    public var trust: ReleaseTrust
    /// `--force-unverified`: run digests whose signature, stage proof or trust cannot be shown; the ledger says so.
    public var forceUnverified: Bool

    public init(
        environment: ComposeEnvironment, registry: RegistryClient, stateDirectory: String, runner: ProcessRunner = ProcessRunner(), log: NodeLog,
        progress: @escaping @Sendable (String) -> Void = { _ in }, smokeTimeout: Duration = SmokeTest.defaultTimeout, lockWait: Duration = .zero,
        actor: String, approval: Approval? = nil, runID: String? = nil, pullCredentials: RegistryCredentials? = nil, trust: ReleaseTrust = ReleaseTrust(),
        forceUnverified: Bool = false
    ) {
        self.trust = trust
        self.forceUnverified = forceUnverified
        self.environment = environment
        self.registry = registry
        self.stateDirectory = stateDirectory
        self.runner = runner
        self.log = log
        self.progress = progress
        self.smokeTimeout = smokeTimeout
        self.lockWait = lockWait
        self.actor = actor
        self.approval = approval
        self.runID = runID
        self.pullCredentials = pullCredentials
    }

    var name: Environment { environment.environment }
    var config: PipelineConfig { environment.config }
    public var ledger: Ledger { Ledger(stateDirectory: stateDirectory, environment: name) }

    func say(_ line: String) {
        log.write(line + "\n")
        progress(line)
    }

    // MARK: Deploy

    /// Deploys a promotion: its tag must still point to the promoted digests; after a passed smoke test the
    /// following tags (`latest`) are moved onto them.
    public func deploy(_ promotion: Promotion) async throws(DeployFailure) -> Deployment {
        guard promotion.environment == name else {
            throw DeployFailure(.refused, "the promotion is for \(promotion.environment.rawValue), not \(name.rawValue)")
        }
        if config.environments[name]?.approval == true, approval == nil {
            throw DeployFailure(.refused, "\(name.rawValue) requires an approval; none was given")
        }
        let pinned = Dictionary(uniqueKeysWithValues: promotion.images.map { ($0.service, pin($0.repository, $0.digest)) })
        let signatures = try await verifySignatures(pinned, action: "deploy \(promotion.tag) to")
        let lock = try await takeLock("deploy \(promotion.tag)")
        defer { lock.release() }
        let started = ContinuousClock.now
        let history = try readLedger()
        for image in promotion.images {
            let current = try await digest(of: promotion.tag, in: image.repository)
            guard current == image.digest else {
                throw DeployFailure(
                    .refused,
                    "\(image.repository):\(promotion.tag) now points to \(current.map(\.description) ?? "nothing"), not the promoted \(image.digest); promote again"
                )
            }
        }
        say("deploying \(promotion.tag) to \(name.rawValue) (live before: \(history.lastGood?.tag ?? "nothing"))")
        let entry = LedgerEntry(
            environment: name, action: .deploy, tag: promotion.tag.name, images: promotion.digests, outcome: .succeeded, actor: actor,
            approver: approval?.approver, previousTag: history.lastGood?.tag, forceUnverified: promotion.forceUnverified || signatures == false ? true : nil,
            signaturesVerified: signatures, runID: runID)
        let released = try await release(
            promotion.tag, digests: promotion.digests, recording: entry, live: history.lastGood, started: started, canary: config.environments[name]?.canary)
        guard let recorded = released.entry else {
            try refuse(promotion.tag, entry, failure: released.failure ?? "unknown", analysis: released.analysis, history: history, started: started)
        }
        for following in promotion.followingTags {
            for image in promotion.images {
                do {
                    try await registry.retag(image.repository, from: .digest(image.digest), to: following)
                } catch {
                    throw DeployFailure(.infrastructure, "\(promotion.tag) is live, but \(image.repository):\(following) could not be moved to it: \(error)")
                }
            }
            say("moved \(following) to \(promotion.tag)")
        }
        let proved = name == .stage ? try await writeStageProofs(pinned, tag: promotion.tag) : nil
        return Deployment(
            environment: name, tag: promotion.tag.name, images: promotion.digests, previousTag: history.lastGood?.tag, approver: approval?.approver,
            smoke: released.report, seconds: recorded.seconds ?? 0, signaturesVerified: signatures, stageProof: proved)
    }

    // MARK: Trust

    private func pin(_ repository: String, _ digest: ImageDigest) -> PinnedImageReference {
        PinnedImageReference(registry: config.registry.host, repository: repository, digest: digest)
    }

    /// Where the environment verifies signatures: true when every image's signature verifies, false when one does not
    /// and `--force-unverified` overrides it; refuses otherwise. Nil where the environment does not verify.
    private func verifySignatures(_ images: [String: PinnedImageReference], action: String) async throws(DeployFailure) -> Bool? {
        guard config.environments[name]?.verify == .signature else { return nil }
        let check = try await signatureCheck(images)
        guard !check.failures.isEmpty else {
            say(
                "verified the signatures of " + images.keys.sorted().map { "\($0) (\(images[$0]!.digest.short()))" }.joined(separator: ", ")
                    + " with " + trust.keySources.joined(separator: ", "))
            return true
        }
        let failures = check.describeFailures(images)
        guard forceUnverified else {
            throw DeployFailure(
                .refused,
                "refusing to \(action) \(name.rawValue): signatures do not verify: \(failures). Nothing was changed; run the pipeline's sign nodes for these digests, or pass --force-unverified (recorded in the ledger)"
            )
        }
        say("warning: --force-unverified: running digests whose signatures do not verify: \(failures)")
        return false
    }

    private func signatureCheck(_ images: [String: PinnedImageReference]) async throws(DeployFailure) -> SignatureCheck {
        do {
            return try await trust.check(images, registry: registry)
        } catch {
            throw DeployFailure(.infrastructure, "cannot read the signatures from the registry: \(error)")
        }
    }

    /// After stage's smoke test: signs the stage proof of every image, which prod's promote requires.
    private func writeStageProofs(_ images: [String: PinnedImageReference], tag: RegistryTag) async throws(DeployFailure) -> Bool {
        guard trust.proofKey != nil else {
            say(
                "warning: no \(SignImageStage.keyKey) was fetched, so no stage proof was signed: prod will refuse these digests until a stage deploy with the key passes"
            )
            return false
        }
        for service in images.keys.sorted() {
            let image = images[service]!
            do {
                try await trust.writeStageProof(image, registry: registry)
            } catch {
                throw DeployFailure(
                    .infrastructure,
                    "\(tag) is live in stage, but the stage proof of \(service) (\(image)) could not be signed: \(error); deploy again to write it")
            }
        }
        say("signed the stage proof of " + images.keys.sorted().joined(separator: ", "))
        return true
    }

    /// Prod: a rollback target must be a release version whose every digest was live in prod or carries a stage proof.
    private func checkTrusted(_ tag: RegistryTag, _ images: [String: PinnedImageReference], history: LedgerContents) async throws(DeployFailure) -> Bool {
        guard name == .prod else { return false }
        let goodVersions = Array(Set(history.entries.filter { $0.outcome == .succeeded && NearestTags.version($0.tag) != nil }.map(\.tag)))
        let acceptable = NearestTags.rank(tag.name, among: goodVersions)
        let listing =
            acceptable.isEmpty
            ? "the ledger of prod has no good release version" : "release versions that were live in prod: " + acceptable.joined(separator: ", ")
        guard NearestTags.version(tag.name) != nil else {
            throw DeployFailure(
                .refused,
                "refusing to roll prod back to \(tag): prod runs only release versions (vX.Y.Z) that were live in prod or passed stage; \(listing). Nothing was changed"
            )
        }
        let unproven = Self.neverLive(images.mapValues(\.digest), history: history)
        guard !unproven.isEmpty else { return false }
        let check = try await signatureCheck(images.filter { unproven.contains($0.key) })
        let untrusted = unproven.filter { !check.passedStage($0) }.sorted()
        guard !untrusted.isEmpty else { return false }
        let detail = untrusted.map { "\($0) (\(images[$0]!.digest.short()))" }.joined(separator: ", ")
        guard forceUnverified else {
            throw DeployFailure(
                .refused,
                "refusing to roll prod back to \(tag): \(detail) was never live in prod and has no stage proof; \(listing). Nothing was changed; pass --force-unverified to override (recorded in the ledger)"
            )
        }
        say("warning: --force-unverified: \(detail) was never live in prod and has no stage proof")
        return true
    }

    /// The services whose digest in `digests` never went live with success in `history`, sorted.
    static func neverLive(_ digests: [String: ImageDigest], history: LedgerContents) -> [String] {
        digests.keys.filter { service in
            !history.entries.contains { $0.outcome == .succeeded && $0.images[service] == digests[service]?.description }
        }.sorted()
    }

    /// Every tag a rollback of this environment could name (one that exists for every service), newest release
    /// first, with where it was live and whether the rollback would accept it. Reads only.
    public func targets() async throws(DeployFailure) -> [RollbackTarget] {
        let history = try readLedger()
        var common: Set<String>?
        for service in config.services {
            let repository = config.registry.repository(service.name)
            let names: [String]
            do {
                names = try await registry.tags(repository).map(\.name)
            } catch let error as RegistryError where error.code == .notFound {
                names = []
            } catch {
                throw DeployFailure(.infrastructure, "cannot list the tags of \(repository): \(error)")
            }
            let usable = Set(names.filter { !$0.hasPrefix("sha256-") && $0 != "buildcache" })
            common = common.map { $0.intersection(usable) } ?? usable
        }
        let verifies = config.environments[name]?.verify == .signature
        var targets: [RollbackTarget] = []
        for name in (common ?? []).sorted(by: Self.newestFirst) {
            guard let tag = RegistryTag(name) else { continue }
            let digests = try await resolve(tag)
            let pinned = Dictionary(uniqueKeysWithValues: digests.map { ($0.key, pin(config.registry.repository($0.key), $0.value)) })
            let check = verifies || self.name == .prod ? try await signatureCheck(pinned) : nil
            let liveAs = history.entries.filter { $0.outcome == .succeeded && $0.images == digests.mapValues(\.description) }.map(\.tag)
            var refusal: String?
            if self.name == .prod, NearestTags.version(name) == nil {
                refusal = "not a release version"
            } else if self.name == .prod, let check, Self.neverLive(digests, history: history).contains(where: { !check.passedStage($0) }) {
                refusal = "never live in prod and no stage proof"
            } else if verifies, let check, !check.failures.isEmpty {
                refusal = "signature does not verify (" + check.failures.keys.sorted().joined(separator: ", ") + ")"
            }
            targets.append(
                RollbackTarget(
                    tag: name, digests: digests.mapValues(\.description), live: history.lastGood?.tag == name,
                    wasLive: !liveAs.isEmpty, signaturesVerified: check.map { $0.failures.isEmpty },
                    stageProof: check.map { c in digests.keys.allSatisfy { c.passedStage($0) } },
                    acceptable: refusal == nil, refusal: refusal))
        }
        return targets
    }

    /// Release versions first (newest first), then the other tags by name, newest-looking first.
    static func newestFirst(_ lhs: String, _ rhs: String) -> Bool {
        switch (NearestTags.version(lhs), NearestTags.version(rhs)) {
        case (let left?, let right?): return right.lexicographicallyPrecedes(left)
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return lhs > rhs
        }
    }

    // MARK: Rollback

    /// The digest of `tag` for every service, or a ``DeployFailure/Code/missingTag`` listing the nearest tags that
    /// exist for every service. Reads only.
    public func resolve(_ tag: RegistryTag) async throws(DeployFailure) -> [String: ImageDigest] {
        var digests: [String: ImageDigest] = [:]
        var missing: [String] = []
        for service in config.services {
            let repository = config.registry.repository(service.name)
            if let digest = try await digest(of: tag, in: repository) {
                digests[service.name] = digest
            } else {
                missing.append(service.name)
            }
        }
        guard missing.isEmpty else {
            var common: Set<String>?
            for service in config.services {
                let repository = config.registry.repository(service.name)
                let tags: [RegistryTag]
                do {
                    tags = try await registry.tags(repository)
                } catch let error as RegistryError where error.code == .notFound {
                    tags = []
                } catch {
                    throw DeployFailure(.infrastructure, "cannot list the tags of \(repository): \(error)")
                }
                let names = Set(tags.map(\.name))
                common = common.map { $0.intersection(names) } ?? names
            }
            let nearest = NearestTags.rank(tag.name, among: Array(common ?? []))
            let suggestion =
                nearest.isEmpty ? "no tag exists for every service" : "nearest tags that exist for every service: " + nearest.joined(separator: ", ")
            throw DeployFailure(
                .missingTag,
                "\(tag) is not in the registry for \(missing.joined(separator: ", ")) (\(config.registry.host)/\(config.registry.project)); nothing was changed. The \(suggestion)"
            )
        }
        return digests
    }

    /// The tag `--to-previous` returns to: the newest successful entry with another tag than the live one.
    public func previousGoodTag() throws(DeployFailure) -> RegistryTag {
        let history = try readLedger()
        guard let entry = history.previousGood(excluding: history.lastGood?.tag), let tag = RegistryTag(entry.tag) else {
            throw DeployFailure(.refused, "the ledger of \(name.rawValue) (\(ledger.path)) has no earlier good version to return to; pass --tag")
        }
        return tag
    }

    /// Rolls back to `tag`, which must exist for every service, verify where the environment verifies signatures, and in
    /// prod be a release version that was live there or passed stage (all checked before anything changes).
    public func rollback(to tag: RegistryTag) async throws(DeployFailure) -> Deployment {
        if config.environments[name]?.approval == true, approval == nil {
            throw DeployFailure(.refused, "\(name.rawValue) requires an approval; none was given")
        }
        let digests = try await resolve(tag)
        let pinned = Dictionary(uniqueKeysWithValues: digests.map { ($0.key, pin(config.registry.repository($0.key), $0.value)) })
        let overridden = try await checkTrusted(tag, pinned, history: try readLedger())
        let signatures = try await verifySignatures(pinned, action: "roll back to \(tag) in")
        let lock = try await takeLock("rollback \(tag)")
        defer { lock.release() }
        let started = ContinuousClock.now
        let history = try readLedger()
        let images = digests.mapValues(\.description)
        say("rolling \(name.rawValue) back to \(tag) (live before: \(history.lastGood?.tag ?? "nothing"))")
        let entry = LedgerEntry(
            environment: name, action: .rollback, tag: tag.name, images: images, outcome: .succeeded, actor: actor, approver: approval?.approver,
            previousTag: history.lastGood?.tag, forceUnverified: overridden || signatures == false ? true : nil, signaturesVerified: signatures, runID: runID)
        let released = try await release(tag, digests: images, recording: entry, live: history.lastGood, started: started, canary: nil)
        guard let recorded = released.entry else {
            try refuse(tag, entry, failure: released.failure ?? "unknown", analysis: nil, history: history, started: started)
        }
        return Deployment(
            environment: name, tag: tag.name, images: images, previousTag: history.lastGood?.tag, approver: approval?.approver, smoke: released.report,
            seconds: recorded.seconds ?? 0, signaturesVerified: signatures)
    }

    // MARK: Steps

    /// Records that `failed` did not pass its smoke test, or its canary, beside the live version, which kept serving,
    /// then throws.
    private func refuse(
        _ failed: RegistryTag, _ entry: LedgerEntry, failure: String, analysis: CanaryAnalysis?, history: LedgerContents, started: ContinuousClock.Instant
    ) throws(DeployFailure) -> Never {
        var entry = entry
        entry.outcome = .failed
        entry.seconds = Self.seconds(since: started)
        entry.analysis = analysis
        if let analysis, analysis.verdict == .rolledBack {
            let live = history.lastGood.map { "\($0.tag) has all the traffic again" } ?? "the stable version has all the traffic again"
            entry.detail = "canary rolled back by \(analysis.decidedBy): \(failure); \(live)"
            try append(entry)
            say("\(failed) was rolled back by its canary \(analysis.decidedBy) (\(failure)); \(live)")
            throw DeployFailure(.canaryFailed, "\(failed) was rolled back by its canary \(analysis.decidedBy); \(live). \(failure)")
        }
        let live = history.lastGood.map { "\($0.tag) kept serving: the proxy was never switched" } ?? "nothing was live before"
        entry.detail = failure + "; " + live
        try append(entry)
        say("\(failed) failed its smoke test (\(failure)); \(live)")
        throw DeployFailure(.smokeFailed, "\(failed) failed its smoke test; \(live). \(failure)")
    }

    private func takeLock(_ command: String) async throws(DeployFailure) -> EnvironmentLock {
        let holder = LockHolder(command: command + (runID.map { " (run \($0))" } ?? ""))
        let progress = progress
        let log = log
        let environment = name.rawValue
        let wait = lockWait
        do {
            let lock = try await EnvironmentLock.acquire(stateDirectory: stateDirectory, environment: name, holder: holder, wait: wait) { state in
                let line = "waiting up to \(wait) for the \(environment) lock: \(state.description)"
                log.write(line + "\n")
                progress(line)
            }
            if let stale = lock.tookOverFrom {
                say("warning: took over a stale lock of \(name.rawValue): \(stale.summary)\(stale.processIsGone ? " (that process is gone)" : "")")
            }
            return lock
        } catch let error as LockError {
            throw DeployFailure(error.code == .busy ? .locked : .infrastructure, error.message)
        } catch {
            throw DeployFailure(.infrastructure, "interrupted while waiting for the \(name.rawValue) lock")
        }
    }

    private func readLedger() throws(DeployFailure) -> LedgerContents {
        let contents: LedgerContents
        do {
            contents = try ledger.read()
        } catch {
            throw DeployFailure(.infrastructure, error.description)
        }
        for problem in contents.problems {
            say("warning: \(ledger.path) \(problem)")
        }
        return contents
    }

    private func append(_ entry: LedgerEntry) throws(DeployFailure) {
        do {
            try ledger.append(entry)
        } catch {
            throw DeployFailure(.infrastructure, error.description)
        }
    }

    private func digest(of tag: RegistryTag, in repository: String) async throws(DeployFailure) -> ImageDigest? {
        do {
            return try await registry.digest(of: tag, in: repository)
        } catch let error as RegistryError where error.code == .notFound {
            return nil
        } catch {
            throw DeployFailure(.infrastructure, "cannot read \(repository):\(tag) from the registry: \(error)")
        }
    }

    func compose(_ argv: [String], tag: RegistryTag?, slots: [Slot: [String: String]], dockerConfig: String? = nil) async throws(DeployFailure) -> ProcessResult
    {
        var target = environment
        target.proxyDirectory = proxy.directory
        if let dockerConfig { target.processEnvironment = target.processEnvironment.merging(["DOCKER_CONFIG": dockerConfig]) }
        let command: Command
        do {
            command = try target.command(argv, tag: tag, slots: slots)
        } catch {
            throw DeployFailure(.refused, error.message)
        }
        log.write("$ \(command.displayString)\n")
        do {
            return try await runner.run(command, log: log)
        } catch {
            throw DeployFailure(.infrastructure, "\(argv.prefix(2).joined(separator: " ")) could not run: \(error)")
        }
    }

    /// `compose pull` of the images of `slot`'s services by digest, logged in with ``pullCredentials`` when set; a failure
    /// changes nothing.
    private func pull(_ tag: RegistryTag, into slot: Slot, slots: [Slot: [String: String]]) async throws(DeployFailure) {
        let dockerConfig = try await loggedInDockerConfig()
        defer {
            if let dockerConfig {
                do {
                    try FileManager.default.removeItem(atPath: dockerConfig)
                } catch {
                    say("warning: \(dockerConfig), which holds a registry login, could not be removed: \(error.localizedDescription); delete it")
                }
            }
        }
        let result = try await compose(
            environment.compose.pull(config.services.map { slot.composeService($0.name) }), tag: tag, slots: slots, dockerConfig: dockerConfig)
        guard result.succeeded else {
            throw DeployFailure(.infrastructure, "pulling \(tag) failed; nothing was changed: \(Self.tail(result.output))")
        }
    }

    /// A new Docker client configuration directory (0700) logged into the registry with ``pullCredentials``, or nil
    /// without credentials. The caller deletes it.
    private func loggedInDockerConfig() async throws(DeployFailure) -> String? {
        guard let credentials = pullCredentials else { return nil }
        var template = Array((NSTemporaryDirectory() + "/stockops-docker-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            throw DeployFailure(.infrastructure, "cannot create a temporary Docker configuration directory: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: created)
        var variables = Command.baseEnvironment().merging(environment.processEnvironment.passing(["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"])) {
            $1
        }
        variables["DOCKER_CONFIG"] = directory
        let argv = DockerCommand(executable: "docker", configDirectory: directory).login(registry: config.registry.host, username: credentials.username)
        let command = Command(argv: argv, environment: variables, standardInput: credentials.password)
        log.write("$ \(command.displayString)\n")
        let result: ProcessResult
        do {
            result = try await runner.run(command, log: log)
        } catch {
            // Best effort: the login did not succeed, so the directory holds no credentials; the error below is what matters.
            try? FileManager.default.removeItem(atPath: directory)
            throw DeployFailure(.infrastructure, "docker login could not run: \(error)")
        }
        guard result.succeeded else {
            // Best effort: the login failed, so the directory holds no credentials; the error below is what matters.
            try? FileManager.default.removeItem(atPath: directory)
            throw DeployFailure(.infrastructure, "docker login \(config.registry.host) failed; nothing was changed: \(Self.tail(result.output))")
        }
        return directory
    }

    var proxy: TrafficProxy { TrafficProxy(stateDirectory: stateDirectory, project: environment.compose.projectName) }

    /// Puts `digests` live without an outage: starts them in the slot the proxy does not send traffic to (or finds them
    /// retained there), smoke-tests those containers directly, then switches the proxy; the version that was live stays
    /// in its slot, running, for an instant rollback. Until the switch the live version serves alone, and on a failure
    /// the proxy is left as it was and the new containers are removed. Once the switch begins it is finished, and
    /// `entry` appended to the ledger, even when the task is cancelled (SIGINT/SIGTERM), so the proxy, the ledger and the
    /// lock (released by the caller afterwards) agree. With `canary`, the smoke-tested version first gets a share of the
    /// traffic and is promoted or rolled back by its analysis (``runCanary(_:policy:canary:stable:stableTag:slots:)``).
    /// Returns the appended entry, or why the version is not live; throws only when the images cannot be pulled (nothing
    /// changed).
    private func release(
        _ tag: RegistryTag, digests: [String: String], recording entry: LedgerEntry, live: LedgerEntry?, started: ContinuousClock.Instant,
        canary: CanaryPolicy?
    ) async throws(DeployFailure) -> (report: SmokeReport?, failure: String?, entry: LedgerEntry?, analysis: CanaryAnalysis?) {
        let proxy = self.proxy
        var recorded = proxy.slots()
        // Without a container list nothing counts as retained and the proxy probes are skipped; the pull and start below report an engine that does not answer.
        let containers = (try? await listContainers()) ?? []
        let active = await reconcile(proxy.activeSlot(), recorded: recorded, containers: containers, live: live)
        let target = active?.other ?? .blue
        let slots = { recorded.mapValues(\.images) }
        let retained = recorded[target]?.images == digests && Self.runningDigests(containers, slot: target) == digests
        if retained {
            say("\(tag) is retained in the \(target.rawValue) slot: no pull, no start")
        } else {
            var wanted = slots()
            wanted[target] = digests
            try await pull(tag, into: target, slots: wanted)
            do {
                try proxy.record(SlotContents(tag: tag.name, images: digests), in: target)
            } catch {
                throw DeployFailure(.infrastructure, "\(error)")
            }
            recorded[target] = SlotContents(tag: tag.name, images: digests)
        }
        let services = config.services.map { target.composeService($0.name) }
        let passed: SmokeReport
        do {
            if !retained {
                say("starting \(tag) in the \(target.rawValue) slot beside \(active.flatMap { recorded[$0]?.tag }.map { "the live \($0)" } ?? "nothing live")")
                let result = try await compose(environment.compose.up(services), tag: tag, slots: slots())
                guard result.succeeded else { throw DeployFailure(.smokeFailed, "compose up did not start it: \(Self.tail(result.output))") }
            }
            let running = Self.runningDigests(try await listContainers(), slot: target)
            let wrong = digests.keys.sorted().filter { running[$0] != digests[$0] }
            guard wrong.isEmpty else {
                throw DeployFailure(
                    .smokeFailed,
                    "the engine does not run the checked digests: "
                        + wrong.map { "\($0) runs \(running[$0] ?? "nothing"), not \(digests[$0] ?? "")" }.joined(separator: "; "))
            }
            var targets: [SmokeTest.Target] = []
            for service in config.services {
                let address = try await publishedAddress(target.composeService(service.name), service.containerPort, slots: slots())
                targets.append(SmokeTest.Target(service: service.name, baseURL: "http://\(address)", healthPath: service.healthPath, checks: service.smoke))
            }
            say("smoke test of \(tag) in the \(target.rawValue) slot, before it gets traffic (health within \(Int(smokeTimeout.components.seconds)) s)")
            let log = log
            let progress = progress
            let report = await SmokeTest(targets: targets, timeout: smokeTimeout).run { line in
                log.write("  " + line + "\n")
                progress("  " + line)
            }
            if let failure = report.failure {
                await discard(target, tag: tag, slots: slots())
                return (report, failure, nil, nil)
            }
            try Task.checkCancellation()
            passed = report
        } catch let error as DeployFailure {
            await discard(target, tag: tag, slots: slots())
            return (nil, error.message, nil, nil)
        } catch {
            await discard(target, tag: tag, slots: slots())
            return (nil, Task.isCancelled ? "interrupted before the switch" : "\(error)", nil, nil)
        }
        var analysis: CanaryAnalysis?
        if let canary, let stable = active, let stableContents = recorded[stable] {
            let judged = await runCanary(tag, policy: canary, canary: target, stable: stable, stableTag: stableContents.tag, slots: slots())
            if judged.verdict == .rolledBack {
                await discard(target, tag: tag, slots: slots())
                return (passed, judged.reason, nil, judged)
            }
            analysis = judged
        } else if canary != nil {
            say("nothing is live in \(name.rawValue) to compare a canary with: \(tag) takes all the traffic after its smoke test")
        }
        let judged = analysis
        let current = slots()
        // Not a child task: cancelling the caller stops neither the switch nor its ledger entry half way.
        let switched = await Task { () async -> SwitchOutcome in
            do throws(SwitchFailure) {
                try await switchProxy(to: target, from: active, tag: tag, slots: current)
            } catch {
                // A proxy not known to serve the previous slot again may still send traffic to the new one: it stays.
                return error.proxyRestored ? .notSwitched(error.failure) : .slotKept(error.failure)
            }
            var entry = entry
            entry.seconds = Self.seconds(since: started)
            entry.detail = passed.healthySeconds.map { "healthy after \($0) s" }
            entry.analysis = judged
            do throws(DeployFailure) {
                try append(entry)
            } catch {
                return .unrecorded(error)
            }
            say("\(tag) is live in \(name.rawValue) and passed its smoke test (\(entry.seconds ?? 0) s)")
            return .live(entry)
        }.value
        switch switched {
        case .live(let appended):
            return (passed, nil, appended, judged)
        case .notSwitched(let error):
            await discard(target, tag: tag, slots: current)
            return (passed, error.message, nil, judged)
        case .slotKept(let error):
            return (passed, error.message, nil, judged)
        case .unrecorded(let error):
            throw DeployFailure(.infrastructure, "\(tag) is live (the proxy sends traffic to it), but the ledger could not record it: \(error.message)")
        }
    }

    /// How the switch to a new slot ended.
    private enum SwitchOutcome {
        /// The proxy serves the new slot and the ledger records it.
        case live(LedgerEntry)
        /// The proxy serves the previous slot (again): the new slot can go.
        case notSwitched(DeployFailure)
        /// The switch failed and the proxy could not be pointed back: the new slot keeps running.
        case slotKept(DeployFailure)
        /// The proxy serves the new slot, but the ledger could not record it.
        case unrecorded(DeployFailure)
    }

    /// Repairs a switch a killed stockops left half done (configuration written, proxy not reloaded): when the proxy
    /// answers from another slot than its configuration names, the configuration is made to name the slot holding the
    /// ledger's live version, and the proxy reloaded onto it. Returns the slot that serves.
    private func reconcile(_ configured: Slot?, recorded: [Slot: SlotContents], containers: [ContainerStatus], live: LedgerEntry?) async -> Slot? {
        if let configured, let leftover = proxy.canary() {
            let tag = proxy.rollout()?.tag ?? recorded[leftover.slot]?.tag ?? "a canary"
            var problem: String?
            do {
                try proxy.writeConfiguration(active: configured, services: config.services)
                if containers.contains(where: { $0.service == "proxy" && $0.state == "running" }) {
                    let reload = try await compose(environment.compose.kill("SIGUSR2", ["proxy"]), tag: nil, slots: recorded.mapValues(\.images))
                    if !reload.succeeded { problem = "reloading the proxy failed: \(Self.tail(reload.output))" }
                }
            } catch {
                problem = "\(error)"
            }
            if let problem {
                say("warning: an interrupted canary (\(tag) in the \(leftover.slot.rawValue) slot, \(leftover.weight) %) could not be repaired: \(problem)")
            } else {
                proxy.clearRollout()
                say(
                    "repaired an interrupted canary: \(tag) in the \(leftover.slot.rawValue) slot had \(leftover.weight) % of the traffic; the \(configured.rawValue) slot has all of it again"
                )
            }
        }
        // A ports error stops the deploy at its first compose command; here it only skips the probe.
        guard let configured, containers.contains(where: { $0.service == "proxy" && $0.state == "running" }),
            let service = config.services.first, let port = try? environment.ports()[service.name]
        else { return configured }
        let client = HTTPClient(configuration: SmokeTest.http)
        // A proxy that does not answer shows no half-done switch: the configured slot stands, and confirmSwitch checks the proxy at the switch.
        let answer = try? await client.send(HTTPRequest(url: "http://\(environment.smokeHost):\(port)\(service.healthPath)"))
        guard let serving = answer?.headers[TrafficProxy.slotHeader].flatMap(Slot.init(rawValue:)), serving != configured else { return configured }
        let wanted = [serving, configured].first { recorded[$0]?.images == live?.images } ?? serving
        do {
            try proxy.writeConfiguration(active: wanted, services: config.services)
        } catch {
            return serving
        }
        if wanted != serving {
            // The reload's own error is not needed: either way the proxy's answer decides, and a failed reload is said.
            let reloaded = (try? await compose(environment.compose.kill("SIGUSR2", ["proxy"]), tag: nil, slots: recorded.mapValues(\.images)))?.succeeded
            if reloaded != true {
                // The proxy still serves `serving`: its configuration names it again, and the deploy goes on from there.
                try? proxy.writeConfiguration(active: serving, services: config.services)
                say(
                    "warning: the proxy serves the \(serving.rawValue) slot while its configuration named the \(configured.rawValue) slot, and reloading it onto the \(wanted.rawValue) slot failed; it keeps serving the \(serving.rawValue) slot"
                )
                return serving
            }
        }
        say(
            "repaired an unfinished switch: the proxy's configuration named the \(configured.rawValue) slot while it served the \(serving.rawValue) slot; it now names the \(wanted.rawValue) slot, which holds \(live?.tag ?? "the live version")"
        )
        return wanted
    }

    /// Removes the containers of `slot`, which never got traffic, and forgets what it held; also when the caller is
    /// cancelled.
    private func discard(_ slot: Slot, tag: RegistryTag, slots: [Slot: [String: String]]) async {
        await Task {
            var problems: [String] = []
            do {
                let removal = try await compose(environment.compose.remove(config.services.map { slot.composeService($0.name) }), tag: tag, slots: slots)
                if !removal.succeeded { problems.append("removing its containers failed: \(Self.tail(removal.output))") }
            } catch {
                problems.append("removing its containers failed: \(error)")
            }
            do {
                try proxy.record(nil, in: slot)
            } catch {
                problems.append("its record in slots.json could not be cleared: \(error)")
            }
            if problems.isEmpty {
                say("removed the \(slot.rawValue) slot's containers of \(tag); the proxy was not switched")
            } else {
                say("warning: the proxy was not switched to \(tag), but the \(slot.rawValue) slot was not cleaned up: " + problems.joined(separator: "; "))
            }
        }.value
    }

    /// A switch of the proxy that did not happen, and whether the proxy is known to serve the previous slot again
    /// (or never left it): when not, the new slot must keep running.
    struct SwitchFailure: Error {
        let failure: DeployFailure
        let proxyRestored: Bool
    }

    /// Points the proxy at `slot`: rewrites its configuration and reloads it (SIGUSR2: the old worker finishes its
    /// requests), or starts it; then waits until every published port answers from `slot`. When that does not happen,
    /// the configuration goes back to `previous`, the proxy is reloaded onto it and must answer from it; when that
    /// fails too, the failure says so and `proxyRestored` is false.
    private func switchProxy(to slot: Slot, from previous: Slot?, tag: RegistryTag, slots: [Slot: [String: String]]) async throws(SwitchFailure) {
        let started = ContinuousClock.now
        say("switching \(name.rawValue)'s traffic to \(tag) in the \(slot.rawValue) slot")
        do {
            try proxy.writeConfiguration(active: slot, services: config.services)
        } catch {
            throw SwitchFailure(failure: DeployFailure(.infrastructure, "\(error)"), proxyRestored: true)
        }
        // Unknown counts as not running: `up` starts the proxy or leaves it, and confirmSwitch tells whether traffic moved.
        let proxyRunning = ((try? await listContainers()) ?? []).contains { $0.service == "proxy" && $0.state == "running" }
        let argv = proxyRunning ? environment.compose.kill("SIGUSR2", ["proxy"]) : environment.compose.up(["proxy"], dependencies: false, removeOrphans: true)
        var problem: String?
        do {
            let result = try await compose(argv, tag: tag, slots: slots)
            if !result.succeeded { problem = "\(proxyRunning ? "reloading" : "starting") the proxy failed: \(Self.tail(result.output))" }
        } catch {
            problem = error.message
        }
        if problem == nil { problem = await confirmSwitch(to: slot) }
        guard let problem else {
            say(
                "the proxy sends \(name.rawValue)'s traffic to \(tag) (\(slot.rawValue) slot) after \(Self.seconds(since: started)) s"
                    + (previous.map { "; the \($0.rawValue) slot is retained for a rollback" } ?? ""))
            return
        }
        guard let previous else { throw SwitchFailure(failure: DeployFailure(.smokeFailed, problem), proxyRestored: true) }
        if let unrestored = await pointBack(to: previous, tag: tag, slots: slots) {
            throw SwitchFailure(
                failure: DeployFailure(
                    .smokeFailed,
                    "\(problem); pointing the proxy back to the \(previous.rawValue) slot failed too (\(unrestored)), so the \(slot.rawValue) slot with \(tag) keeps"
                        + " running: check `stockops status --env \(name.rawValue)`"),
                proxyRestored: false)
        }
        throw SwitchFailure(failure: DeployFailure(.smokeFailed, problem), proxyRestored: true)
    }

    /// Writes the proxy's configuration back to `previous` and reloads it; nil once every port answers from
    /// `previous` again, else what went wrong.
    private func pointBack(to previous: Slot, tag: RegistryTag, slots: [Slot: [String: String]]) async -> String? {
        do {
            try proxy.writeConfiguration(active: previous, services: config.services)
            let reload = try await compose(environment.compose.kill("SIGUSR2", ["proxy"]), tag: tag, slots: slots)
            if !reload.succeeded { return "reloading the proxy failed: \(Self.tail(reload.output))" }
        } catch {
            return "\(error)"
        }
        return await confirmSwitch(to: previous)
    }

    /// Nil once every service's published port answers its health path from `slot` (``TrafficProxy/slotHeader``), else
    /// what it answered last after 15 s.
    func confirmSwitch(to slot: Slot) async -> String? {
        let ports: [String: Int]
        do { ports = try environment.ports() } catch { return error.message }
        let client = HTTPClient(configuration: SmokeTest.http)
        let deadline = ContinuousClock.now + .seconds(15)
        for service in config.services {
            var last = "no answer"
            while true {
                let url = "http://\(environment.smokeHost):\(ports[service.name] ?? 0)\(service.healthPath)"
                // No answer yet is retried until the deadline, which reports the last answer.
                if let response = try? await client.send(HTTPRequest(url: url)) {
                    let answered = response.headers[TrafficProxy.slotHeader]
                    if response.status == 200, answered == slot.rawValue { break }
                    last = "\(response.status) from the \(answered ?? "unknown") slot"
                }
                guard ContinuousClock.now < deadline else {
                    return "the proxy did not send \(service.name) to the \(slot.rawValue) slot within 15 s (\(url): \(last))"
                }
                // Sleeping throws only when cancelled; the deadline still ends the loop.
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return nil
    }

    /// The loopback address (`127.0.0.1:49153`) `containerPort` of a Compose service is published on.
    func publishedAddress(_ service: String, _ containerPort: Int, slots: [Slot: [String: String]]) async throws(DeployFailure) -> String {
        let result = try await compose(environment.compose.port(service, containerPort), tag: nil, slots: slots)
        let address = result.output.split(whereSeparator: \.isNewline).last.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard result.succeeded, let colon = address.lastIndex(of: ":"), Int(address[address.index(after: colon)...]) != nil else {
            throw DeployFailure(.smokeFailed, "\(service) publishes no port \(containerPort): \(Self.tail(result.output))")
        }
        let host = String(address[..<colon])
        return (host == "0.0.0.0" || host.isEmpty ? "127.0.0.1" : host) + address[colon...]
    }

    /// The containers of the environment's Compose project.
    private func listContainers() async throws(DeployFailure) -> [ContainerStatus] {
        let argv = ContainerStatus.list(project: environment.compose.projectName)
        let variables = Command.dockerEnvironment(from: environment.processEnvironment)
        do {
            let result = try await runner.run(Command(argv: argv, environment: variables))
            guard result.succeeded else { throw DeployFailure(.infrastructure, "docker ps failed: \(Self.tail(result.output))") }
            return try ContainerStatus.parse(result.output)
        } catch let error as DeployFailure {
            throw error
        } catch {
            throw DeployFailure(.infrastructure, "cannot list the containers of \(environment.compose.projectName): \(error)")
        }
    }

    /// The digest each service's running container in `slot` was created from (`repository@sha256:…`), from `docker ps`;
    /// with no slot, the containers named after the services themselves (an environment deployed before the proxy).
    static func runningDigests(_ containers: [ContainerStatus], slot: Slot?) -> [String: String] {
        var digests: [String: String] = [:]
        for container in containers where container.state == "running" {
            let service: String
            if let slot {
                guard let parsed = Slot.parse(container.service), parsed.slot == slot else { continue }
                service = parsed.service
            } else {
                guard Slot.parse(container.service) == nil else { continue }
                service = container.service
            }
            guard let at = container.image.lastIndex(of: "@"), let digest = ImageDigest(String(container.image[container.image.index(after: at)...])) else {
                continue
            }
            digests[service] = digest.description
        }
        return digests
    }

    static func tail(_ output: String) -> String {
        output.split(separator: "\n").suffix(3).joined(separator: " / ")
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return ((Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 100).rounded() / 100
    }
}

/// Ranks existing tags by how near they are to a missing one, for suggestions.
public enum NearestTags {
    /// Up to `limit` of `candidates`: for a version `vX.Y.Z` the versions next to it in version order (older first on a
    /// tie), otherwise tags with the same prefix (`stage-`, `dev-`) first, then by edit distance.
    public static func rank(_ wanted: String, among candidates: [String], limit: Int = 5) -> [String] {
        let unique = Array(Set(candidates)).filter { $0 != wanted }
        if let target = version(wanted) {
            let versions = unique.compactMap { name in version(name).map { (name: name, version: $0) } }
                .sorted { $0.version.lexicographicallyPrecedes($1.version) }
            if !versions.isEmpty {
                let insertion = versions.firstIndex { !$0.version.lexicographicallyPrecedes(target) } ?? versions.count
                return versions.indices.sorted { lhs, rhs in
                    let (a, b) = (lhs < insertion ? insertion - lhs : lhs - insertion + 1, rhs < insertion ? insertion - rhs : rhs - insertion + 1)
                    return a != b ? a < b : lhs < rhs
                }.prefix(limit).map { versions[$0].name }
            }
        }
        let prefix = wanted.split(separator: "-").first.map(String.init) ?? wanted
        return unique.sorted { lhs, rhs in
            let (lp, rp) = (lhs.hasPrefix(prefix + "-"), rhs.hasPrefix(prefix + "-"))
            if lp != rp { return lp }
            let (a, b) = (editDistance(lhs, wanted), editDistance(rhs, wanted))
            return a != b ? a < b : lhs < rhs
        }.prefix(limit).map { $0 }
    }

    static func version(_ tag: String) -> [Int]? {
        guard tag.hasPrefix("v") else { return nil }
        let core = tag.dropFirst().split(separator: "-", maxSplits: 1).first ?? ""
        let parts = core.split(separator: ".").compactMap { Int($0) }
        return parts.count == 3 ? parts : nil
    }

    /// The Levenshtein distance of `a` and `b` (bytes).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
