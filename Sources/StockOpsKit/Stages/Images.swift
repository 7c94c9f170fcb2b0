import Foundation

/// What the image nodes share: the registry, its credentials, the per-run Docker client configuration.
public struct ImageSettings: Sendable {
    public var registry: RegistryConfig
    public var images: ImagesConfig
    /// The node whose output holds `HARBOR_USERNAME`/`HARBOR_PASSWORD`; anonymous access when absent.
    public var secrets: StageRef<FetchedSecrets>?
    public var docker: String
    public var swift: String
    public var trivy: String
    /// Where trivy keeps its DB and layer cache between runs (`TRIVY_CACHE_DIR`).
    public var trivyCacheDirectory: String?
    /// `STOCKOPS_STATE_DIR` and the `XDG_*` variables: where the build locks live (``StateDirectory``); the Docker
    /// engine (`DOCKER_HOST`, the sandbox's when it is up).
    public var processEnvironment: RunEnvironment

    public init(
        registry: RegistryConfig, images: ImagesConfig, secrets: StageRef<FetchedSecrets>?, docker: String = "docker", swift: String = "swift",
        trivy: String = "trivy",
        trivyCacheDirectory: String? = nil, processEnvironment: RunEnvironment = [:]
    ) {
        self.processEnvironment = processEnvironment
        self.registry = registry
        self.images = images
        self.secrets = secrets
        self.docker = docker
        self.swift = swift
        self.trivy = trivy
        self.trivyCacheDirectory = trivyCacheDirectory
    }

    /// trivy locks its cache directory: nodes running trivy share this resource so they never overlap.
    public static let trivyResource = "trivy-cache"

    /// The per-run Docker client configuration directory (`--config`, `DOCKER_CONFIG`), outside the run record; the
    /// logout node removes it.
    static func dockerConfig(_ paths: RunPaths) -> String { DockerLoginDirectory.path(for: paths) }

    /// The registry login of build, scan, sign and attest, found as promote, deploy and rollback find theirs
    /// (``RegistryAccess/credentials(fetched:environment:)``).
    func credentials(_ context: StageContext) throws -> RegistryCredentials? {
        // fetch-secrets is skipped without VAULT_ADDR: then only the environment's login, if any, is there.
        RegistryAccess.credentials(fetched: secrets.flatMap { try? context.value($0) }, environment: processEnvironment)
    }

    func client(_ context: StageContext) throws -> RegistryClient {
        RegistryClient(baseURL: registry.baseURL, credentials: try credentials(context))
    }

    func dockerCommand(_ paths: RunPaths) -> DockerCommand {
        DockerCommand(executable: docker, configDirectory: Self.dockerConfig(paths))
    }

    /// Logs the per-run Docker configuration into the registry, once per run, with the password on stdin.
    func login(_ context: StageContext) async throws {
        let directory = try DockerLoginDirectory.create(for: context.paths)
        guard let credentials = try credentials(context) else { return }
        // An unreadable Docker config only means logging in again.
        if FileManager.default.fileExists(atPath: directory + "/config.json"),
            let text = try? String(contentsOfFile: directory + "/config.json", encoding: .utf8), text.contains("\"\(registry.host)\"")
        {
            return
        }
        let argv = dockerCommand(context.paths).login(registry: registry.host, username: credentials.username)
        _ = try await context.run(Command(argv: argv, environment: dockerEnvironment(context.paths), standardInput: credentials.password))
            .check("docker login \(registry.host)", kind: .infrastructure)
    }

