import Foundation
import Yams

/// One deployable service of the repository.
public struct ServiceConfig: Sendable, Equatable, Codable {
    /// The service's name, used as matrix key: `test[trade]`.
    public var name: String
    /// Repository paths belonging to the service (`services/trade/`); a trailing `/` denotes a directory.
    public var paths: [String]
    /// The directory of the SwiftPM package holding `product` and `testTarget`, relative to the repository root:
    /// `services`, or `.` for the root package.
    public var package: String = "."
    /// The SwiftPM executable product.
    public var product: String
    /// The SwiftPM test target run by `test[<name>]`.
    public var testTarget: String
    /// The HTTP path answering health checks.
    public var healthPath: String
    /// Published port per environment.
    public var ports: [Environment: Int]
    /// API requests of the smoke test after a deploy, once `healthPath` answers 200.
    public var smoke: [SmokeCheck] = []
    /// The port the service's container listens on (its `PORT`), which the environment's proxy forwards to.
    public var containerPort: Int = 8080

    /// The directory of the service's SwiftPM package in the repository at `root`.
    public func packageDirectory(root: String) -> String { Self.directory(of: package, root: root) }

    /// The package's `Package.swift`, relative to the repository root.
    public var manifest: String { Self.file("Package.swift", of: package) }

    /// The package's `Package.resolved`, relative to the repository root.
    public var resolvedFile: String { Self.file("Package.resolved", of: package) }

    /// The file `name` of the package `package` (relative, `.` for the root package), relative to the repository root.
    public static func file(_ name: String, of package: String) -> String { package == "." ? name : package + "/" + name }

    /// The directory of the package `package` (relative, `.` for the root package) in the repository at `root`.
    public static func directory(of package: String, root: String) -> String { package == "." ? root : root + "/" + package }
}

/// The container registry images are pushed to.
public struct RegistryConfig: Sendable, Equatable, Codable {
    public var host: String
    public var project: String

    public init(host: String, project: String) {
        self.host = host
        self.project = project
    }

    /// The `/v2/` API base: plain HTTP for a loopback registry (as Docker treats 127.0.0.0/8), HTTPS otherwise.
    public var baseURL: String {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        let loopback = name == "localhost" || name.hasPrefix("127.") || host.hasPrefix("[::1]")
        return (loopback ? "http://" : "https://") + host
    }

    /// The repository of a service's images, `project/service`.
    public func repository(_ service: String) -> String { project + "/" + service }
}

/// A Vault secret path and the keys read from it.
public struct VaultSecret: Sendable, Equatable, Codable {
    /// The API path of a KV v2 secret: `secret/data/ci/pipeline`.
    public var path: String
    public var keys: [String]
    /// Whether a run without `VAULT_ADDR` fails instead of skipping `fetch-secrets`.
    public var required: Bool = false
}

/// When and where the `notify` node posts a run summary.
public struct NotifyConfig: Sendable, Equatable, Codable {
    /// Run outcomes that are notified.
    public enum Event: String, Sendable, Codable, CaseIterable {
        /// A failed or interrupted run.
        case failure
        case success
    }

    public var on: Set<Event> = [.failure]
    /// The fetched secret holding the webhook URL.
    public var webhookKey: String = "SLACK_WEBHOOK_URL"
}

/// Severity of a found vulnerability.
public enum Severity: String, Sendable, Codable, CaseIterable {
    case unknown = "UNKNOWN"
    case low = "LOW"
    case medium = "MEDIUM"
    case high = "HIGH"
    case critical = "CRITICAL"
}

/// Thresholds of the quality and security gates.
public struct GateThresholds: Sendable, Equatable, Codable {
    /// Minimum line coverage in percent of a service's sources.
    public var minimumCoverage: Double
    /// Severities that fail the image scan.
    public var failingSeverities: [Severity]
    /// Per-environment minimum coverage (`gates.coverage.environments`).
    public var coverageByEnvironment: [Environment: Double] = [:]

