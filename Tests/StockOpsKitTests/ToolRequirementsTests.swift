import Foundation
import Testing

@testable import StockOpsKit

/// Versions read from what each tool prints for `--version` (or `version`), and the minimums checked against them.
@Suite("Tool versions and minimum requirements")
struct ToolRequirementsTests {
    @Test(arguments: [
        ("git version 2.39.5\n", [2, 39, 5]),
        ("1.95.0\n", [1, 95, 0]),
        ("v8.18.4\n", [8, 18, 4]),
        ("Version: 0.57.1\nVulnerability DB:\n  Version: 2\n", [0, 57, 1]),
        ("cosign: A tool for Container Signing, Verification and Storage in an OCI registry.\n\nGitVersion:    v2.4.1\nGitCommit:     cbdcd9ba\n", [2, 4, 1]),
        ("Docker Compose version v2.29.7\n", [2, 29, 7]),
        ("docker-compose version 1.29.2, build unknown\n", [1, 29, 2]),
        ("Swift version 6.3 (swift-6.3-RELEASE)\nTarget: x86_64-unknown-linux-gnu\n", [6, 3]),
        ("pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", [15, 18]),
    ])
    func readsTheFirstDottedVersion(output: String, components: [Int]) {
        #expect(ToolVersion(output)?.components == components)
    }

    @Test func findsNoVersionInTextWithoutOne() {
        #expect(ToolVersion("gitleaks: command not found") == nil)
        #expect(ToolVersion("build 42") == nil)
    }

    @Test func comparesNumericallyPaddingWithZeros() throws {
        let twoThirty = try #require(ToolVersion("2.30"))
        #expect(twoThirty == ToolVersion(2, 30, 0))
        #expect(ToolVersion(2, 9, 9) < twoThirty)
        #expect(ToolVersion(1, 100) > ToolVersion(1, 70))
        #expect(ToolVersion(8, 19, 0) > ToolVersion(8, 18, 99))
        #expect(twoThirty.description == "2.30")
    }

    @Test func coversEveryToolThePipelineDrives() {
        let tools = [
            "trivy", "cosign", "semgrep", "gitleaks", "git", "docker", "docker compose", "docker-compose",
            "docker buildx", "sonar-scanner", "swift", "act", "pg_ctl", "postgres",
        ]
        for tool in tools {
            let requirement = ToolRequirements.requirement(for: tool)
            #expect(requirement != nil, "\(tool)")
            #expect(requirement?.install.isEmpty == false, "\(tool)")
            #expect(requirement?.versionArguments.isEmpty == false, "\(tool)")
        }
        #expect(ToolRequirements.requirement(for: "docker compose")?.versionArguments == ["docker", "compose", "version"])
        #expect(ToolRequirements.requirement(for: "nonexistent") == nil)
        #expect(Set(ToolRequirements.all.map(\.tool)).count == ToolRequirements.all.count)
    }

    @Test(arguments: [
        ("semgrep", "1.69.0", "1.70", "--sarif-output"),
        ("gitleaks", "v8.18.4", "8.19", "gitleaks dir"),
        ("git", "git version 2.29.2", "2.30", "--end-of-options"),
        ("docker compose", "docker-compose version 1.29.2, build unknown", "2.0", "Compose v2"),
    ])
    func refusesVersionsOlderThanTheMinimum(tool: String, output: String, minimum: String, why: String) throws {
        let requirement = try #require(ToolRequirements.requirement(for: tool))
        #expect(requirement.minimum == ToolVersion(minimum))
        #expect(!requirement.isSatisfied(byVersionOutput: output))
        let problem = try #require(requirement.problem(versionOutput: output))
        #expect(problem.contains(try #require(ToolVersion(output)).description))
        #expect(problem.contains(minimum))
        #expect(problem.contains(why))
        #expect(problem.contains(requirement.install))
    }

    @Test(arguments: [
        ("semgrep", "1.70.0"), ("semgrep", "1.185.0"), ("gitleaks", "8.19.0"), ("gitleaks", "v8.21.2"),
        ("git", "git version 2.30.0"), ("git", "git version 2.39.5"), ("docker compose", "Docker Compose version v2.29.7"),
    ])
    func acceptsTheMinimumAndNewer(tool: String, output: String) throws {
        let requirement = try #require(ToolRequirements.requirement(for: tool))
        #expect(requirement.isSatisfied(byVersionOutput: output))
        #expect(requirement.problem(versionOutput: output) == nil)
    }

    @Test func aMinimumWithoutAVersionInTheOutputIsAProblem() throws {
        let semgrep = try #require(ToolRequirements.requirement(for: "semgrep"))
        #expect(semgrep.check(versionOutput: "unknown") == .unknownVersion(minimum: ToolVersion(1, 70)))
        #expect(semgrep.problem(versionOutput: "unknown")?.contains("semgrep --version") == true)
        let act = try #require(ToolRequirements.requirement(for: "act"))
        #expect(act.check(versionOutput: "unknown") == .satisfied(found: nil))
    }
}
