import Foundation

/// A dotted tool version such as `2.39.5`, read out of whatever a tool prints for its version.
///
/// Comparison pads the shorter version with zeros, so `2.30` equals `2.30.0`.
public struct ToolVersion: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// The numeric parts, most significant first: two or three of them.
    public let components: [Int]

    /// The first `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` in `text` (a leading `v` or any other prefix is skipped);
    /// nil when `text` holds none.
    public init?(_ text: String) {
        guard let match = text.firstMatch(of: /(\d+)\.(\d+)(?:\.(\d+))?/) else { return nil }
        var parts = [match.1, match.2].compactMap { Int($0) }
        if let patch = match.3, let number = Int(patch) { parts.append(number) }
        guard parts.count >= 2 else { return nil }
        components = parts
    }

    public init(_ components: Int...) {
        self.components = components
    }

    public var description: String {
        components.map(String.init).joined(separator: ".")
    }

    public static func == (lhs: ToolVersion, rhs: ToolVersion) -> Bool {
        lhs.padded(to: rhs.components.count) == rhs.padded(to: lhs.components.count)
    }

    public static func < (lhs: ToolVersion, rhs: ToolVersion) -> Bool {
        let length = max(lhs.components.count, rhs.components.count)
        return lhs.padded(to: length).lexicographicallyPrecedes(rhs.padded(to: length))
    }

    public func hash(into hasher: inout Hasher) {
        var trimmed = components
        while trimmed.last == 0 { trimmed.removeLast() }
        hasher.combine(trimmed)
    }

    private func padded(to length: Int) -> [Int] {
        components + Array(repeating: 0, count: max(0, length - components.count))
    }
}

/// What stockops needs of one external tool: the oldest version that has what it uses, and how to get it.
public struct ToolRequirement: Sendable {
    /// How the tool is named in messages and looked up: `git`, `docker compose`, `pg_ctl`.
    public let tool: String
    /// The oldest supported version; nil when any version that runs will do.
    public let minimum: ToolVersion?
    /// The argv that prints the version, executable first: `["git", "--version"]`.
    public let versionArguments: [String]
    /// The feature that sets the minimum (or what the tool is for, when there is none).
    public let why: String
    /// One line on how to install or upgrade it.
    public let install: String

    public init(tool: String, minimum: ToolVersion?, versionArguments: [String], why: String, install: String) {
        self.tool = tool
        self.minimum = minimum
        self.versionArguments = versionArguments
        self.why = why
        self.install = install
    }

    /// How a tool's version output measures up against this requirement.
    public enum Verdict: Sendable, Equatable {
        /// The version found is at least the minimum (or there is no minimum).
        case satisfied(found: ToolVersion?)
        /// The version found is older than the minimum.
        case tooOld(found: ToolVersion, minimum: ToolVersion)
        /// There is a minimum but the output names no version.
        case unknownVersion(minimum: ToolVersion)
    }

    /// Judges `versionOutput` (what ``versionArguments`` printed).
    public func check(versionOutput: String) -> Verdict {
        let found = ToolVersion(versionOutput)
        guard let minimum else { return .satisfied(found: found) }
        guard let found else { return .unknownVersion(minimum: minimum) }
        return found < minimum ? .tooOld(found: found, minimum: minimum) : .satisfied(found: found)
    }

    /// Whether `versionOutput` shows a version this requirement accepts.
    public func isSatisfied(byVersionOutput versionOutput: String) -> Bool {
        if case .satisfied = check(versionOutput: versionOutput) { return true }
        return false
    }

    /// What to tell the user about `versionOutput`: nil when it is fine, otherwise the version found, the
    /// minimum, why, and how to upgrade.
    public func problem(versionOutput: String) -> String? {
        switch check(versionOutput: versionOutput) {
        case .satisfied:
            return nil
        case .tooOld(let found, let minimum):
            return "\(tool) \(found) is older than \(minimum), the minimum (\(why)); upgrade: \(install)"
        case .unknownVersion(let minimum):
            let command = versionArguments.joined(separator: " ")
            return "`\(command)` printed no version; \(tool) \(minimum) or later is needed (\(why)); install: \(install)"
        }
    }
}