    func dockerEnvironment(_ paths: RunPaths) -> [String: String] {
        var environment = Command.baseEnvironment(adding: ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"], from: processEnvironment)
        environment["DOCKER_CONFIG"] = Self.dockerConfig(paths)
        return environment
    }

    func trivyCommand(_ root: String, severities: [TrivyCommand.Severity] = [.high, .critical]) -> TrivyCommand {
        let ignore = root + "/" + images.ignoreFile
        return TrivyCommand(
            executable: trivy,
            cacheDirectory: trivyCacheDirectory ?? root + "/.stockops/trivy-cache",
            severities: severities,
            ignoreFile: FileManager.default.fileExists(atPath: ignore) ? ignore : nil,
            timeout: "15m",
            scanners: images.scanners.compactMap(TrivyCommand.Scanner.init(rawValue:)),
            databaseRepository: images.trivyDatabaseRepository
        )
    }

    func pinned(_ image: BuiltImage) throws -> PinnedImageReference {
        guard let digest = ImageDigest(image.digest) else { throw StageFailure.failed("\(image.service): \(image.digest) is not a sha256 digest") }
        return try ImageReference.parse(image.repository).pinned(to: digest)
    }
}

extension Command {
    /// A command from an argv array whose first element is the executable.
    public init(argv: [String], environment: [String: String] = Command.baseEnvironment(), workingDirectory: String? = nil, standardInput: Secret? = nil) {
        self.init(argv[0], Array(argv.dropFirst()), environment: environment, workingDirectory: workingDirectory, standardInput: standardInput)
    }
}

/// `build[<service>]`: the static service binary, then its image, pushed as `git-<sha7>`. Reused when the registry
/// already holds that tag with the commit's full SHA as its revision label: an image is built once per commit; a tag
/// with another revision is rebuilt, saying why. A working tree with uncommitted changes never produces or reuses a
/// `git-<sha7>` image: it builds `uncommitted-<sha7>-<content hash>`, which only dev accepts.
public struct BuildImageStage: Stage {
    public var service: ServiceConfig
    public var settings: ImageSettings
    public var dependencies: [NodeID] { settings.secrets.map { [$0.id] } ?? [] }

    public init(service: ServiceConfig, settings: ImageSettings) {
        self.service = service
        self.settings = settings
    }

    public func run(_ context: StageContext) async throws -> BuiltImage {
        let root = context.paths.root
        let git = Git(repository: root)
        let commit = try await context.runner.run(git.resolveCommit("HEAD")).check("git rev-parse HEAD", kind: .infrastructure).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let uncommitted = try await Self.uncommittedFiles(git, context)
        let tag: RegistryTag
        if uncommitted.isEmpty {
            tag = try RegistryTag.git(commit: commit)
        } else {
            let content = try await git.fingerprint(["."], runner: context.runner)
            tag = try RegistryTag.parse("uncommitted-\(commit.prefix(7))-\(content.prefix(12))")
            context.log.write("the working tree has uncommitted changes (\(Self.list(uncommitted))): building \(tag), which only dev accepts\n")
        }
        let repository = settings.registry.repository(service.name)
        let reference = try ImageReference.parse(settings.registry.host + "/" + repository)
        let client = try settings.client(context)
        let files = uncommitted.isEmpty ? nil : uncommitted
        let epoch = try await Self.sourceDateEpoch(Git(repository: root), context)

        // One build per commit and service on this host: an overlapping run waits, then reuses what this one pushed.
        let log = context.log
        let lock = try await BuildLock.acquire(
            directory: StateDirectory.resolve(root: root, environment: settings.processEnvironment) + "/builds", name: "\(service.name)-\(tag)",
            wait: .seconds(3600)
        ) { log.write("another run is building \(service.name) \(tag) on this host: waiting for it, then reusing its image\n") }
        defer { lock.release() }

        if let digest = try await client.digest(of: tag, in: repository) {
            let revision = try await client.labels(repository, .digest(digest))[RegistryClient.revisionLabel]
            if revision == commit {
                let pinned = reference.pinned(to: digest)
                if let unsigned = try await unsignedReason(pinned, client: client, context: context) {
                    context.log.write(
                        "\(reference.tagged(tag)) exists at \(digest), built from \(commit), but \(unsigned): rebuilding it (the build is reproducible, so the digest stays when the bytes do)\n"
                    )
                } else {
                    context.log.write("\(reference.tagged(tag)) already exists at \(digest), built from \(commit); not rebuilt\n")
                    return BuiltImage(
                        service: service.name, repository: reference.description, tag: tag.name, digest: digest.description, reused: true,
                        uncommittedFiles: files)
                }
            } else {
                context.log.write(
                    "\(reference.tagged(tag)) exists at \(digest), but its \(RegistryClient.revisionLabel) is \(revision.map { "\"\($0)\"" } ?? "missing"), not \(commit): rebuilding it from the commit\n"
                )
            }
        }

        let binary = try await buildBinary(context)
        // Outside the run record, which workflows upload: the context holds the service binary.
        let buildContext = NSTemporaryDirectory() + "/stockops-build-\(service.name)-\(UUID().uuidString)"
        // Best effort: the build context is a temporary copy outside the run record.
        defer { try? FileManager.default.removeItem(atPath: buildContext) }
        try stageContext(
            binary: binary, ignoreFile: root + "/" + servicePath + "/.dockerignore", into: buildContext,
            modified: Date(timeIntervalSince1970: TimeInterval(epoch)))

