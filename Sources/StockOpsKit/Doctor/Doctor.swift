import CurlHTTP
import Foundation

/// `stockops doctor`: whether the configured pipeline can run on this machine, and what to do when it cannot.
///
/// Every probe runs concurrently: the tools' version commands, the Docker engine, the state directory, and
/// Vault followed by the servers that use what it holds (registry, SonarQube, DefectDojo, Argo CD).
public struct Doctor: Sendable {
    /// The repository root, where the state directory defaults to.
    public var root: String
    /// The variables the pipeline would see: `PATH`, `DOCKER_HOST`, `VAULT_*`, `STOCKOPS_*`.
    public var processEnvironment: RunEnvironment
    public var runner: ProcessRunner
    /// How long one probe (a version command, a server's answer) may take.
    public var timeout: Duration
    public var http: HTTPClientConfiguration
    /// Where PostgreSQL's server binaries are looked for after `PATH`, newest last.
    public var postgresDirectories: [String]

    public init(
        root: String, processEnvironment: RunEnvironment, runner: ProcessRunner = ProcessRunner(grace: .milliseconds(500)),
        timeout: Duration = .seconds(10), http: HTTPClientConfiguration = Doctor.http, postgresDirectories: [String] = Doctor.installedPostgresDirectories()
    ) {
        self.root = root
        self.processEnvironment = processEnvironment
        self.runner = runner
        self.timeout = timeout
        self.http = http
        self.postgresDirectories = postgresDirectories
    }

    /// Short timeouts and no retries: a doctor reports, it does not wait.
    public static let http = HTTPClientConfiguration(connectTimeout: .seconds(3), totalTimeout: .seconds(5), retry: .none)

    /// Debian's `/usr/lib/postgresql/<major>/bin`, oldest first.
    public static func installedPostgresDirectories() -> [String] {
        let base = "/usr/lib/postgresql"
        // No /usr/lib/postgresql means no Debian PostgreSQL is installed.
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        return majors.map { "\(base)/\($0)/bin" }
    }

