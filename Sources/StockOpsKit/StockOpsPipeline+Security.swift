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
