import Foundation

/// The containers of a Compose project as `docker ps` lists them, found by the project label Compose sets, so no
/// compose file or variable is needed to read them.
public struct ContainerStatus: Sendable, Equatable {
    public var service: String
    /// `running`, `exited`, `restarting`, …
    public var state: String
    /// `healthy`, `unhealthy`, `starting`, or nil without a health check.
    public var health: String?
    /// The image reference the container was created from.
    public var image: String
    /// `Up 3 minutes (healthy)`.
    public var status: String

    public init(service: String, state: String, health: String?, image: String, status: String) {
        self.service = service
        self.state = state
        self.health = health
        self.image = image
        self.status = status
    }

    /// `docker ps --all --filter label=com.docker.compose.project=PROJECT --format …`: one tab-separated line per
    /// container (service, state, status, image).
    public static func list(project: String, docker: String = "docker") -> [String] {
        [
            docker, "ps", "--all", "--no-trunc",
            "--filter", "label=com.docker.compose.project=\(project)",
            "--format", "{{.Label \"com.docker.compose.service\"}}\t{{.State}}\t{{.Status}}\t{{.Image}}",
        ]
    }

    /// Parses the output of ``list(project:docker:)``.
    public static func parse(_ output: String) throws(ToolOutputError) -> [ContainerStatus] {
        var containers: [ContainerStatus] = []
        for line in output.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4 else {
                throw ToolOutputError(.unparsable, "docker ps printed \"\(line)\", expected service, state, status and image separated by tabs")
            }
            containers.append(ContainerStatus(service: fields[0], state: fields[1], health: health(fromStatus: fields[2]), image: fields[3], status: fields[2]))
        }
        return containers.sorted { $0.service < $1.service }
    }

    /// `(healthy)`, `(unhealthy)` or `(health: starting)` at the end of a status.
    static func health(fromStatus status: String) -> String? {
        if status.hasSuffix("(healthy)") { return "healthy" }
        if status.hasSuffix("(unhealthy)") { return "unhealthy" }
        if status.hasSuffix("(health: starting)") { return "starting" }
        return nil
    }
}