        try await settings.login(context)
        let docker = settings.dockerCommand(context.paths)
        let metadata = buildContext + "/buildx-metadata.json"
        var build = DockerCommand.Build(
            context: buildContext, dockerfile: root + "/" + dockerfile, image: reference.tagged(tag), revision: commit,
            source: try await sourceURL(context), created: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(epoch))),
            cache: reference.tagged(try RegistryTag.parse("buildcache")), metadataFile: metadata,
            buildArguments: [("SOURCE_DATE_EPOCH", String(epoch)), ("REVISION", commit)]
        )
        var environment = settings.dockerEnvironment(context.paths)
        environment["SOURCE_DATE_EPOCH"] = String(epoch)
        if try await context.runner.run(Command(argv: docker.buildxVersion(), environment: environment)).succeeded {
            let inspect = try await context.runner.run(Command(argv: docker.buildxInspect(), environment: environment))
            if let reason = Self.cacheExportUnsupported(inspect: inspect) {
                build.exportsCache = false
                context.log.write("\(reason): building without --cache-to (the registry cache is still read)\n")
            }
            _ = try await context.run(Command(argv: docker.buildxBuild(build), environment: environment)).check("docker buildx build \(service.name)")
        } else {
            context.log.write("the docker buildx plugin is missing: docker build, then docker push (no registry build cache)\n")
            _ = try await context.run(Command(argv: docker.build(build), environment: environment)).check("docker build \(service.name)")
            _ = try await context.run(Command(argv: docker.push(build.image), environment: environment)).check("docker push \(build.image)", kind: .transient)
        }
        let digest: ImageDigest
        if let data = FileManager.default.contents(atPath: metadata) {
            digest = try DockerCommand.parseMetadata(data)
        } else if let pushed = try await client.digest(of: tag, in: repository) {
            digest = pushed
        } else {
            throw StageFailure.infrastructure("\(build.image) was pushed but the registry does not list it")
        }
        context.log.write("pushed \(build.image) at \(digest)\n")
        return BuiltImage(
            service: service.name, repository: reference.description, tag: tag.name, digest: digest.description, reused: false, uncommittedFiles: files)
    }

    /// Files of the working tree that differ from `HEAD` (staged or not) or are untracked, outside `.stockops/`.
    static func uncommittedFiles(_ git: Git, _ context: StageContext) async throws -> [String] {
        let changed = try await context.runner.run(git.changedFiles(since: "HEAD")).check("git diff --name-only HEAD", kind: .infrastructure)
        let untracked = try await context.runner.run(git.untrackedFiles()).check("git ls-files --others", kind: .infrastructure)
        return Set(Git.parseNULSeparated(changed.output) + Git.parseNULSeparated(untracked.output)).filter { !$0.hasPrefix(".stockops/") }.sorted()
    }

    /// Up to five file names, then how many more.
    static func list(_ files: [String]) -> String {
        files.prefix(5).joined(separator: ", ") + (files.count > 5 ? " and \(files.count - 5) more" : "")
    }

    /// Why the selected buildx builder cannot write the registry build cache, from what `docker buildx inspect`
    /// printed; nil when it can.
    static func cacheExportUnsupported(inspect: ProcessResult) -> String? {
        // Output that does not parse is reported as an unknown builder, like a failed inspect.
        guard inspect.succeeded, let builder = try? BuildxBuilder.parse(inspectOutput: inspect.output) else {
            return "docker buildx inspect failed, so whether the builder exports cache is unknown"
        }
        guard builder.exportsRegistryCache else {
            return "the buildx builder \(builder.name) uses the docker driver without the containerd image store, which cannot export"
                + " cache to a registry (`docker buildx create --driver docker-container --use` makes a builder that can)"
        }
        return nil
    }

    var dockerfile: String { servicePath + "/Dockerfile" }

    /// The service's directory: the first of its paths holding a Dockerfile.
    var servicePath: String {
        let first = service.paths.first ?? "services/\(service.name)"
        return first.hasSuffix("/") ? String(first.dropLast()) : first
    }

    private func buildBinary(_ context: StageContext) async throws -> String {
        let swiftPM = SwiftPM(swift: settings.swift, packageDirectory: service.packageDirectory(root: context.paths.root))
        var arguments = ["-c", settings.images.buildConfiguration, "--static-swift-stdlib"] + SwiftPM.strippedLink
        if let scratch = settings.images.scratchPath {
            arguments += ["--scratch-path", scratch.hasPrefix("/") ? scratch : context.paths.root + "/" + scratch]
        }
        _ = try await context.run(swiftPM.build(product: service.product, arguments: arguments)).check("swift build --product \(service.product)")
        let path = try await context.runner.run(swiftPM.build(product: nil, arguments: arguments + ["--show-bin-path"]))
            .check("swift build --show-bin-path", kind: .infrastructure).output
        guard let directory = Git.parseLines(path).last else { throw StageFailure.infrastructure("swift build --show-bin-path printed nothing") }
        return directory + "/" + service.product
    }

    /// The Docker build context: the binary as `bin/<product>` and the service's `.dockerignore`. Nothing else.
    /// A copy of the binary (never a link: its time is set) and the `.dockerignore`, every file dated `modified`, so
    /// the layer the image copies them into is the same bytes in every build of the commit.
    private func stageContext(binary: String, ignoreFile ignore: String, into directory: String, modified: Date) throws {
        let manager = FileManager.default
        // Best effort: clears a leftover; the copy below fails if one is still in the way.
        try? manager.removeItem(atPath: directory)
        try manager.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        let target = directory + "/bin/" + service.product
        try manager.copyItem(atPath: binary, toPath: target)
        var files = [target, directory + "/bin"]
        if manager.fileExists(atPath: ignore) {
            try manager.copyItem(atPath: ignore, toPath: directory + "/.dockerignore")
            files.append(directory + "/.dockerignore")
        }
        for file in files + [directory] {
            try manager.setAttributes([.modificationDate: modified], ofItemAtPath: file)
        }
    }

    /// The commit's committer time: the creation time and file times of its image (`SOURCE_DATE_EPOCH`).
    static func sourceDateEpoch(_ git: Git, _ context: StageContext) async throws -> Int {
        let output = try await context.runner.run(git.commitTime("HEAD")).check("git log -1 --format=%ct HEAD", kind: .infrastructure).output
        guard let epoch = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw StageFailure.infrastructure("git log -1 --format=%ct HEAD printed \"\(output)\", not a time")
        }
        return epoch
    }

    /// Why an existing image of the commit must not be reused when the run signs: no signature of the run's key
    /// verifies. Nil when it verifies, or when the run has no key to check with.
    private func unsignedReason(_ image: PinnedImageReference, client: RegistryClient, context: StageContext) async throws -> String? {
        // fetch-secrets is skipped without VAULT_ADDR: then there is no key to check with.
        let fetched = settings.secrets.flatMap { try? context.value($0) }
        // Keys that cannot be read leave nothing to check with here; sign and deploy read them again and report why.
        guard fetched?[SignImageStage.keyKey] != nil || fetched?[SignImageStage.publicKeyKey] != nil,
            let trust = try? ReleaseTrust.resolve(publicKeyFiles: settings.images.publicKeyFiles, root: context.paths.root, secrets: fetched),
            let verifier = trust.verifier
        else { return nil }
        do {
            _ = try await NativeVerifier(verifier: verifier, registry: client).verify(image: image)
            return nil
        } catch let error as SigningError {
            return "its signature does not verify (\(error.message))"
        }
    }

    private func sourceURL(_ context: StageContext) async throws -> String {
        if let url = settings.images.sourceURL { return url }
        let result = try await context.runner.run(Command("git", ["-C", context.paths.root, "remote", "get-url", "origin"]))
        return result.succeeded ? result.output.trimmingCharacters(in: .whitespacesAndNewlines) : "file://" + context.paths.root
    }
}

