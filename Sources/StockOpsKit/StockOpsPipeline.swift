import Foundation

/// The stockops pipeline: which stages exist and how they connect, the whole graph in this file.
///
/// `graph(config:options:)` adds the build nodes and calls `addSecurityStages` and `addDeployStages` below for the
/// rest; every edge comes from a typed ``StageRef`` or a node id made here. docs/stockops.md, "Extending the
/// pipeline", shows how a stage is written and added.
public enum StockOpsPipeline {
    /// What shapes the graph of one run.
    public struct Options: Sendable {
        public var environment: Environment
        /// `--since REF`.
        public var since: String?
        /// `$GITHUB_EVENT_PATH`.
        public var eventPath: String?
        /// `--all`: every service, whatever changed.
        public var selectAll: Bool
        /// `$GITHUB_BASE_REF`: the target branch of a pull request.
        public var pullRequestBase: String?
        /// The run deploys an environment whose ledger has no good version yet: every service is selected.
        public var firstDeploy = false
        /// Variables passed through to the services' tests.
        public var testEnvironment: [String]
        /// The process environment: `VAULT_*` for fetch-secrets, `STOCKOPS_WEBHOOK_URL` and `GITHUB_*` for notify.
        public var processEnvironment: RunEnvironment = [:]
        /// The repository root, against which relative directories of the process environment resolve.
        public var root = "."
        /// Approval, `--force-unverified`, smoke-test and lock timeouts of the deploy stages.
        public var deploy = DeploySettings()

        public init(
            environment: Environment, since: String? = nil, eventPath: String? = nil, selectAll: Bool = false, pullRequestBase: String? = nil,
            testEnvironment: [String] = ["STOCKOPS_TEST_DATABASE_URL"]
        ) {
            self.environment = environment
            self.since = since
            self.eventPath = eventPath
            self.selectAll = selectAll
            self.pullRequestBase = pullRequestBase
            self.testEnvironment = testEnvironment
        }
    }

    /// The id of the node selecting changed services.
    public static let pathsFilter = StageRef<ChangeSet>("paths-filter")
    /// The id of the node reading the secrets declared under `vault:`.
    public static let fetchSecrets = StageRef<FetchedSecrets>("fetch-secrets")

    /// Assembles and validates the graph.
    public static func graph(config: PipelineConfig, options: Options) throws(GraphError) -> PipelineGraph {
        var graph = GraphBuilder()

        let fetch = FetchSecretsStage(secrets: config.vault, settings: VaultSettings(environment: options.processEnvironment))
        let secrets = graph.add(
            fetchSecrets.id, fetch,
            policy: NodePolicy(.gate, timeout: .seconds(120), skipPropagates: false),
            summary: "AppRole login, read \(config.vault.map(\.path).joined(separator: ", "))",
            when: { _ in fetch.skipReason }
        )

        let changes = graph.add(
            pathsFilter.id,
            PathsFilterStage(
                services: config.services, sharedPaths: config.sharedPaths, defaultBranch: config.defaultBranch, since: options.since,
                eventPath: options.eventPath, selectAll: options.selectAll, pullRequestBase: options.pullRequestBase,
                firstDeployOf: options.firstDeploy ? options.environment.rawValue : nil),
            policy: NodePolicy(.gate, timeout: .seconds(120), runsInPlan: true),
            summary: "select the services changed since the base"
        )

        let minimumCoverage = config.gates.minimumCoverage(for: options.environment)
        let testScratch = runnerScratch(options).map { $0 + "/tests" }
        for service in config.services {
            graph.add(
                NodeID("test", key: service.name),
                TestStage(service: service, minimumCoverage: minimumCoverage, passEnvironment: options.testEnvironment, scratchPath: testScratch),
                policy: NodePolicy(.gate, timeout: .seconds(3600), resources: ["swiftpm-build"]),
                after: [changes.id],
                summary: "swift test --filter \(service.testTarget), coverage ≥ \(minimumCoverage)%",
                when: serviceChanged(service.name, changes),
                cacheInputs: testSources(
                    service, sharedPaths: config.sharedPaths, plus: [describe(service), "coverage ≥ \(minimumCoverage)"] + options.testEnvironment)
            )
        }

        let imageChecks = addImageStages(&graph, config: config, options: options, secrets: secrets, changes: changes)
        let deployments = addDeployStages(to: &graph, config: config, options: options, secrets: secrets, after: imageChecks)

        addSecurityStages(&graph, config: config, options: options, secrets: secrets, deployments: deployments)

        graph.add(
            "revoke-vault-token", RevokeVaultTokenStage(fetched: secrets),
            policy: NodePolicy(.finally, timeout: .seconds(60), retries: 2),
            after: graph.ids, summary: "revoke the Vault token of fetch-secrets",
            when: RevokeVaultTokenStage.skipReason(secrets)
        )
        graph.add(
            "notify",
            NotifyStage(config: config.notify, fetched: secrets, environment: options.environment.rawValue, processEnvironment: options.processEnvironment),
            policy: NodePolicy(.finally, timeout: .seconds(60)),
            after: graph.ids,
            summary: "post a run summary to the webhook on " + config.notify.on.map(\.rawValue).sorted().joined(separator: ", ")
        )

        return try graph.build()
    }