    /// The minimum coverage in `environment`: its override, else 70 on stage, else `minimumCoverage`.
    public func minimumCoverage(for environment: Environment) -> Double {
        coverageByEnvironment[environment] ?? (environment == .stage ? Self.stageCoverageDefault : minimumCoverage)
    }

    /// The stage minimum when `gates.coverage.environments.stage` is not set.
    public static let stageCoverageDefault = 70.0
}

/// The typed, validated content of `pipelines/stockops.yml`.
public struct PipelineConfig: Sendable, Equatable {
    /// The file it was read from, as given.
    public var file: String
    public var services: [ServiceConfig]
    /// Paths whose change affects every service.
    public var sharedPaths: [String]
    /// The branch paths-filter compares with when there is no better base.
    public var defaultBranch: String
    public var databasePorts: [Environment: Int]
    public var environments: [Environment: EnvironmentConfig]
    public var registry: RegistryConfig
    public var vault: [VaultSecret]
    public var notify = NotifyConfig()
    public var gates: GateThresholds
    public var images = ImagesConfig()
    /// The security nodes switched on (`security:`).
    public var security = SecurityConfig()
    /// The environments of `kind: gitops` and where they deploy.
    public var gitOps: [Environment: GitOpsTarget] = [:]
    /// `runs-on` labels of the pull-request job (`pull-requests.runner`): a runner that reaches no environment.
    public var pullRequestRunner = RunnerLabels.pullRequests

    public func service(named name: String) -> ServiceConfig? {
        services.first { $0.name == name }
    }

    /// The default location, relative to the repository root.
    public static let defaultPath = "pipelines/stockops.yml"

    /// Reads and validates `configPath` (relative to `root` unless absolute); errors name it as given.
    public static func load(root: String, configPath: String) throws(ConfigError) -> PipelineConfig {
        try load(path: configPath.hasPrefix("/") ? configPath : root + "/" + configPath, displayPath: configPath)
    }

    /// ``load(root:configPath:)`` for a command: an unreadable or invalid file is its configuration error (exit 2).
    public static func loadForCommand(root: String, configPath: String) throws(StockOpsError) -> PipelineConfig {
        do {
            return try load(root: root, configPath: configPath)
        } catch {
            throw StockOpsError(.config, error.description)
        }
    }