/// What `scan[<service>]` found.
public struct ScanReport: Codable, Sendable, Equatable {
    public var service: String
    public var digest: String
    /// Findings per severity.
    public var counts: [String: Int]
    /// The JSON and SARIF reports written.
    public var reports: [String]
}

/// `scan[<service>]`: trivy on the pushed image by digest; fails on findings at the configured severities.
///
/// A trivy that could not run (DB download, rate limit) is transient and retried, then an infrastructure
/// failure: never a pass, never "vulnerabilities found".
public struct ScanImageStage: Stage {
    public var image: StageRef<BuiltImage>
    public var settings: ImageSettings
    public var failOn: [Severity]
    public var dependencies: [NodeID] { [image.id] + (settings.secrets.map { [$0.id] } ?? []) }

    public init(image: StageRef<BuiltImage>, settings: ImageSettings, failOn: [Severity]) {
        self.image = image
        self.settings = settings
        self.failOn = failOn
    }

    public func run(_ context: StageContext) async throws -> ScanReport {
        let built = try context.value(image)
        let pinned = try settings.pinned(built)
        try await settings.login(context)
        try FileManager.default.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let severities = failOn.compactMap { TrivyCommand.Severity(rawValue: $0.rawValue) }
        let trivy = settings.trivyCommand(context.paths.root, severities: TrivyCommand.Severity.allCases)
        let json = context.paths.reportsDirectory + "/trivy-\(built.service).json"
        let result = try await context.run(Command(argv: trivy.image(pinned, output: json), environment: settings.dockerEnvironment(context.paths)))
        guard result.succeeded else {
            let failure = TrivyFailure.classify(result.output)
            throw StageFailure(failure.isRetryable ? .transient : .infrastructure, "trivy could not scan \(pinned): \(failure)")
        }
        guard let data = FileManager.default.contents(atPath: json) else { throw StageFailure.infrastructure("trivy wrote no report to \(json)") }
        let report = try TrivyReport.parse(data)
        let sarif = context.paths.reportsDirectory + "/trivy-\(built.service).sarif"
        _ = try await context.run(Command(argv: [trivy.executable, "convert", "--format", "sarif", "--output", sarif, json]))
            .check("trivy convert --format sarif", kind: .infrastructure)

        let counts = Dictionary(report.counts.map { ($0.key.rawValue, $0.value) }, uniquingKeysWith: +)
        let blocking = report.findings.filter { severities.contains($0.severity) }
        context.log.write(
            "\(report.findings.count) findings: "
                + TrivyCommand.Severity.allCases.reversed().map { "\($0.rawValue) \(report.counts[$0] ?? 0)" }.joined(separator: ", ") + "\n")
        for finding in report.findings.prefix(50) { context.log.write("  \(finding)\n") }
        if !blocking.isEmpty {
            let listed = blocking.prefix(5).map { "\($0.severity.rawValue) \($0.id) in \($0.package)" }.joined(separator: "; ")
            throw StageFailure.failed(
                "\(built.service): \(blocking.count) finding(s) at \(failOn.map(\.rawValue).joined(separator: "/")) (gates.vulnerabilities.fail-on): \(listed); reports \(json), \(sarif)"
            )
        }
        return ScanReport(service: built.service, digest: built.digest, counts: counts, reports: [json, sarif])
    }
}