    /// The SwiftPM directory of this run's test and build nodes outside the workspace, on a runner.
    static func runnerScratch(_ options: Options) -> String? {
        StateDirectory.swiftPM(root: options.root, environment: options.processEnvironment, deploying: options.environment)
    }

    /// sonar → build → scan, sbom, sign, attest for every service, and the `docker-logout` finally node; returns the
    /// build, scan, sbom, sign and attest nodes.
    static func addImageStages(
        _ graph: inout GraphBuilder, config: PipelineConfig, options: Options, secrets: StageRef<FetchedSecrets>, changes: StageRef<ChangeSet>
    ) -> [NodeID] {
        var registry = config.registry
        if let host = options.processEnvironment.registryHost { registry.host = host }
        var configured = config.images
        if let scanners = options.processEnvironment.trivyScanners { configured.scanners = scanners }
        if let runner = runnerScratch(options), !(configured.scratchPath?.hasPrefix("/") ?? false) {
            configured.scratchPath = runner + "/images"
        }
        let images = configured
        let settings = ImageSettings(
            registry: registry, images: images, secrets: secrets, trivyCacheDirectory: options.processEnvironment.trivyCacheDirectory,
            processEnvironment: options.processEnvironment)
        let failOn = config.gates.failingSeverities
        var imageNodes: [NodeID] = []
        for service in config.services {
            let test = NodeID("test", key: service.name)
            let changed = serviceChanged(service.name, changes)
            let sonar = graph.add(
                NodeID("sonar", key: service.name),
                SonarStage(
                    service: service, hostURL: images.sonarHostURL ?? "", secrets: secrets,
                    subject: SonarStage.subject(branchSupport: images.sonarBranches, environment: options.processEnvironment)),
                policy: NodePolicy(.gate, timeout: .seconds(900), skipPropagates: false),
                after: [test, changes.id],
                summary: "sonar-scanner with \(service.paths.first ?? "")sonar-project.properties, wait for the quality gate",
                when: { outputs in
                    if let reason = try changed(outputs) { return reason }
                    if images.sonarHostURL == nil { return images.sonarRequired ? nil : "sonarqube.host-url is not set in \(config.file)" }
                    return ToolAvailability.skipReason(tool: "sonar-scanner", required: images.sonarRequired, hint: SonarStage.installHint)
                }
            )
            let build = graph.add(
                NodeID("build", key: service.name),
                BuildImageStage(service: service, settings: settings),
                // An unchanged service's build is skipped without skipping promote, which keeps its live image.
                policy: NodePolicy(.gate, timeout: .seconds(3600), retries: 2, resources: ["swiftpm-build"], skipPropagates: false),
                after: [test, sonar.id, changes.id],
                summary:
                    "swift build -c \(images.buildConfiguration) --static-swift-stdlib -Xlinker -s, docker build, push \(registry.host)/\(registry.repository(service.name)):git-<sha7>",
                when: changed
            )
            let image = StageRef<BuiltImage>(build.id)
            let built = imageBuilt(image)
            imageNodes.append(build.id)
            imageNodes.append(
                graph.add(
                    NodeID("scan", key: service.name), ScanImageStage(image: image, settings: settings, failOn: failOn),
                    policy: NodePolicy(
                        .gate, timeout: .seconds(1800), retries: 2, retryDelay: .seconds(5), resources: [ImageSettings.trivyResource], skipPropagates: false),
                    summary: "trivy image by digest (\(images.scanners.joined(separator: ","))), fail on \(failOn.map(\.rawValue).joined(separator: ","))",
                    when: built
                ).id)
            let sbom = graph.add(
                NodeID("sbom", key: service.name), SBOMStage(image: image, settings: settings),
                policy: NodePolicy(
                    .gate, timeout: .seconds(900), retries: 2, retryDelay: .seconds(5), resources: [ImageSettings.trivyResource], skipPropagates: false),
                summary: "CycloneDX and SPDX SBOMs of the image",
                when: built
            )
            imageNodes.append(sbom.id)
            imageNodes.append(
                graph.add(
                    NodeID("sign", key: service.name), SignImageStage(image: image, settings: settings),
                    policy: NodePolicy(.gate, timeout: .seconds(600), retries: 2, skipPropagates: false),
                    summary: "sign by digest and verify (images.sign.tool: \(images.signTool.rawValue); cosign or native)",
                    when: { outputs in
                        if let reason = try built(outputs) { return reason }
                        return SignImageStage.skipReason(images: images, secrets: secrets, outputs: outputs)
                    }
                ).id)
            imageNodes.append(
                graph.add(
                    NodeID("attest", key: service.name),
                    AttestImageStage(
                        image: image, sbom: StageRef(sbom.id), settings: settings, processEnvironment: options.processEnvironment, package: service.package),
                    policy: NodePolicy(.gate, timeout: .seconds(600), retries: 2, skipPropagates: false),
                    summary: "SLSA provenance and the CycloneDX SBOM as signed attestations (cosign attest's layout)",
                    when: { outputs in
                        if let reason = try built(outputs) { return reason }
                        return AttestImageStage.skipReason(images: images, secrets: secrets, outputs: outputs)
                    }
                ).id)
        }
        graph.add(
            "docker-logout", DockerLogoutStage(settings: settings),
            policy: NodePolicy(.finally, timeout: .seconds(60)),
            after: imageNodes, summary: "docker logout; delete the run's Docker client configuration"
        )
        return imageNodes
    }

