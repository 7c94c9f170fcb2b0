import Foundation

/// What stockops reads of the environment it runs in, named and typed in one place.
///
/// The command line parses it once (``load(root:)``: the process's variables, plus `.stockops/sandbox.env` for those it
/// does not set) and hands it down; nothing else in StockOpsKit reads the process environment, and nothing changes it.
/// Tools get only what a ``Command`` is given: ``passing(_:)`` copies named variables through.
public struct RunEnvironment: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// Every variable, as parsed.
    public let variables: [String: String]

    public init(_ variables: [String: String]) {
        self.variables = variables
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements) { $1 })
    }

    /// This process's variables as it started.
    public static let process = RunEnvironment(ProcessInfo.processInfo.environment)

    /// This process's variables plus every variable of the sandbox file under `root` that the process does not set.
    public static func load(root: String) -> RunEnvironment {
        RunEnvironment(SandboxEnvironment.merged(into: process.variables, root: root))
    }

    /// These variables with `overrides` set over them.
    public func merging(_ overrides: [String: String]) -> RunEnvironment {
        RunEnvironment(variables.merging(overrides) { $1 })
    }

    /// The variables among `names` that are set (possibly empty), to pass on to a tool.
    public func passing(_ names: [String]) -> [String: String] {
        var passed: [String: String] = [:]
        for name in names {
            if let value = variables[name] { passed[name] = value }
        }
        return passed
    }

    /// `name`'s value, nil when unset or empty.
    private func value(_ name: String) -> String? {
        variables[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: The process

    /// `PATH`: where bare tool names are looked up.
    public var path: String { value("PATH") ?? "/usr/bin:/bin" }
    /// `USER`: who holds a lock taken from here.
    public var user: String? { value("USER") }
    /// `NO_COLOR` is set and not empty: no colours.
    public var noColor: Bool { value("NO_COLOR") != nil }
    /// `TERM=dumb`: a terminal that takes no escape sequences.
    public var dumbTerminal: Bool { variables["TERM"] == "dumb" }

    // MARK: GitHub Actions

    /// `GITHUB_ACTIONS=true`: stockops runs as a step of a workflow.
    public var isGitHubActions: Bool { variables["GITHUB_ACTIONS"] == "true" }
    /// `GITHUB_REF`: the ref that chooses the environment.
    public var githubRef: String? { value("GITHUB_REF") }
    /// `GITHUB_REF_NAME`: the branch or tag name.
    public var githubRefName: String? { value("GITHUB_REF_NAME") }
    /// `GITHUB_SHA`: the commit the workflow runs.
    public var githubSHA: String? { value("GITHUB_SHA") }
    /// `GITHUB_BASE_REF`: a pull request's base branch.
    public var githubBaseRef: String? { value("GITHUB_BASE_REF") }
    /// `GITHUB_HEAD_REF`: a pull request's head branch.
    public var githubHeadRef: String? { value("GITHUB_HEAD_REF") }
    /// `GITHUB_EVENT_PATH`: the JSON of the event that started the workflow.
    public var githubEventPath: String? { value("GITHUB_EVENT_PATH") }
    /// `GITHUB_WORKFLOW_REF`: the workflow file's ref.
    public var githubWorkflowRef: String? { value("GITHUB_WORKFLOW_REF") }
    /// `GITHUB_EVENT_NAME`.
    public var githubEventName: String? { value("GITHUB_EVENT_NAME") }
    /// `GITHUB_EVENT_NAME` when it is a pull-request event (`pull_request`, `pull_request_target`).
    public var pullRequestEvent: String? { githubEventName.flatMap { $0 == "pull_request" || $0 == "pull_request_target" ? $0 : nil } }
    /// `GITHUB_ACTOR`: who started the run.
    public var githubActor: String? { value("GITHUB_ACTOR") }
    /// `GITHUB_TOKEN`: the workflow's token, for GitHub's API.
    public var githubToken: String? { value("GITHUB_TOKEN") }
    /// `GITHUB_API_URL`, default `https://api.github.com`.
    public var githubAPIURL: String { value("GITHUB_API_URL") ?? "https://api.github.com" }
    /// `GITHUB_SERVER_URL`, default `https://github.com`.
    public var githubServerURL: String { value("GITHUB_SERVER_URL") ?? "https://github.com" }
    /// `GITHUB_REPOSITORY`: `owner/name`.
    public var githubRepository: String? { value("GITHUB_REPOSITORY") }
    /// `GITHUB_RUN_ID`.
    public var githubRunID: String? { value("GITHUB_RUN_ID") }
    /// `GITHUB_RUN_ATTEMPT`, default 1.
    public var githubRunAttempt: String { value("GITHUB_RUN_ATTEMPT") ?? "1" }
    /// The path in `GITHUB_STEP_SUMMARY` or `GITHUB_OUTPUT`.
    public func githubFile(_ file: GitHubActions.CommandFile) -> String? { value(file.rawValue) }
    /// `RUNNER_NAME`: the runner the job runs on.
    public var runnerName: String? { value("RUNNER_NAME") }
    /// The page of the workflow run, when `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_RUN_ID` are all set.
    public var githubRunURL: String? {
        guard let server = value("GITHUB_SERVER_URL"), let repository = githubRepository, let run = githubRunID else { return nil }
        return "\(server)/\(repository)/actions/runs/\(run)"
    }

    // MARK: Registry

    /// `STOCKOPS_REGISTRY`: the registry host instead of `registry.host` (the sandbox's).
    public var registryHost: String? { value("STOCKOPS_REGISTRY") }
    /// `STOCKOPS_REGISTRY_USERNAME` and `STOCKOPS_REGISTRY_PASSWORD`: a registry login given outside Vault.
    public var registryLogin: (username: String, password: String)? {
        guard let username = value("STOCKOPS_REGISTRY_USERNAME"), let password = variables["STOCKOPS_REGISTRY_PASSWORD"] else { return nil }
        return (username, password)
    }

    // MARK: Vault

    /// `VAULT_<name>`, else `BAO_<name>` (OpenBao's spelling): what the `vault` and `bao` commands read.
    public func vault(_ name: String) -> String? { value("VAULT_" + name) ?? value("BAO_" + name) }
    /// `VAULT_<name>` only: the pipeline's AppRole login (`VAULT_ADDR`, `VAULT_ROLE_ID`, `VAULT_SECRET_ID_FILE` …).
    public func pipelineVault(_ name: String) -> String? { value("VAULT_" + name) }

    // MARK: Tools

    /// `STOCKOPS_TRIVY_SCANNERS`: trivy's `--scanners` instead of `images.scanners`.
    public var trivyScanners: [String]? {
        value("STOCKOPS_TRIVY_SCANNERS").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }
    /// `TRIVY_CACHE_DIR`: trivy's cache (its vulnerability database).
    public var trivyCacheDirectory: String? { value("TRIVY_CACHE_DIR") }
    /// `STOCKOPS_PG_BIN`: the directory of PostgreSQL's binaries for the throwaway test database.
    public var postgresBinaries: String? { value("STOCKOPS_PG_BIN") }
    /// `STOCKOPS_WEBHOOK_URL`: the notify node's webhook instead of the fetched secret.
    public var webhookURL: String? { value("STOCKOPS_WEBHOOK_URL") }

    // MARK: Deploys

    /// `STOCKOPS_STATE_DIR`: where ledgers, locks and the proxy's configuration live.
    public var stateDirectory: String? { value("STOCKOPS_STATE_DIR") }
    /// `STOCKOPS_COMPOSE_PROJECT`: the Compose project instead of `stocks-<env>`.
    public var composeProject: String? { value("STOCKOPS_COMPOSE_PROJECT") }
    /// `STOCKOPS_COMPOSE`: `plugin` or `standalone` instead of detecting which Compose is installed.
    public var composeFlavor: String? { value("STOCKOPS_COMPOSE") }
    /// `BIND_ADDRESS`: the address the environments publish their ports on, default 127.0.0.1.
    public var bindAddress: String { value("BIND_ADDRESS") ?? "127.0.0.1" }
    /// `DB_PORT`: the database's published port instead of `database.ports`.
    public var databasePort: String? { value("DB_PORT") }
    /// A published port's variable (`STOCK_LISTING_PORT`) instead of `services[].ports`.
    public func port(_ variable: String) -> String? { value(variable) }
    /// `STOCKOPS_NODE_CACHE_DIR`: where node results are cached.
    public var nodeCacheDirectory: String? { value("STOCKOPS_NODE_CACHE_DIR") }
    /// `STOCKOPS_SWIFTPM_DIR`: where the test and build nodes' SwiftPM builds live.
    public var swiftPMDirectory: String? { value("STOCKOPS_SWIFTPM_DIR") }
    /// `XDG_STATE_HOME` when absolute, else `$HOME/.local/state`.
    public var userStateDirectory: String { absolute("XDG_STATE_HOME") ?? home + "/.local/state" }
    /// `XDG_CACHE_HOME` when absolute, else `$HOME/.cache`.
    public var userCacheDirectory: String { absolute("XDG_CACHE_HOME") ?? home + "/.cache" }
    /// `HOME`, default `/root`.
    public var home: String { value("HOME") ?? "/root" }

    private func absolute(_ name: String) -> String? { value(name).flatMap { $0.hasPrefix("/") ? $0 : nil } }

    /// `DOCKER_HOST`, default the local socket.
    public var dockerHost: String { value("DOCKER_HOST") ?? "unix:///var/run/docker.sock" }
}