/// The SBOMs written by `sbom[<service>]`.
public struct SBOMReport: Codable, Sendable, Equatable {
    public var service: String
    public var digest: String
    public var cycloneDX: String
    public var spdx: String
    /// Components listed in the CycloneDX document.
    public var components: Int
}

/// `sbom[<service>]`: CycloneDX and SPDX JSON of the pushed image, stored with the run's reports.
public struct SBOMStage: Stage {
    public var image: StageRef<BuiltImage>
    public var settings: ImageSettings
    public var dependencies: [NodeID] { [image.id] + (settings.secrets.map { [$0.id] } ?? []) }

    public init(image: StageRef<BuiltImage>, settings: ImageSettings) {
        self.image = image
        self.settings = settings
    }

    public func run(_ context: StageContext) async throws -> SBOMReport {
        let built = try context.value(image)
        let pinned = try settings.pinned(built)
        try await settings.login(context)
        try FileManager.default.createDirectory(atPath: context.paths.reportsDirectory, withIntermediateDirectories: true)
        let trivy = settings.trivyCommand(context.paths.root)
        let base = context.paths.reportsDirectory + "/sbom-\(built.service)"
        let cycloneDX = base + ".cdx.json"
        let spdx = base + ".spdx.json"
        for (format, output) in [(TrivyCommand.SBOMFormat.cycloneDX, cycloneDX), (.spdxJSON, spdx)] {
            let result = try await context.run(
                Command(argv: trivy.sbom(pinned, format: format, output: output), environment: settings.dockerEnvironment(context.paths)))
            guard result.succeeded else {
                let failure = TrivyFailure.classify(result.output)
                throw StageFailure(
                    failure.isRetryable ? .transient : .infrastructure, "trivy could not write the \(format.rawValue) SBOM of \(pinned): \(failure)")
            }
        }
        let components = try Self.componentCount(cycloneDX: cycloneDX)
        context.log.write("SBOMs of \(pinned): \(components) components; \(cycloneDX), \(spdx)\n")
        return SBOMReport(service: built.service, digest: built.digest, cycloneDX: cycloneDX, spdx: spdx, components: components)
    }