    /// Skips a node of an image whose build was skipped (the service did not change).
    static func imageBuilt(_ image: StageRef<BuiltImage>) -> @Sendable (Outputs) throws -> String? {
        { outputs in
            outputs.settled[image.id]?.result.status == .skipped ? "\(image.id) was skipped" : nil
        }
    }

    /// Skips a service's node when paths-filter did not select the service.
    public static func serviceChanged(_ service: String, _ changes: StageRef<ChangeSet>) -> @Sendable (Outputs) throws -> String? {
        { outputs in
            try outputs.value(changes).contains(service) ? nil : "unchanged: no change under the paths of \(service) or the shared paths"
        }
    }

    /// What of a service's configuration its test result depends on, for cache keys.
    static func describe(_ service: ServiceConfig) -> String {
        "service \(service.name) paths \(service.paths.joined(separator: ",")) package \(service.package) product \(service.product) tests \(service.testTarget)"
    }

    /// A test node's cache inputs: the content of every directory its product and test target are built from (the
    /// package's own dependency closure, ``PackageGraph``), the service package's manifest, the shared paths, the
    /// package's `Package.resolved` and SwiftPM's version. `Package.resolved` counts as git sees it, like the sources:
    /// its content when committed (or untracked and not ignored), nothing when ignored. An ignored one is written by
    /// the first SwiftPM of a fresh clone, during or after the first test node's key, so reading it would give that
    /// node another key in every later run and every other environment's job.
    static func testSources(_ service: ServiceConfig, sharedPaths: [String], plus values: [String]) -> @Sendable (CacheKeyContext) async throws -> [String] {
        { context in
            let graph = try await PackageGraph.load(root: context.root, package: service.package, runner: context.runner)
            return try await sources(
                graph.widened(service).paths + [service.manifest, service.resolvedFile] + sharedPaths, plus: values,
                toolVersion: SwiftPM(packageDirectory: ".").version())(
                    context)
        }
    }

    /// Cache inputs: the content fingerprint of `paths`, fixed values, and a tool's version output.
    public static func sources(_ paths: [String], plus values: [String], toolVersion: Command?) -> @Sendable (CacheKeyContext) async throws -> [String] {
        { context in
            var parts = [try await Git(repository: context.root).fingerprint(paths, runner: context.runner)] + values
            if let toolVersion {
                parts.append(try await ToolVersions.output(of: toolVersion, runner: context.runner, cacheDirectory: context.cacheDirectory))
            }
            return parts
        }
    }
}

/// The security nodes (`security:`) and the deployments of `kind: gitops` environments.
extension StockOpsPipeline {
    /// The node scanning the work tree for secrets.
    public static let secretScan = StageRef<SecretScanResult>("secret-scan")
    /// The node running semgrep.
    public static let sast = StageRef<SASTResult>("sast")
    /// The node scanning `Package.resolved` for vulnerable dependencies.
    public static let sca = StageRef<SCAResult>("sca")
    /// The finally node importing the run's reports into DefectDojo.
    public static let defectDojo = StageRef<DefectDojoResult>("defectdojo")

