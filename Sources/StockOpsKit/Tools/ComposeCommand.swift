import Foundation

/// Argv builders for Docker Compose: the v2 plugin (`docker compose`) or the standalone `docker-compose`.
///
/// Each environment is its own project, `stocks-<env>`, of the one file `environments/compose.yml` (which reads the
/// environment's name and values from variables: ``ComposeEnvironment``).
public struct ComposeCommand: Sendable, Equatable {
    public enum Flavor: String, Sendable {
        /// `docker compose`, the CLI plugin.
        case plugin
        /// `docker-compose`, the standalone binary.
        case standalone
    }

    public var flavor: Flavor
    /// The environment name, such as `dev` or `stage`.
    public var environment: String
    /// The directory holding `environments/`.
    public var root: String?
    /// The project name when not `stocks-<environment>`.
    public var project: String?

    public init(flavor: Flavor, environment: String, root: String? = nil, project: String? = nil) {
        self.flavor = flavor
        self.environment = environment
        self.root = root
        self.project = project
    }

    public var projectName: String { project ?? "stocks-\(environment)" }

    /// The Compose file of every environment, relative to the root.
    public static let file = "environments/compose.yml"

    public var composeFile: String {
        let file = Self.file
        guard let root else { return file }
        return (root.hasSuffix("/") ? root : root + "/") + file
    }

    private func compose(_ arguments: [String]) -> [String] {
        let base = flavor == .plugin ? ["docker", "compose"] : ["docker-compose"]
        return base + ["-p", projectName, "-f", composeFile] + arguments
    }

    /// `docker compose version`, or `docker-compose version`: detects which flavor is installed.
    public static func version(_ flavor: Flavor) -> [String] {
        flavor == .plugin ? ["docker", "compose", "version"] : ["docker-compose", "version"]
    }

    /// `pull`, of only `services` when given (third-party images are then pulled by `up` when missing).
    public func pull(_ services: [String] = []) -> [String] { compose(["pull"] + services) }

    public func up() -> [String] { compose(["up", "-d", "--remove-orphans"]) }

    /// `up -d` of `services` only; with `dependencies: false` (`--no-deps`) the services they depend on are left as they
    /// are; `removeOrphans` removes the containers of services the file no longer has.
    public func up(_ services: [String], dependencies: Bool = true, removeOrphans: Bool = false) -> [String] {
        compose(["up", "-d"] + (dependencies ? [] : ["--no-deps"]) + (removeOrphans ? ["--remove-orphans"] : []) + services)
    }

    /// `rm --stop --force` of `services`: stops and removes their containers.
    public func remove(_ services: [String]) -> [String] { compose(["rm", "--stop", "--force"] + services) }

    /// `port SERVICE PORT`: the host address a container port of `service` is published on.
    public func port(_ service: String, _ containerPort: Int) -> [String] { compose(["port", service, String(containerPort)]) }

    /// `kill -s SIGNAL` of `services`.
    public func kill(_ signal: String, _ services: [String]) -> [String] { compose(["kill", "-s", signal] + services) }

    public func down() -> [String] { compose(["down"]) }

    /// `down --volumes`: also removes the environment's named volumes (its database).
    public func downRemovingVolumes() -> [String] { compose(["down", "--volumes"]) }

    public func ps() -> [String] { compose(["ps", "--format", "json"]) }

    /// One container of `ps --format json`.
    public struct Container: Sendable, Equatable, Decodable {
        public var name: String
        public var service: String
        public var state: String
        public var health: String?

        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case service = "Service"
            case state = "State"
            case health = "Health"
        }

        public init(name: String, service: String, state: String, health: String?) {
            self.name = name
            self.service = service
            self.state = state
            self.health = health
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            service = try container.decode(String.self, forKey: .service)
            state = try container.decode(String.self, forKey: .state)
            let health = try container.decodeIfPresent(String.self, forKey: .health)
            self.health = health?.isEmpty == true ? nil : health
        }
    }

    /// Parses `ps --format json`: a JSON array (Compose before 2.21) or one JSON object per line (2.21 and later).
    public static func parsePS(_ output: String) throws -> [Container] {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        let decoder = JSONDecoder()
        do {
            if trimmed.hasPrefix("[") { return try decoder.decode([Container].self, from: Data(trimmed.utf8)) }
            return try trimmed.split(whereSeparator: \.isNewline).map { line in
                try decoder.decode(Container.self, from: Data(line.utf8))
            }
        } catch {
            throw ToolOutputError(.unparsable, "compose ps output is not JSON as expected: \(error)")
        }
    }
}