    /// Reads and validates the file at `path`; `displayPath` is how errors name it.
    public static func load(path: String, displayPath: String? = nil) throws(ConfigError) -> PipelineConfig {
        let name = displayPath ?? path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                code: .unreadable, file: name, keyPath: "", line: nil,
                message: "cannot read the file; run stockops from the repository root or pass --config PATH")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: name)
    }

    /// Parses and validates YAML text.
    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> PipelineConfig {
        let root: Yams.Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigError(code: .syntax, file: file, keyPath: "", line: 1, message: "the file is empty")
            }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw ConfigError(code: .syntax, file: file, keyPath: "", line: error.line, message: "invalid YAML: \(error.problem)")
        } catch {
            throw ConfigError(code: .syntax, file: file, keyPath: "", line: nil, message: "invalid YAML: \(error)")
        }
        return try decode(YAMLValue(node: root, file: file, path: ""))
    }

    private static func decode(_ root: YAMLValue) throws(ConfigError) -> PipelineConfig {
        _ = try root.mapping(allowed: [
            "version", "services", "shared", "default-branch", "database", "environments", "registry", "vault", "notify", "gates", "images", "sonarqube",
            "security", "pull-requests",
        ])
        let version = try root.required("version")
        guard try version.int() == 1 else { throw version.error(.invalidValue, "unsupported version; this stockops reads version 1") }

        var environments = EnvironmentConfig.defaults
        if let section = try root.optional("environments") {
            for (key, value) in try section.mapping() {
                guard let environment = Environment(rawValue: key) else { throw value.error(.invalidValue, "'\(key)' is not usable: \(Environment.nameRule)") }
                _ = try value.mapping(allowed: ["ref", "tag", "approval", "kind", "gitops", "runner", "verify", "strategy", "canary", "variables"])
                var canary: CanaryPolicy?
                let strategy = try value.optional("strategy")
                switch try strategy?.nonEmptyString() {
                case nil, "switch":
                    if let node = try value.optional("canary") { throw node.error(.invalidValue, "canary settings need strategy: canary") }
                case "canary":
                    canary = try CanaryPolicy.decode(try value.optional("canary"))
                case let other?:
                    throw strategy!.error(.invalidValue, "'\(other)' is not a strategy; use switch or canary")
                }
                var verify = EnvironmentConfig.defaultVerification(environment)
                if let node = try value.optional("verify") {
                    let text = try node.nonEmptyString()
                    guard let parsed = DeployVerification(rawValue: text) else {
                        throw node.error(
                            .invalidValue, "'\(text)' is not a check; use " + DeployVerification.allCases.map(\.rawValue).joined(separator: " or "))
                    }
                    verify = parsed
                }
                environments[environment] = EnvironmentConfig(
                    ref: try value.required("ref").nonEmptyString(),
                    tag: try value.required("tag").nonEmptyString(),
                    approval: try value.optional("approval")?.bool() ?? false,
                    runner: try value.optional("runner").map(decodeRunner),
                    verify: verify,
                    canary: canary,
                    variables: try value.optional("variables").map(decodeComposeVariables) ?? [:]
                )
            }
        }
        let known = Set(environments.keys)

        let servicesNode = try root.required("services")
        var services: [ServiceConfig] = []
        for item in try servicesNode.list() {
            let service = try decodeService(item, environments: known)
            if services.contains(where: { $0.name == service.name }) {
                throw try item.required("name").error(.invalidValue, "service '\(service.name)' is declared twice")
            }
            services.append(service)
        }
        guard !services.isEmpty else { throw servicesNode.error(.invalidValue, "declare at least one service") }

        var sharedPaths: [String] = []
        if let shared = try root.optional("shared") {
            _ = try shared.mapping(allowed: ["paths"])
            sharedPaths = try shared.required("paths").strings()
        }

        var databasePorts: [Environment: Int] = [:]
        if let database = try root.optional("database") {
            _ = try database.mapping(allowed: ["ports"])
            databasePorts = try decodePorts(try database.required("ports"), environments: known)
        }

        let registryNode = try root.required("registry")
        _ = try registryNode.mapping(allowed: ["host", "project"])
        let registry = RegistryConfig(host: try registryNode.required("host").nonEmptyString(), project: try registryNode.required("project").nonEmptyString())

        var vault: [VaultSecret] = []
        if let vaultNode = try root.optional("vault") {
            for item in try vaultNode.list() {
                _ = try item.mapping(allowed: ["path", "keys", "required"])
                let keys = try item.required("keys")
                let pathNode = try item.required("path")
                let secret = VaultSecret(
                    path: try pathNode.nonEmptyString(), keys: try keys.strings(), required: try item.optional("required")?.bool() ?? false)
                guard !secret.keys.isEmpty else { throw keys.error(.invalidValue, "list at least one key") }
                guard secret.path.split(separator: "/").count >= 3, secret.path.split(separator: "/")[1] == "data" else {
                    throw pathNode.error(.invalidValue, "'\(secret.path)' is not a KV v2 data path; write <mount>/data/<path>, e.g. secret/data/ci/pipeline")
                }
                if let duplicate = secret.keys.first(where: { key in vault.contains { $0.keys.contains(key) } }) {
                    throw keys.error(.invalidValue, "key \(duplicate) is already read from another path; key names must be unique")
                }
                vault.append(secret)
            }
        }

        var notify = NotifyConfig()
        if let notifyNode = try root.optional("notify") {
            _ = try notifyNode.mapping(allowed: ["on", "webhook-key"])
            if let events = try notifyNode.optional("on") {
                notify.on = []
                for item in try events.list() {
                    let text = try item.nonEmptyString()
                    guard let event = NotifyConfig.Event(rawValue: text) else {
                        throw item.error(.invalidValue, "unknown event '\(text)'; use failure or success")
                    }
                    notify.on.insert(event)
                }
            }
            notify.webhookKey = try notifyNode.optional("webhook-key")?.nonEmptyString() ?? notify.webhookKey
        }

        var gates = GateThresholds(minimumCoverage: 0, failingSeverities: [.critical, .high])
        if let gatesNode = try root.optional("gates") {
            _ = try gatesNode.mapping(allowed: ["coverage", "vulnerabilities"])
            if let coverage = try gatesNode.optional("coverage") {
                _ = try coverage.mapping(allowed: ["minimum", "environments"])
                let minimum = try coverage.required("minimum")
                gates.minimumCoverage = try minimum.double()
                guard (0...100).contains(gates.minimumCoverage) else { throw minimum.error(.invalidValue, "must be a percentage between 0 and 100") }
            }
            if let vulnerabilities = try gatesNode.optional("vulnerabilities") {
                _ = try vulnerabilities.mapping(allowed: ["fail-on"])
                gates.failingSeverities = []
                for item in try vulnerabilities.required("fail-on").list() {
                    let text = try item.nonEmptyString()
                    guard let severity = Severity(rawValue: text.uppercased()) else {
                        throw item.error(.invalidValue, "unknown severity '\(text)'; use one of " + Severity.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    gates.failingSeverities.append(severity)
                }
            }
        }

        gates.coverageByEnvironment = try decodeCoverageOverrides(root, environments: known)
        var config = PipelineConfig(
            file: root.file,
            services: services,
            sharedPaths: sharedPaths,
            defaultBranch: try root.optional("default-branch")?.nonEmptyString() ?? "main",
            databasePorts: databasePorts,
            environments: environments,
            registry: registry,
            vault: vault,
            notify: notify,
            gates: gates
        )
        config.images = try ImagesConfig.decode(images: try root.optional("images"), sonarqube: try root.optional("sonarqube"))
        config.security = try decodeSecurity(root, registry: registry, vault: vault, environments: known)
        config.gitOps = try decodeGitOps(root, vault: vault, environments: known)
        if let pullRequests = try root.optional("pull-requests") {
            _ = try pullRequests.mapping(allowed: ["runner"])
            config.pullRequestRunner = try decodeRunner(try pullRequests.required("runner"))
        }
        try checkGitOpsServices(config.gitOps, services: services, file: root.file)
        return config
    }

    /// `runner:`: a non-empty list of runner labels (letters, digits, `-`, `_`, `.`), `self-hosted` among them.
    private static func decodeRunner(_ node: YAMLValue) throws(ConfigError) -> [String] {
        var labels: [String] = []
        for item in try node.list() {
            let label = try item.nonEmptyString()
            guard RunnerLabels.isValid(label) else { throw item.error(.invalidValue, "'\(label)' is not a runner label (letters, digits, '-', '_' and '.')") }
            guard !labels.contains(label) else { throw item.error(.invalidValue, "'\(label)' is listed twice") }
            labels.append(label)
        }
        guard !labels.isEmpty else { throw node.error(.invalidValue, "list at least one runner label") }
        guard labels.contains("self-hosted") else {
            throw node.error(
                .invalidValue, "a deploying runner is self-hosted: list the label self-hosted (and the labels that pick the runner reaching the environment)")
        }
        return labels
    }

    private static func decodeService(_ item: YAMLValue, environments known: Set<Environment>) throws(ConfigError) -> ServiceConfig {
        _ = try item.mapping(allowed: ["name", "paths", "package", "product", "test-target", "health", "ports", "smoke", "container-port"])
        let nameNode = try item.required("name")
        let name = try nameNode.nonEmptyString()
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw nameNode.error(.invalidValue, "'\(name)' may contain only letters, digits, '-' and '_'")
        }
        let pathsNode = try item.required("paths")
        let paths = try pathsNode.strings()
        guard !paths.isEmpty else { throw pathsNode.error(.invalidValue, "list at least one path") }
        let healthNode = try item.optional("health")
        let health = try healthNode?.nonEmptyString() ?? "/health"
        guard health.hasPrefix("/") else { throw healthNode!.error(.invalidValue, "must start with '/'") }
        let packageNode = try item.optional("package")
        let package = try packageNode.map { node throws(ConfigError) in try Self.relativeDirectory(node) } ?? "."
        return ServiceConfig(
            name: name,
            paths: paths,
            package: package,
            product: try item.required("product").nonEmptyString(),
            testTarget: try item.required("test-target").nonEmptyString(),
            healthPath: health,
            ports: try decodePorts(try item.required("ports"), environments: known),
            smoke: try decodeSmoke(try item.optional("smoke")),
            containerPort: try decodeContainerPort(try item.optional("container-port"))
        )
    }

    /// A directory inside the repository, written relative to its root: `services`, `services/`, `.`.
    private static func relativeDirectory(_ node: YAMLValue) throws(ConfigError) -> String {
        var path = try node.nonEmptyString()
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if path.hasPrefix("./"), path.count > 2 { path.removeFirst(2) }
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw node.error(.invalidValue, "'\(path)' must be a directory inside the repository, relative to its root (such as services)")
        }
        return path
    }

    private static func decodeContainerPort(_ node: YAMLValue?) throws(ConfigError) -> Int {
        guard let node else { return 8080 }
        guard let port = Int(try node.nonEmptyString()), (1...65535).contains(port) else {
            throw node.error(.invalidValue, "must be a TCP port (1-65535): the port the service's container listens on")
        }
        return port
    }

    private static func decodeSmoke(_ node: YAMLValue?) throws(ConfigError) -> [SmokeCheck] {
        guard let node else { return [] }
        var checks: [SmokeCheck] = []
        for item in try node.list() {
            _ = try item.mapping(allowed: ["path", "expect"])
            let pathNode = try item.required("path")
            let path = try pathNode.nonEmptyString()
            guard path.hasPrefix("/") else { throw pathNode.error(.invalidValue, "must start with '/'") }
            var expectation = SmokeCheck.Expectation.ok
            if let expectNode = try item.optional("expect") {
                let text = try expectNode.nonEmptyString()
                guard let value = SmokeCheck.Expectation(rawValue: text) else {
                    throw expectNode.error(
                        .invalidValue, "unknown expectation '\(text)'; use " + SmokeCheck.Expectation.allCases.map(\.rawValue).joined(separator: " or "))
                }
                expectation = value
            }
            checks.append(SmokeCheck(path: path, expect: expectation))
        }
        return checks
    }

    private static func decodePorts(_ node: YAMLValue, environments known: Set<Environment>) throws(ConfigError) -> [Environment: Int] {
        var ports: [Environment: Int] = [:]
        for (environment, value) in try node.environmentMapping(known) {
            let port = try value.int()
            guard (1...65535).contains(port) else { throw value.error(.invalidValue, "\(port) is not a TCP port (1-65535)") }
            ports[environment] = port
        }
        return ports
    }

    /// `variables:` of an environment: what its Compose file reads besides what stockops sets.
    private static func decodeComposeVariables(_ node: YAMLValue) throws(ConfigError) -> [String: String] {
        var variables: [String: String] = [:]
        for (name, value) in try node.mapping() {
            guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first),
                name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            else { throw value.error(.invalidValue, "'\(name)' is not a variable name (A-Z, 0-9 and '_', not starting with a digit)") }
            guard !ComposeEnvironment.isSetByStockOps(name) else {
                throw value.error(.invalidValue, "\(name) is set by stockops itself (from the registry, the ports and the deployed digests)")
            }
            variables[name] = try value.string()
        }
        return variables
    }
}

extension YamlError {
    var line: Int? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }

    var problem: String {
        switch self {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            (context.map { "\($0.text) " } ?? "") + problem
        case .duplicatedKeysInMapping(let duplicates, _): "duplicated keys " + duplicates.joined(separator: ", ")
        default: description
        }
    }
}