/// The external tools stockops drives and the versions it needs, in one place.
public enum ToolRequirements {
    public static let all: [ToolRequirement] = [
        ToolRequirement(
            tool: "git", minimum: ToolVersion(2, 30), versionArguments: ["git", "--version"],
            why: "--end-of-options", install: "apt-get install git (Debian 12 or later ships 2.39)"),
        ToolRequirement(
            tool: "docker", minimum: nil, versionArguments: ["docker", "--version"],
            why: "builds, runs and pushes images", install: "https://docs.docker.com/engine/install/ (or apt-get install docker.io)"),
        ToolRequirement(
            tool: "docker compose", minimum: ToolVersion(2, 0), versionArguments: ["docker", "compose", "version"],
            why: "Compose v2 (`docker compose`, compose.yaml)",
            install: "apt-get install docker-compose-plugin (Docker's apt repository) or https://github.com/docker/compose/releases"),
        ToolRequirement(
            tool: "docker-compose", minimum: ToolVersion(2, 0), versionArguments: ["docker-compose", "version"],
            why: "Compose v2 (compose.yaml); v1 is end of life",
            install: "https://github.com/docker/compose/releases (a v2 binary)"),
        ToolRequirement(
            tool: "docker buildx", minimum: nil, versionArguments: ["docker", "buildx", "version"],
            why: "docker buildx build (cache import and export)",
            install: "apt-get install docker-buildx-plugin (Docker's apt repository) or https://github.com/docker/buildx/releases"),
        ToolRequirement(
            tool: "trivy", minimum: nil, versionArguments: ["trivy", "--version"],
            why: "image, filesystem and configuration scans",
            install: "https://github.com/aquasecurity/trivy/releases (or Aqua's apt repository: apt-get install trivy)"),
        ToolRequirement(
            tool: "cosign", minimum: ToolVersion(2, 0), versionArguments: ["cosign", "version"],
            why: "cosign verify --insecure-ignore-tlog",
            install: "https://github.com/sigstore/cosign/releases"),
        ToolRequirement(
            tool: "semgrep", minimum: ToolVersion(1, 70), versionArguments: ["semgrep", "--version"],
            why: "--sarif-output", install: "pipx install semgrep (PyPI package semgrep)"),
        ToolRequirement(
            tool: "gitleaks", minimum: ToolVersion(8, 19), versionArguments: ["gitleaks", "version"],
            why: "gitleaks dir", install: "https://github.com/gitleaks/gitleaks/releases"),
        ToolRequirement(
            tool: "sonar-scanner", minimum: nil, versionArguments: ["sonar-scanner", "--version"],
            why: "SonarQube analysis", install: "https://github.com/SonarSource/sonar-scanner-cli/releases"),
        ToolRequirement(
            tool: "swift", minimum: ToolVersion(6, 2), versionArguments: ["swift", "--version"],
            why: "swift-tools-version 6.2 (Package.swift)", install: "https://www.swift.org/install/"),
        ToolRequirement(
            tool: "act", minimum: nil, versionArguments: ["act", "--version"],
            why: "runs the exported GitHub Actions workflow locally", install: "https://github.com/nektos/act/releases"),
        ToolRequirement(
            tool: "pg_ctl", minimum: nil, versionArguments: ["pg_ctl", "--version"],
            why: "starts the local PostgreSQL server", install: "apt-get install postgresql"),
        ToolRequirement(
            tool: "postgres", minimum: nil, versionArguments: ["postgres", "--version"],
            why: "the local PostgreSQL server", install: "apt-get install postgresql"),
    ]

    /// The requirement for `tool` (as named in ``ToolRequirement/tool``), or nil when stockops sets none.
    public static func requirement(for tool: String) -> ToolRequirement? {
        all.first { $0.tool == tool }
    }

    /// Refuses a `tool` older than its minimum, judged by what its version command printed: throws
    /// ``StageFailure/infrastructure`` naming the version found, the minimum, why and how to upgrade. Output
    /// naming no version passes (the tool runs, and fails on its own if it lacks what is needed).
    public static func requireSupported(_ tool: String, versionOutput: String) throws(StageFailure) {
        guard let requirement = requirement(for: tool), case .tooOld = requirement.check(versionOutput: versionOutput),
            let problem = requirement.problem(versionOutput: versionOutput)
        else { return }
        throw StageFailure.infrastructure(problem)
    }
}