    /// The ZAP baseline scan of an environment.
    public static func dast(_ environment: Environment) -> StageRef<DASTResult> {
        StageRef(NodeID("dast", key: environment.rawValue))
    }

    /// The GitOps deployment of a service.
    public static func gitOpsDeploy(_ service: String) -> StageRef<GitOpsDeployment> {
        StageRef(NodeID("gitops-deploy", key: service))
    }

    /// Nodes that do not wait for `secret-scan`: they read no source (`fetch-secrets`, `paths-filter`).
    static let beforeSecretScan: Set<NodeID> = [fetchSecrets.id, pathsFilter.id]

    /// Adds the nodes `security:` switches on and, for a `kind: gitops` environment, `gitops-deploy[<service>]`
    /// after each `build[<service>]` in the graph. `secret-scan` becomes a dependency of every node added
    /// before it except `fetch-secrets` and `paths-filter`, so no test or build starts before it passed; `dast` runs
    /// after `deployments` (the nodes ``addDeployStages(to:config:options:secrets:after:)`` added) and the
    /// `gitops-deploy` nodes.
    static func addSecurityStages(
        _ graph: inout GraphBuilder, config: PipelineConfig, options: Options, secrets: StageRef<FetchedSecrets>, deployments: [NodeID] = []
    ) {
        let security = config.security
        let environment = options.environment

        if let scanConfig = security.secretScan {
            let stage = SecretScanStage(config: scanConfig)
            graph.add(
                secretScan.id, stage,
                policy: NodePolicy(.gate, timeout: .seconds(900)),
                summary: "secret scan of the work tree (\(scanConfig.scanner == .auto ? "gitleaks, else trivy" : scanConfig.scanner.rawValue))"
                    + (scanConfig.allowlist.map { ", allowlist \($0)" } ?? ""),
                cacheInputs: { context in
                    let scanner = try stage.scanner(runner: context.runner)
                    let version = scanner == .gitleaks ? GitleaksCommand().version() : TrivyFilesystemCommand(cacheDirectory: "").version()
                    return try await sources(["."], plus: ["scanner \(scanner.rawValue)", "allowlist \(scanConfig.allowlist ?? "-")"], toolVersion: version)(
                        context)
                }
            )
            graph.addDependency(secretScan.id) { !beforeSecretScan.contains($0.id) && $0.policy.kind != .finally }
        }

        if let sastConfig = security.sast {
            graph.add(
                sast.id, SASTStage(config: sastConfig),
                policy: NodePolicy(sastConfig.blocking ? .gate : .allowFailure, timeout: .seconds(900)),
                summary: "semgrep --config \(sastConfig.rules) on \(sastConfig.paths.joined(separator: " "))"
                    + (sastConfig.blocking ? "" : " (allowed to fail)"),
                cacheInputs: sources(sastConfig.paths + [sastConfig.rules], plus: ["blocking \(sastConfig.blocking)"], toolVersion: SemgrepCommand().version())
            )
        }

        if let scaConfig = security.sca {
            let failOn = scaConfig.failOn ?? config.gates.failingSeverities
            graph.add(
                sca.id, SCAStage(config: scaConfig, failOn: failOn, packages: Array(Set(["."] + config.services.map(\.package))).sorted()),
                policy: NodePolicy(scaConfig.blocking ? .gate : .allowFailure, timeout: .seconds(900), resources: [ImageSettings.trivyResource]),
                summary: "trivy fs --scanners vuln of every Package.resolved, failing on \(failOn.map(\.rawValue).joined(separator: "/"))"
                    + (scaConfig.blocking ? "" : " (allowed to fail)")
            )
        }

        var deployed = deployments
        if let target = config.gitOps[environment] {
            let needsSecrets = GitOpsDeployStage.needsSecrets(target)
            for service in config.services where graph.ids.contains(build(service.name).id) {
                let timeout = (target.argoCD?.timeout ?? 0) + 600
                deployed.append(gitOpsDeploy(service.name).id)
                graph.add(
                    gitOpsDeploy(service.name).id,
                    GitOpsDeployStage(
                        service: service, environment: environment, target: target, built: build(service.name), secrets: needsSecrets ? secrets : nil),
                    policy: NodePolicy(.gate, timeout: .seconds(timeout), retries: 2, resources: ["gitops-\(environment.rawValue)"]),
                    summary: "pin \(service.name) by \(target.pin.rawValue) in \(target.kustomizationPath) of \(target.repository) (\(target.branch)), push"
                        + (target.argoCD.map { ", wait for Argo CD \($0.application)" } ?? "")
                )
            }
        }

        if let dastConfig = security.dast, dastConfig.environments.contains(environment) {
            let stage = DASTStage(environment: environment, config: dastConfig, services: config.services, processEnvironment: options.processEnvironment)
            graph.add(
                dast(environment).id, stage,
                policy: NodePolicy(.allowFailure, timeout: .seconds(600 + 300 * config.services.count * dastConfig.minutes)),
                after: deployed,
                summary: "ZAP baseline of \(environment.rawValue): " + stage.targets.map(\.url).joined(separator: ", ") + " (allowed to fail)"
            )
        }

        if let dojo = security.defectDojo {
            graph.add(
                defectDojo.id,
                DefectDojoStage(config: dojo, services: config.services.map(\.name), fetched: secrets, processEnvironment: options.processEnvironment),
                policy: NodePolicy(.finally, timeout: .seconds(900)),
                after: graph.ids,
                summary: "import the run's reports into DefectDojo \(dojo.url) (product \(dojo.product))",
                when: DefectDojoStage.skipReason(secrets)
            )
        }
    }
}