    static func componentCount(cycloneDX path: String) throws -> Int {
        // Anything but a CycloneDX JSON object fails below; the parser's detail adds nothing.
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            object["bomFormat"] as? String == "CycloneDX"
        else {
            throw StageFailure.infrastructure("\(path) is not a CycloneDX document")
        }
        return (object["components"] as? [Any])?.count ?? 0
    }
}

/// What `sign[<service>]` signed and verified.
public struct SignatureReport: Codable, Sendable, Equatable {
    public var service: String
    public var digest: String
    public var mode: String
    /// `cosign` or `native` (``SignTool``); nil in reports made before the native signer existed.
    public var tool: String?
}

/// `sign[<service>]`: signs by digest and verifies, with the signer ``ImagesConfig/signTool`` resolves to.
///
/// cosign: `cosign sign --yes` with the key from Vault in the environment (`env://`), or keyless; then `cosign verify`.
/// Native: the same key from Vault, opened in process (``CosignPrivateKey``), signed and pushed by ``NativeSigner``
/// and checked by ``NativeVerifier`` against `SIGNING_PUBLIC_KEY` (or the key's own public key).
public struct SignImageStage: Stage {
    public var image: StageRef<BuiltImage>
    public var settings: ImageSettings
    public var cosign: String
    public var dependencies: [NodeID] { [image.id] + (settings.secrets.map { [$0.id] } ?? []) }

    /// The Vault keys: the private key PEM, its password (optional) and the public key PEM (optional,
    /// derived with `cosign public-key` when absent).
    public static let keyKey = "SIGNING_KEY"
    public static let passwordKey = "SIGNING_KEY_PASSWORD"
    public static let publicKeyKey = "SIGNING_PUBLIC_KEY"

    public init(image: StageRef<BuiltImage>, settings: ImageSettings, cosign: String = "cosign") {
        self.image = image
        self.settings = settings
        self.cosign = cosign
    }

    var mode: CosignCommand.Mode {
        if let identity = settings.images.keylessIdentity, let issuer = settings.images.keylessIssuer {
            return .keyless(certificateIdentity: identity, oidcIssuer: issuer)
        }
        return .key
    }

    /// The signer that runs.
    var tool: SignTool {
        settings.images.signTool.resolved(cosignInstalled: ToolAvailability.isInstalled(cosign), keyless: settings.images.keylessIdentity != nil)
    }

    /// Why `sign[*]` is skipped, or nil: cosign is needed and missing, or the native signer has no `SIGNING_KEY`
    /// (fetch-secrets skipped, or the key not read); `images.sign.required: true` turns either into a failure.
    public static func skipReason(images: ImagesConfig, secrets: StageRef<FetchedSecrets>?, outputs: Outputs, cosign: String = "cosign") -> String? {
        let tool = images.signTool.resolved(cosignInstalled: ToolAvailability.isInstalled(cosign), keyless: images.keylessIdentity != nil)
        guard tool == .native else {
            return ToolAvailability.skipReason(
                tool: cosign, required: images.signRequired,
                hint:
                    "install cosign to sign images (https://docs.sigstore.dev/cosign/system_config/installation/), or set images.sign.tool: native (key mode); images.sign.required: true makes its absence fail the run"
            )
        }
        // fetch-secrets skipped or failed: no key was fetched, which is the skip reason below.
        guard !images.signRequired, (secrets.flatMap { try? outputs.value($0) })?[keyKey] == nil else { return nil }
        return "no \(keyKey) was fetched from Vault for the native signer; images.sign.required: true makes its absence fail the run"
    }