    /// Checks everything `config` needs to run for `environment`.
    public func check(config: PipelineConfig, environment: Environment) async -> DoctorReport {
        var probes: [@Sendable () async -> [DoctorCheck]] = Self.toolNeeds(
            config: config, environment: environment, pullRequest: PullRequestBoundary.event(processEnvironment) != nil
        ).map { need in
            { await self.probe(need) }
        }
        probes.append { await self.dockerEngine() }
        probes.append { await self.servers(config: config, environment: environment) }
        probes.append { [self.stateDirectory()] }
        let results = await withTaskGroup(of: (Int, [DoctorCheck]).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { (index, await probe()) }
            }
            var results = [[DoctorCheck]](repeating: [], count: probes.count)
            for await (index, checks) in group { results[index] = checks }
            return results
        }
        return DoctorReport(environment: environment.rawValue, checks: results.flatMap { $0 })
    }

    // MARK: Tools

    /// A tool the configured pipeline uses, and whether it cannot run without it.
    public struct ToolNeed: Sendable, Equatable {
        /// The name in ``ToolRequirements``: `git`, `docker compose`, `pg_ctl`.
        public var tool: String
        public var required: Bool
        /// What uses it, and what happens without it when it is optional.
        public var usage: String
    }

    /// The tools `config` uses for `environment`, in the order they are reported. A pull-request run neither
    /// signs nor deploys (``PullRequestBoundary``).
    public static func toolNeeds(config: PipelineConfig, environment: Environment, pullRequest: Bool = false) -> [ToolNeed] {
        let images = config.images
        var needs = [
            ToolNeed(tool: "git", required: true, usage: "paths-filter, image labels"),
            ToolNeed(tool: "swift", required: true, usage: "test[*], build[*]"),
            ToolNeed(tool: "docker", required: true, usage: "build[*], deploy"),
        ]
        if config.gitOps[environment] == nil && !pullRequest {
            needs.append(ToolNeed(tool: "docker compose", required: true, usage: "deploy to \(environment.rawValue)"))
        }
        needs += [
            ToolNeed(tool: "docker buildx", required: false, usage: "build[*] with the registry build cache (without it: docker build, docker push)"),
            ToolNeed(tool: "trivy", required: true, usage: "scan[*], sbom[*]" + (config.security.sca != nil ? ", sca" : "")),
        ]
        if !pullRequest, let cosign = cosignNeed(images) {
            needs.append(cosign)
        }
        if let sast = config.security.sast {
            needs.append(ToolNeed(tool: "semgrep", required: sast.blocking, usage: "sast" + (sast.blocking ? " (blocking)" : ", allowed to fail")))
        }
        if let scan = config.security.secretScan, scan.scanner != .trivy {
            let required = scan.scanner == .gitleaks
            needs.append(
                ToolNeed(tool: "gitleaks", required: required, usage: "secret-scan" + (required ? " (scanner: gitleaks)" : "; trivy scans without it")))
        }
        let sonarUsage =
            images.sonarHostURL == nil
            ? "sonar[*]; skipped: sonarqube.host-url is not set" : "sonar[*]" + (images.sonarRequired ? " (sonarqube.required: true)" : "; skipped without it")
        needs += [
            ToolNeed(tool: "sonar-scanner", required: images.sonarRequired, usage: sonarUsage),
            ToolNeed(tool: "pg_ctl", required: false, usage: "a local PostgreSQL for the services' database tests (scripts/test.sh)"),
            ToolNeed(tool: "act", required: false, usage: "running the exported GitHub Actions workflow locally"),
        ]
        return needs
    }

    /// cosign for `sign[*]`: required with `images.sign.required: true` when it is the signer (`tool: cosign`, or keyless
    /// signing, which only cosign does); optional with `tool: auto`, whose native signer signs without it; unused with
    /// `tool: native`.
    static func cosignNeed(_ images: ImagesConfig) -> ToolNeed? {
        let keyless = images.keylessIdentity != nil
        switch images.signTool {
        case .native:
            return nil
        case .auto where !keyless:
            return ToolNeed(tool: "cosign", required: false, usage: "sign[*]; without it the native signer signs (images.sign.tool: auto)")
        case .auto, .cosign:
            let why = keyless ? "keyless signing" : "images.sign.tool: cosign"
            return ToolNeed(
                tool: "cosign", required: images.signRequired,
                usage: "sign[*], \(why)" + (images.signRequired ? ", images.sign.required: true" : "; skipped without it"))
        }
    }

    /// The variables a probed tool gets: `PATH` and locale, Docker's and the scanners' settings.
    var toolEnvironment: [String: String] {
        var environment = processEnvironment.passing(
            [
                "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TERM", "JAVA_HOME", "SONAR_SCANNER_OPTS", "DOCKER_HOST", "DOCKER_TLS_VERIFY",
                "DOCKER_CERT_PATH", "DOCKER_CONFIG", "DOCKER_CONTEXT",
            ])
        environment["SEMGREP_ENABLE_VERSION_CHECK"] = "0"
        return environment
    }

    /// How a probed command ended.
    enum Outcome {
        case exited(ProcessResult)
        case notFound
        case timedOut
        case failed(String)
    }

    func run(_ argv: [String], environment: [String: String]? = nil) async -> Outcome {
        let command = Command(argv[0], Array(argv.dropFirst()), environment: environment ?? toolEnvironment)
        let runner = runner
        do {
            return .exited(try await Scheduler.withTimeout(timeout) { try await runner.run(command) })
        } catch let error as ProcessError where error.code == .toolMissing {
            return .notFound
        } catch is Scheduler.TimeoutReached {
            return .timedOut
        } catch {
            return .failed("\(error)")
        }
    }

    /// The path `PATH` resolves `executable` to.
    func locate(_ executable: String) -> String? {
        // Nil means PATH does not find it, which the callers report.
        try? runner.resolve(Command(executable, [], environment: toolEnvironment))
    }

    func probe(_ need: ToolNeed) async -> [DoctorCheck] {
        switch need.tool {
        case "docker compose": return [await compose(need)]
        case "docker buildx": return await buildx(need)
        case "pg_ctl": return [await postgres(need)]
        default:
            guard let requirement = ToolRequirements.requirement(for: need.tool) else {
                return [
                    DoctorCheck(
                        name: need.tool, kind: .tool, required: need.required, status: .warning, detail: "stockops knows no version command for \(need.tool)")
                ]
            }
            return [await version(need, requirement)]
        }
    }

    /// What a version command showed.
    enum Measurement {
        case notFound
        /// Found at `path`, but the command failed.
        case broken(path: String, detail: String)
        case printed(path: String, output: String)
    }

    func measure(_ argv: [String], environment: [String: String]? = nil) async -> Measurement {
        guard let path = locate(argv[0]) else { return .notFound }
        let display = argv.joined(separator: " ")
        switch await run(argv, environment: environment) {
        case .notFound:
            return .notFound
        case .timedOut:
            return .broken(path: path, detail: "`\(display)` did not answer within \(timeout)")
        case .failed(let message):
            return .broken(path: path, detail: "`\(display)` could not run: \(message)")
        case .exited(let result) where !result.succeeded:
            let last = Git.parseLines(result.output).last ?? ""
            return .broken(
                path: path, detail: "`\(display)` \(result.exitStatus.map { "exited with \($0)" } ?? "was killed")" + (last.isEmpty ? "" : ": \(last)"))
        case .exited(let result):
            return .printed(path: path, output: result.output)
        }
    }

    /// The check of a measured tool against its requirement.
    func judge(_ measurement: Measurement, need: ToolNeed, requirement: ToolRequirement, name: String? = nil, fix: String? = nil) -> DoctorCheck {
        let name = name ?? need.tool
        let minimum = requirement.minimum?.description
        let install = fix ?? requirement.install
        switch measurement {
        case .notFound:
            return .problem(
                .missing, name: name, kind: .tool, required: need.required, minimum: minimum, detail: "not found in PATH; for \(need.usage)", fix: install)
        case .broken(let path, let detail):
            return .problem(.missing, name: name, kind: .tool, required: need.required, found: path, minimum: minimum, detail: detail, fix: install)
        case .printed(let path, let output):
            switch requirement.check(versionOutput: output) {
            case .satisfied(let found):
                return DoctorCheck(
                    name: name, kind: .tool, required: need.required, status: .ok, found: path, version: found?.description, minimum: minimum,
                    detail: need.usage)
            case .tooOld(let found, let oldest):
                return .problem(
                    .tooOld, name: name, kind: .tool, required: need.required, found: path, version: found.description, minimum: oldest.description,
                    detail: "\(found) is older than \(oldest) (\(requirement.why)); for \(need.usage)", fix: "upgrade: \(install)")
            case .unknownVersion:
                return DoctorCheck(
                    name: name, kind: .tool, required: need.required, status: .warning, found: path, minimum: minimum,
                    detail:
                        "`\(requirement.versionArguments.joined(separator: " "))` printed no version to compare with \(minimum ?? "the minimum"); for \(need.usage)",
                    fix: install)
            }
        }
    }

    /// Runs the requirement's version command and judges what it prints.
    func version(_ need: ToolNeed, _ requirement: ToolRequirement, name: String? = nil, argv: [String]? = nil, environment: [String: String]? = nil) async
        -> DoctorCheck
    {
        judge(await measure(argv ?? requirement.versionArguments, environment: environment), need: need, requirement: requirement, name: name)
    }

    /// Compose v2, as the deploy finds it: `STOCKOPS_COMPOSE` when set, else the plugin, else the standalone binary.
    func compose(_ need: ToolNeed) async -> DoctorCheck {
        guard let plugin = ToolRequirements.requirement(for: "docker compose"), let standalone = ToolRequirements.requirement(for: "docker-compose") else {
            return DoctorCheck(name: need.tool, kind: .tool, required: need.required, status: .warning, detail: "stockops knows no version command for Compose")
        }
        let forced = processEnvironment.composeFlavor.flatMap(ComposeCommand.Flavor.init(rawValue:))
        if forced != .standalone {
            let viaPlugin = await measure(plugin.versionArguments)
            if case .printed = viaPlugin { return judge(viaPlugin, need: need, requirement: plugin) }
            if forced == .plugin { return judge(viaPlugin, need: need, requirement: plugin) }
        }
        let viaStandalone = await measure(standalone.versionArguments)
        if case .printed = viaStandalone {
            var check = judge(viaStandalone, need: need, requirement: standalone, name: need.tool)
            check.detail = "standalone docker-compose; " + check.detail
            return check
        }
        if forced == .standalone { return judge(viaStandalone, need: need, requirement: standalone, name: need.tool) }
        var check = judge(.notFound, need: need, requirement: plugin, fix: "\(plugin.install); or the standalone binary: \(standalone.install)")
        check.detail = "neither `docker compose` nor `docker-compose` works; for \(need.usage)"
        return check
    }

    /// The buildx plugin and its builder, as `build[*]` runs them: with a fresh `DOCKER_CONFIG`, so the plugin is
    /// looked up in the system's plugin directories and the builder is the engine's default.
    func buildx(_ need: ToolNeed) async -> [DoctorCheck] {
        guard let requirement = ToolRequirements.requirement(for: need.tool) else { return [] }
        let configDirectory = NSTemporaryDirectory() + "stockops-doctor-" + UUID().uuidString
        // Docker reads a missing config directory as an empty configuration, and a leftover one is an empty temporary directory.
        try? FileManager.default.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: configDirectory) }
        var environment = toolEnvironment
        environment["DOCKER_CONFIG"] = configDirectory
        environment["DOCKER_CONTEXT"] = nil
        let measured = await measure(requirement.versionArguments, environment: environment)
        if case .broken = measured {
            return [
                .problem(
                    .missing, name: need.tool, kind: .tool, required: need.required, detail: "the plugin is not installed; for \(need.usage)",
                    fix: requirement.install)
            ]
        }
        let plugin = judge(measured, need: need, requirement: requirement)
        guard plugin.status == .ok else { return [plugin] }

        let name = "docker buildx builder"
        // Output that does not parse counts as a failed inspect: a warning that points to the docker engine check.
        guard case .exited(let inspect) = await run(DockerCommand(configDirectory: configDirectory).buildxInspect(), environment: environment),
            inspect.succeeded,
            let builder = try? BuildxBuilder.parse(inspectOutput: inspect.output)
        else {
            return [
                plugin,
                DoctorCheck(name: name, kind: .tool, required: false, status: .warning, detail: "`docker buildx inspect` failed; see the docker engine check"),
            ]
        }
        guard builder.exportsRegistryCache else {
            return [
                plugin,
                DoctorCheck(
                    name: name, kind: .tool, required: false, status: .warning, found: builder.driver,
                    detail:
                        "\(builder.name): the docker driver without the containerd image store cannot export cache to a registry, so build[*] only reads it",
                    fix:
                        "enable the engine's containerd image store (\"features\": {\"containerd-snapshotter\": true} in daemon.json); build[*] runs with its own DOCKER_CONFIG, so it does not see builders made by `docker buildx create`"
                ),
            ]
        }
        return [
            plugin,
            DoctorCheck(
                name: name, kind: .tool, required: false, status: .ok, found: builder.driver,
                detail: "\(builder.name), driver \(builder.driver): build[*] exports its cache to the registry"),
        ]
    }

    /// PostgreSQL's server binaries: `pg_ctl` on `PATH`, else in Debian's versioned directories, with `initdb` beside it.
    func postgres(_ need: ToolNeed) async -> DoctorCheck {
        guard let requirement = ToolRequirements.requirement(for: need.tool) else {
            return DoctorCheck(
                name: "postgresql", kind: .tool, required: need.required, status: .warning, detail: "stockops knows no version command for pg_ctl")
        }
        let pgCtl = locate("pg_ctl") ?? postgresDirectories.reversed().map { $0 + "/pg_ctl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let pgCtl else {
            return .problem(
                .missing, name: "postgresql", kind: .tool, required: need.required,
                detail: "pg_ctl not found in PATH or /usr/lib/postgresql/*/bin; for \(need.usage)", fix: requirement.install)
        }
        var check = await version(need, requirement, name: "postgresql", argv: [pgCtl] + requirement.versionArguments.dropFirst())
        let initdb = (pgCtl as NSString).deletingLastPathComponent + "/initdb"
        if check.status == .ok, !FileManager.default.isExecutableFile(atPath: initdb) {
            check = .problem(
                .missing, name: "postgresql", kind: .tool, required: need.required, found: pgCtl, version: check.version, detail: "no initdb beside \(pgCtl)",
                fix: requirement.install)
        }
        return check
    }
}
