import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// The images the end-to-end deploy tests run, built once per test process in the Docker engine of `DOCKER_HOST`:
/// - `stockops-local/postgres:15` and `stockops-local/openbao:2`, the stand-ins of `environments/standins/`;
/// - `stockops-e2e/<service>:v1` from `services/<service>/Dockerfile` and the static binaries in
///   `STOCKOPS_SERVICE_BINARIES` (default `.build-images/release`, which `scripts/test.sh` builds), `:v2` (the same with
///   another label, so another digest), `:broken` (its process never answers, so its health check fails) and `:faulty`
///   (trade answers 500 on `POST /trades/buy` only).
actor DeployImages {
    static let shared = DeployImages()

    struct Prepared: Sendable {
        /// The address containers reach the host at (`host-gateway`).
        let hostGateway: String
    }

    private var prepared: Task<Prepared, any Error>?

    func prepare() async throws -> Prepared {
        if let prepared { return try await prepared.value }
        let task = Task { try await Self.build() }
        prepared = task
        return try await task.value
    }

    static let services = ["stock-listing", "trade"]

    private static func build() async throws -> Prepared {
        let version = try await docker(["version", "--format", "{{.Server.Version}}"])
        guard version.status == 0 else {
            throw FixtureError(
                "no Docker engine at DOCKER_HOST=\(ProcessInfo.processInfo.environment["DOCKER_HOST"] ?? "(unset)"): run the tests with scripts/test.sh, which starts one\n\(version.output)"
            )
        }
        guard executableOnPath("docker-compose") != nil, executableOnPath("docker-registry") != nil, executableOnPath("bao") != nil else {
            throw FixtureError("docker-compose, docker-registry and bao must be on the PATH: run scripts/install-deps.sh")
        }
        let root = OpenBaoDevServer.repositoryRoot.path
        let standins = try await runTool([root + "/environments/standins/build.sh"])
        guard standins.status == 0 else { throw FixtureError("environments/standins/build.sh failed:\n\(standins.output)") }

        let binaries = ProcessInfo.processInfo.environment["STOCKOPS_SERVICE_BINARIES"].flatMap { $0.isEmpty ? nil : $0 } ?? root + "/.build-images/release"
        guard services.allSatisfy({ FileManager.default.isExecutableFile(atPath: binaries + "/" + $0) }) else {
            throw FixtureError(
                "no service binaries in \(binaries): run the tests with scripts/test.sh, which builds them (swift build -c release --static-swift-stdlib -Xlinker -s --scratch-path .build-images)"
            )
        }
        for service in services {
            let context = temporaryDirectory("image-\(service)")
            defer { try? FileManager.default.removeItem(atPath: context) }
            try FileManager.default.createDirectory(atPath: context + "/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: root + "/services/\(service)/Dockerfile", toPath: context + "/Dockerfile")
            try FileManager.default.copyItem(atPath: binaries + "/" + service, toPath: context + "/bin/" + service)
            try await dockerBuild(context, tag: "stockops-e2e/\(service):v1", arguments: ["--build-arg", "REVISION=" + Self.revisions["v1"]!])
            try "FROM stockops-e2e/\(service):v1\nLABEL org.stockops.e2e.version=2\nENV SERVICE_REVISION=\(Self.revisions["v2"]!)\n"
                .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
            try await dockerBuild(context, tag: "stockops-e2e/\(service):v2")
            // The runtime image has no shell and no coreutils: sleep comes from the base it was cut from.
            try """
            FROM debian:bookworm-slim AS tools
            FROM stockops-e2e/\(service):v1
            COPY --from=tools /bin/sleep /bin/sleep
            STOPSIGNAL SIGKILL
            ENTRYPOINT ["/bin/sleep", "infinity"]

            """.write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
            try await dockerBuild(context, tag: "stockops-e2e/\(service):broken")
            try faultyVariant(service, binaries: binaries, context: context)
            try await dockerBuild(context, tag: "stockops-e2e/\(service):faulty")
        }
        let probe = try await docker(["run", "--rm", "--add-host", "gateway.probe:host-gateway", "debian:bookworm-slim", "getent", "hosts", "gateway.probe"])
        guard probe.status == 0, let address = probe.output.split(whereSeparator: \.isWhitespace).first.map(String.init), address.contains(".") else {
            throw FixtureError("cannot learn the host-gateway address:\n\(probe.output)")
        }
        return Prepared(hostGateway: address)
    }

    /// The commit each variant's services report (`/livez`, `stockops_build_info`), as the build node passes it.
    static let revisions = ["v1": String(repeating: "a", count: 40), "v2": String(repeating: "c", count: 40), "faulty": String(repeating: "f", count: 40)]

    /// The build context of `:faulty`: for trade, the v1 binary with a typo in its buy statement (`positionz`), so
    /// `POST /trades/buy` answers 500 while every other route, the health checks and the smoke test pass; for the other
    /// services, v1 under another revision.
    private static func faultyVariant(_ service: String, binaries: String, context: String) throws {
        var dockerfile = "FROM stockops-e2e/\(service):v1\nENV SERVICE_REVISION=\(revisions["faulty"]!)\n"
        if service == "trade" {
            var binary = try Data(contentsOf: URL(fileURLWithPath: binaries + "/trade"))
            let statement = Data("INSERT INTO positions AS p".utf8)
            guard let range = binary.range(of: statement), binary.range(of: statement, in: range.upperBound..<binary.endIndex) == nil else {
                throw FixtureError("the trade binary no longer holds \"INSERT INTO positions AS p\" exactly once: update the faulty variant")
            }
            binary.replaceSubrange(range, with: Data("INSERT INTO positionz AS p".utf8))
            try binary.write(to: URL(fileURLWithPath: context + "/bin/trade"))
            chmod(context + "/bin/trade", 0o755)
            dockerfile += "COPY bin/trade /usr/local/bin/trade\n"
        }
        try dockerfile.write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
    }

    private static func dockerBuild(_ context: String, tag: String, arguments: [String] = []) async throws {
        let result = try await docker(["build", "--quiet", "--tag", tag] + arguments + [context])
        guard result.status == 0 else { throw FixtureError("docker build \(tag) failed:\n\(result.output)") }
    }

    static func docker(_ arguments: [String]) async throws -> ToolResult {
        try await runTool(["docker"] + arguments)
    }
}

/// One environment of the stock app run by stockops for a test: a registry, an OpenBao dev server on the Docker host
/// gateway with the app's AppRole and database secret, a copy of the repository's `environments/`, `vault/agent/` and
/// `pipelines/stockops.yml` (pointing at the registry) in a temporary root, its own state directory, Compose project
/// and free ports. ``tearDown()`` runs `compose down -v` and stops everything by PID.
final class DeploySandbox: @unchecked Sendable {
    let environment: Environment
    let registry: LocalRegistry
    let vault: OpenBaoDevServer
    let root: String
    let state: String
    let project: String
    let ports: [String: Int]
    let config: PipelineConfig
    var processEnvironment: [String: String]
    /// The registry's HTTP Basic login, when it asks for one.
    let registryLogin: (username: String, password: String)?
    /// The sandbox's signing key: ``pushBuild(_:commit:services:signed:)`` signs with it, and its public key is the
    /// `images.sign.public-keys` file of the sandbox's pipeline.
    let signingKey = CosignPrivateKey(signingKey: P256.Signing.PrivateKey())

    /// What a deploy with the key from Vault trusts: the sandbox's key, which also signs stage proofs.
    var trust: ReleaseTrust {
        ReleaseTrust(verifier: CosignVerifier(publicKeys: [signingKey.signingKey.publicKey]), proofKey: signingKey, keySources: ["the sandbox's key"])
    }

    /// With `registryLogin`, the registry asks for HTTP Basic with it; ``pushBuild(_:commit:services:)`` logs in with
    /// its own Docker configuration, and stockops gets no credentials unless a test passes them.
    /// `settings` are YAML lines added to the environment's section of the pipeline (`    strategy: canary`).
    static func start(
        _ environment: Environment, plugin: Bool = false, registryLogin: (username: String, password: String)? = nil, settings: String = ""
    ) async throws -> DeploySandbox {
        let images = try await DeployImages.shared.prepare()
        let registry = try await LocalRegistry.start(registryLogin.map { .htpasswd(username: $0.username, password: $0.password) } ?? .none)
        do {
            let vault = try await OpenBaoDevServer.start(host: images.hostGateway)
            do {
                return try await DeploySandbox(environment, registry: registry, vault: vault, plugin: plugin, registryLogin: registryLogin, settings: settings)
            } catch {
                vault.stop()
                throw error
            }
        } catch {
            registry.stop()
            throw error
        }
    }

    private init(
        _ environment: Environment, registry: LocalRegistry, vault: OpenBaoDevServer, plugin: Bool, registryLogin: (username: String, password: String)?,
        settings: String
    ) async throws {
        self.environment = environment
        self.registry = registry
        self.vault = vault
        self.registryLogin = registryLogin
        let repository = OpenBaoDevServer.repositoryRoot.path
        root = temporaryDirectory("sandbox")
        state = root + "/state"
        project = "stockops-e2e-" + UUID().uuidString.prefix(8).lowercased()
        ports = ["stock-listing": try freeLoopbackPort(), "trade": try freeLoopbackPort(), "db": try freeLoopbackPort()]

        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/pipelines", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root + "/vault/agent", withIntermediateDirectories: true)
        try manager.copyItem(atPath: repository + "/environments", toPath: root + "/environments")
        try manager.copyItem(atPath: repository + "/vault/agent/agent.hcl", toPath: root + "/vault/agent/agent.hcl")
        var pipeline = try String(contentsOfFile: repository + "/pipelines/stockops.yml", encoding: .utf8)
        guard pipeline.contains("host: localhost:5000") else { throw FixtureError("pipelines/stockops.yml no longer names registry host localhost:5000") }
        guard pipeline.contains("\n  sign:\n") else { throw FixtureError("pipelines/stockops.yml no longer has an images.sign section") }
        try signingKey.publicKeyPEM.write(toFile: root + "/pipelines/cosign.pub", atomically: true, encoding: .utf8)
        let section = "\n  \(environment.rawValue):\n"
        if !Environment.standard.contains(environment) {
            // Another environment is one more entry under environments: (its ports come from the sandbox's variables).
            guard pipeline.contains("\nenvironments:\n") else { throw FixtureError("pipelines/stockops.yml has no environments: section") }
            pipeline = pipeline.replacingOccurrences(
                of: "\nenvironments:\n", with: "\nenvironments:" + section + "    ref: refs/heads/\(environment)\n    tag: \(environment)-{sha7}\n")
        }
        guard settings.isEmpty || pipeline.contains(section) else {
            throw FixtureError("pipelines/stockops.yml has no environments.\(environment.rawValue) section")
        }
        try pipeline.replacingOccurrences(of: "host: localhost:5000", with: "host: \(registry.host)")
            .replacingOccurrences(of: section, with: section + settings)
            .replacingOccurrences(of: "\n  sign:\n", with: "\n  sign:\n    public-keys: [pipelines/cosign.pub]\n")
            .write(toFile: root + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
        config = try PipelineConfig.load(path: root + "/pipelines/stockops.yml")

        // The agent (uid 10001, gid 10001) reads the AppRole files; the test runs as root, so they are group-readable.
        // The environment's own AppRole (app-<env>, reading secret/<env>/ only), as vault/init.sh lays it out.
        let role = "app-" + environment.rawValue
        let policy = try OpenBaoDevServer.appPolicy(environment)
        let (roleID, secretID) = try await vault.createAppRole(role, policy: policy)
        let approles = root + "/approle"
        let approle = approles + "/" + role
        try manager.createDirectory(atPath: approle, withIntermediateDirectories: true)
        try roleID.reveal().write(toFile: approle + "/role_id", atomically: true, encoding: .utf8)
        try secretID.reveal().write(toFile: approle + "/secret_id", atomically: true, encoding: .utf8)
        for path in [approle, approle + "/role_id", approle + "/secret_id"] {
            let directory = path == approle
            if chown(path, getuid(), 10001) == 0 {
                chmod(path, directory ? 0o750 : 0o640)
            } else {
                chmod(path, directory ? 0o755 : 0o644)
            }
        }
        let password = "pw-" + UUID().uuidString.prefix(12)
        try await vault.rootClient().write(
            "\(environment.rawValue)/db/stockops", data: ["password": String(password), "url": "postgres://stockops:\(password)@db:5432/stockops"])

        var variables = [
            "STOCKOPS_STATE_DIR": state, "STOCKOPS_COMPOSE_PROJECT": project,
            "STOCK_LISTING_PORT": String(ports["stock-listing"]!), "TRADE_PORT": String(ports["trade"]!), "DB_PORT": String(ports["db"]!),
            "POSTGRES_IMAGE": "stockops-local/postgres:15", "VAULT_AGENT_IMAGE": "stockops-local/openbao:2", "PROXY_IMAGE": "stockops-local/haproxy:2.6",
            "VAULT_AGENT_ADDR": "http://host.docker.internal:" + (URL(string: vault.address)?.port.map(String.init) ?? ""),
            "VAULT_APPROLE_DIR": approles, "STOCKOPS_COMPOSE": plugin ? "plugin" : "standalone",
        ]
        let current = ProcessInfo.processInfo.environment
        for name in ["PATH", "HOME", "DOCKER_HOST", "TMPDIR"] {
            if let value = current[name] { variables[name] = value }
        }
        if plugin {
            guard let standalone = executableOnPath("docker-compose") else { throw FixtureError("docker-compose is not on the PATH") }
            let configDirectory = root + "/docker-config"
            try manager.createDirectory(atPath: configDirectory + "/cli-plugins", withIntermediateDirectories: true)
            try manager.createSymbolicLink(
                atPath: configDirectory + "/cli-plugins/docker-compose", withDestinationPath: URL(fileURLWithPath: standalone).resolvingSymlinksInPath().path)
            variables["DOCKER_CONFIG"] = configDirectory
        }
        processEnvironment = variables

        if let registryLogin {
            let token = Data("\(registryLogin.username):\(registryLogin.password)".utf8).base64EncodedString()
            try manager.createDirectory(atPath: root + "/push-config", withIntermediateDirectories: true)
            try #"{"auths": {"\#(registry.host)": {"auth": "\#(token)"}}}"#.write(toFile: root + "/push-config/config.json", atomically: true, encoding: .utf8)
            pushArguments = ["--config", root + "/push-config"]
        }
    }

    /// `docker` arguments before the command of the pushes: the logged-in configuration of an authenticated registry.
    private var pushArguments: [String] = []

    /// Pushes the local image `stockops-e2e/<service>:<variant>` of every service as `git-<commit>`, signs it with
    /// ``signingKey`` as `sign[<service>]` does (unless `signed` is false) and returns what `build[<service>]` would
    /// have produced.
    func pushBuild(_ variant: String, commit: String, services: [String] = DeployImages.services, signed: Bool = true) async throws -> [BuiltImage] {
        var built: [BuiltImage] = []
        let registryClient = registry.client(registryLogin.map { RegistryCredentials(username: $0.username, password: Secret($0.password)) })
        for service in services {
            let reference = "\(registry.host)/\(config.registry.project)/\(service):git-\(commit)"
            for arguments in [["tag", "stockops-e2e/\(service):\(variant)", reference], pushArguments + ["push", "--quiet", reference]] {
                let result = try await DeployImages.docker(arguments)
                guard result.status == 0 else { throw FixtureError("docker \(arguments.joined(separator: " ")) failed:\n\(result.output)") }
            }
            let repository = config.registry.repository(service)
            let digest = try #require(try await registryClient.digest(of: RegistryTag("git-\(commit)")!, in: repository))
            if signed {
                try await NativeSigner(key: signingKey, registry: registryClient).sign(
                    PinnedImageReference(registry: registry.host, repository: repository, digest: digest))
            }
            built.append(
                BuiltImage(service: service, repository: registry.host + "/" + repository, tag: "git-\(commit)", digest: digest.description, reused: false))
        }
        return built
    }

    /// Runs `promote` and `deploy` of the pipeline (``StockOpsPipeline/releaseGraph(config:options:)``), with the
    /// outputs of `build[<service>]` given as external outputs.
    func runPipeline(
        _ builds: [BuiltImage], environment: Environment? = nil, settings: DeploySettings, extraEnvironment: [String: String] = [:], promoteOnly: Bool = false
    ) async throws -> RunResult {
        var options = StockOpsPipeline.Options(environment: environment ?? self.environment)
        options.processEnvironment = RunEnvironment(processEnvironment.merging(extraEnvironment) { $1 })
        options.deploy = settings
        let graph = try StockOpsPipeline.releaseGraph(config: config, options: options)
        let encoder = JSONEncoder()
        var external: [NodeID: Data] = [:]
        for build in builds {
            external[StockOpsPipeline.build(build.service).id] = try encoder.encode(build)
        }
        let scheduler = Scheduler(
            jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: RunPaths(root: root, runDirectory: root + "/.stockops/runs/" + RunRecord.newRunID()),
            approvals: [StockOpsPipeline.deploy.id], exclusions: promoteOnly ? [StockOpsPipeline.deploy.id: "promote only"] : [:], externalOutputs: external)
        return await scheduler.run(graph)
    }

    /// Signs the stage proof of `builds`, as a stage deploy with the key from Vault does once its smoke test passed.
    func proveStage(_ builds: [BuiltImage]) async throws {
        let client = registry.client(registryLogin.map { RegistryCredentials(username: $0.username, password: Secret($0.password)) })
        for build in builds {
            try await trust.writeStageProof(
                PinnedImageReference(
                    registry: registry.host, repository: config.registry.repository(build.service), digest: try #require(ImageDigest(build.digest))),
                registry: client)
        }
    }

    /// A deployer of this sandbox, as `stockops rollback` or the deploy node with the key from Vault makes it.
    func deployer(
        lockWait: Duration = .zero, smokeTimeout: Duration = .seconds(60), approval: Approval? = nil, log: NodeLog? = nil,
        registryCredentials: RegistryCredentials? = nil, pullCredentials: RegistryCredentials? = nil, forceUnverified: Bool = false
    ) -> Deployer {
        let compose = ComposeEnvironment.command(
            flavor: processEnvironment["STOCKOPS_COMPOSE"] == "plugin" ? .plugin : .standalone, environment: environment, root: root,
            processEnvironment: RunEnvironment(processEnvironment))
        return Deployer(
            environment: ComposeEnvironment(compose: compose, config: config, environment: environment, processEnvironment: RunEnvironment(processEnvironment)),
            registry: RegistryAccess.client(config.registry, credentials: registryCredentials), stateDirectory: state,
            runner: ProcessRunner(grace: .seconds(2)), log: log ?? NodeLog(path: root + "/deployer-\(UUID().uuidString).log"), smokeTimeout: smokeTimeout,
            lockWait: lockWait, actor: "e2e", approval: approval, runID: "e2e", pullCredentials: pullCredentials, trust: trust, forceUnverified: forceUnverified
        )
    }

    var request: EnvironmentRequest {
        EnvironmentRequest(root: root, environment: environment, processEnvironment: RunEnvironment(processEnvironment))
    }

    var ledger: [LedgerEntry] {
        get throws { try Ledger(stateDirectory: state, environment: environment).read().entries }
    }

    /// The containers of the project: service → (image, container id).
    func containers() async throws -> [String: (image: String, id: String)] {
        let result = try await DeployImages.docker([
            "ps", "--no-trunc", "--filter", "label=com.docker.compose.project=\(project)", "--format",
            "{{.Label \"com.docker.compose.service\"}} {{.Image}} {{.ID}}",
        ])
        guard result.status == 0 else { throw FixtureError("docker ps failed: \(result.output)") }
        var containers: [String: (image: String, id: String)] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count == 3 { containers[fields[0]] = (fields[1], fields[2]) }
        }
        return containers
    }

    /// `GET path` of a service on its published port.
    func get(_ service: String, _ path: String) async throws -> HTTPResponse {
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(10), retry: .none))
        return try await client.send(HTTPRequest(url: "http://127.0.0.1:\(ports[service]!)\(path)"))
    }

    func tearDown() async {
        let compose = ComposeCommand(flavor: .standalone, environment: environment.rawValue, root: root, project: project)
        var variables = processEnvironment
        variables["STOCKOPS_ENVIRONMENT"] = environment.rawValue
        variables["REGISTRY"] = registry.host
        variables["STOCKOPS_PROXY_DIR"] = TrafficProxy(stateDirectory: state, project: project).directory
        _ = try? await runTool(compose.downRemovingVolumes() + ["--remove-orphans"], environment: variables)
        let images = try? await DeployImages.docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=\(registry.host)/*/*"])
        let references = images?.output.split(separator: "\n").map(String.init) ?? []
        if !references.isEmpty { _ = try? await DeployImages.docker(["image", "rm"] + references) }
        vault.stop()
        registry.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs `body` with a sandbox and always tears it down.
    static func with(
        _ environment: Environment, plugin: Bool = false, registryLogin: (username: String, password: String)? = nil, settings: String = "",
        _ body: (DeploySandbox) async throws -> Void
    ) async throws {
        let sandbox = try await start(environment, plugin: plugin, registryLogin: registryLogin, settings: settings)
        do {
            try await body(sandbox)
        } catch {
            await sandbox.tearDown()
            throw error
        }
        await sandbox.tearDown()
    }
}