    public func run(_ context: StageContext) async throws -> SignatureReport {
        let built = try context.value(image)
        let pinned = try settings.pinned(built)
        if tool == .native { return try await signNatively(pinned, service: built.service, context) }
        try await settings.login(context)
        let command = CosignCommand(executable: cosign, mode: mode)
        var environment = settings.dockerEnvironment(context.paths)
        var verifyEnvironment = environment
        if case .key = mode {
            // No fetched key (fetch-secrets skipped) fails below with what to configure.
            guard let secrets = settings.secrets, let fetched = try? context.value(secrets), let key = fetched[Self.keyKey] else {
                throw StageFailure.failed(
                    "no \(Self.keyKey) was fetched from Vault: add it under vault: in pipelines/stockops.yml, or configure images.sign.keyless")
            }
            environment[CosignCommand.privateKeyVariable] = key.reveal()
            environment[CosignCommand.passwordVariable] = fetched[Self.passwordKey]?.reveal() ?? ""
            let publicKey: String
            if let stored = fetched[Self.publicKeyKey] {
                publicKey = stored.reveal()
            } else {
                publicKey = try await context.runner.run(
                    Command(cosign, ["public-key", "--key", "env://" + CosignCommand.privateKeyVariable], environment: environment)
                )
                .check("cosign public-key", kind: .failed).output
            }
            verifyEnvironment[CosignCommand.publicKeyVariable] = publicKey
        }
        _ = try await context.run(Command(argv: command.sign(pinned), environment: environment)).check("cosign sign \(pinned)", kind: .transient)
        let verified = try await context.run(Command(argv: command.verify(pinned), environment: verifyEnvironment)).check("cosign verify \(pinned)")
        let digests = try CosignCommand.parseVerifiedDigests(verified.output)
        guard digests.contains(where: { $0.description == built.digest }) else {
            throw StageFailure.failed("cosign verify did not report a signature for \(built.digest)")
        }
        context.log.write("signed and verified \(pinned)\n")
        return SignatureReport(
            service: built.service, digest: built.digest, mode: { if case .key = mode { "key" } else { "keyless" } }(), tool: SignTool.cosign.rawValue)
    }

    private func signNatively(_ pinned: PinnedImageReference, service: String, _ context: StageContext) async throws -> SignatureReport {
        // No fetched key (fetch-secrets skipped) fails below with what to configure.
        guard let secrets = settings.secrets, let fetched = try? context.value(secrets), let pem = fetched[Self.keyKey] else {
            throw StageFailure.failed("no \(Self.keyKey) was fetched from Vault: add it under vault: in pipelines/stockops.yml")
        }
        let key: CosignPrivateKey
        let verifier: CosignVerifier
        do {
            key = try CosignPrivateKey.opened(pem: pem.reveal(), password: fetched[Self.passwordKey] ?? Secret(""))
            verifier =
                try fetched[Self.publicKeyKey].map { try CosignVerifier(publicKeysPEM: $0.reveal()) }
                ?? CosignVerifier(publicKeys: [key.signingKey.publicKey])
        } catch {
            throw StageFailure.failed("\(Self.keyKey)/\(Self.passwordKey)/\(Self.publicKeyKey): \(error)")
        }
        let client = try settings.client(context)
        do {
            let signed = try await NativeSigner(key: key, registry: client).sign(pinned)
            context.log.write(
                "\(signed.appended ? "signed" : "already signed by this key:") \(pinned) (\(signed.tag), \(signed.signatureCount) signature(s))\n")
            let verification = try await NativeVerifier(verifier: verifier, registry: client).verify(image: pinned)
            for rejected in verification.rejected {
                context.log.write("signature \(rejected.layer.short()) not verified: \(rejected.reason)\n")
            }
        } catch let error as SigningError {
            throw StageFailure.failed("\(error)")
        }
        context.log.write("signed and verified \(pinned) natively\n")
        return SignatureReport(service: service, digest: pinned.digest.description, mode: "key", tool: SignTool.native.rawValue)
    }
}

/// `docker-logout` (finally): logs the per-run Docker configuration out and deletes it.
public struct DockerLogoutStage: Stage {
    public var settings: ImageSettings

    public init(settings: ImageSettings) {
        self.settings = settings
    }

    public func run(_ context: StageContext) async throws -> Done {
        let directory = ImageSettings.dockerConfig(context.paths)
        guard FileManager.default.fileExists(atPath: directory) else { return Done() }
        let argv = settings.dockerCommand(context.paths).logout(registry: settings.registry.host)
        // Best effort: removing the directory below deletes the stored credentials even when logout fails.
        _ = try? await context.run(Command(argv: argv, environment: settings.dockerEnvironment(context.paths)))
        try FileManager.default.removeItem(atPath: directory)
        return Done()
    }
}