extension StockOpsPipeline {
    /// The node re-tagging the built images for the environment.
    public static let promote = StageRef<Promotion>("promote")
    /// The node running the promoted images in the environment.
    public static let deploy = StageRef<Deployment>("deploy")

    /// Adds `promote` (after every `build[<service>]` and `imageChecks`, the scan, sbom, sign and attest nodes of the
    /// images) and `deploy` (manual where the environment requires approval), for a Compose environment, and returns
    /// both; a `kind: gitops` one is deployed by its `gitops-deploy` nodes instead (nothing is added).
    @discardableResult
    public static func addDeployStages(
        to graph: inout GraphBuilder, config original: PipelineConfig, options: Options, secrets: StageRef<FetchedSecrets>? = nil,
        after imageChecks: [NodeID] = []
    ) -> [NodeID] {
        let environment = options.environment
        guard original.gitOps[environment] == nil else { return [] }
        let config = RegistryAccess.effective(original, environment: options.processEnvironment)
        let approval = config.environments[environment]?.approval ?? false
        let builds = config.services.map { build($0.name) }
        let promotion = graph.add(
            promote.id,
            PromoteStage(
                config: config, environment: environment, builds: builds, secrets: secrets, settings: options.deploy,
                processEnvironment: options.processEnvironment),
            policy: NodePolicy(.gate, timeout: .seconds(900), retries: 2),
            after: imageChecks,
            summary: "tag the images \(config.environments[environment]?.tag ?? "?") in \(config.registry.host)/\(config.registry.project)"
                + (environment == .prod ? " (only digests that passed stage)" : ""),
            when: PromoteStage.skipReason(builds)
        )
        graph.add(
            deploy.id,
            DeployStage(
                config: config, environment: environment, promotion: promotion, secrets: secrets, settings: options.deploy,
                processEnvironment: options.processEnvironment),
            policy: NodePolicy(approval ? .manual : .gate, timeout: .seconds(1800)),
            summary: "compose pull + up stocks-\(environment.rawValue), smoke test, ledger; roll back when the smoke test fails"
        )
        return [promotion.id, deploy.id]
    }
}

extension StockOpsPipeline {
    /// `promote` and `deploy` alone, after `build[<service>]` nodes whose outputs are given as external outputs: a
    /// release of images built elsewhere (`stockops bench-deploy`). A service without an output counts as unchanged.
    public static func releaseGraph(config: PipelineConfig, options: Options) throws(GraphError) -> PipelineGraph {
        var graph = GraphBuilder()
        for service in config.services {
            graph.add(
                build(service.name).id, ProvidedBuild(service: service.name), policy: NodePolicy(.gate, skipPropagates: false),
                summary: "the image of \(service.name), built elsewhere", when: { _ in "not built in this run" })
        }
        addDeployStages(to: &graph, config: config, options: options)
        return try graph.build()
    }
}

/// Stands for `build[<service>]` in a ``StockOpsPipeline/releaseGraph(config:options:)``: its output is given, or it
/// is skipped.
struct ProvidedBuild: Stage {
    var service: String

    func run(_ context: StageContext) async throws -> BuiltImage {
        throw StageFailure.failed("build[\(service)] does not run here: give its output (a BuiltImage) as an external output")
    }
}
