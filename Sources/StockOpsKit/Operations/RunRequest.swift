import Foundation

/// What a `run` or `plan` invocation asks for; the CLI fills it from its flags.
public struct RunRequest: Sendable {
    public var root: String
    public var configPath: String
    public var environment: Environment?
    public var force = false
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var only: [String] = []
    public var skip: [String] = []
    public var approvals: [String] = []
    public var selectAll = false
    public var since: String?
    /// `--outputs-dir`: where dependencies' outputs are loaded from and the selected nodes' outputs written to.
    public var outputsDirectory: String?
    /// The process environment (`GITHUB_REF`, `GITHUB_EVENT_PATH`, `GITHUB_ACTIONS`, `NO_COLOR`…).
    public var processEnvironment: RunEnvironment
    /// `--approver NAME`: who approves a deploy to an environment that requires approval.
    public var approver: String?
    /// `--force-unverified`: release to prod digests that did not pass stage (recorded in the ledger).
    public var forceUnverified = false
    /// `--smoke-timeout`: how long the services may take to become healthy after a deploy.
    public var smokeTimeout: Duration = SmokeTest.defaultTimeout
    /// `--wait`: how long a deploy waits for a held environment lock.
    public var lockWait: Duration = .seconds(600)
    /// Asks a question expecting the given answer and returns who confirmed; nil asks on the terminal when there is one.
    public var confirm: (@Sendable (String, String) -> String?)?

    public init(
        root: String, configPath: String = PipelineConfig.defaultPath, environment: Environment? = nil,
        processEnvironment: RunEnvironment
    ) {
        self.root = root
        self.configPath = configPath
        self.environment = environment
        self.processEnvironment = processEnvironment
    }
}

/// What a run request comes to once its pipeline is read and its graph built.
struct PreparedRun {
    let config: PipelineConfig
    let environment: Environment
    let graph: PipelineGraph
    let exclusions: [NodeID: String]
}

extension RunRequest {
    /// The pipeline, environment, graph and exclusions of this request, checked before anything runs: an environment
    /// the pipeline does not list, an unknown node, a node a pull request may not run, a release tag that cannot
    /// render are errors here.
    func prepared(requireEnvironment: Bool, approval: Approval? = nil) throws(StockOpsError) -> PreparedRun {
        let request = self
        let config = try PipelineConfig.loadForCommand(root: request.root, configPath: request.configPath)
        let environment: Environment
        do {
            environment = try Environment.resolve(
                explicit: request.environment, ref: request.processEnvironment.githubRef, force: request.force, using: config.environments)
        } catch {
            if requireEnvironment || error.code != .undetermined { throw StockOpsError(.usage, error.message) }
            environment = .dev
        }
        var options = StockOpsPipeline.Options(
            environment: environment, since: request.since, eventPath: request.processEnvironment.githubEventPath, selectAll: request.selectAll,
            pullRequestBase: request.processEnvironment.githubBaseRef)
        options.processEnvironment = request.processEnvironment
        options.root = request.root
        options.deploy = DeploySettings(forceUnverified: request.forceUnverified, smokeTimeout: request.smokeTimeout, lockWait: request.lockWait)
        var graph: PipelineGraph
        do {
            graph = try StockOpsPipeline.graph(config: config, options: options)
        } catch {
            throw StockOpsError(.config, "the pipeline graph is invalid: \(error.message)")
        }
        var exclusions: [NodeID: String]
        do {
            exclusions = try graph.exclusions(only: request.only, skip: request.skip)
        } catch {
            throw StockOpsError(.usage, "\(error.description). Use `stockops graph` to list nodes")
        }
        if let event = PullRequestBoundary.event(request.processEnvironment) {
            let refused = graph.nodes.map(\.id).filter(PullRequestBoundary.isRefused)
            let asked = refused.filter { id in (request.only + request.approvals).contains { id.matches(selector: $0) } }
            if !asked.isEmpty {
                throw StockOpsError(
                    .usage,
                    "\(asked.map(\.description).joined(separator: ", ")) refused for a \(event) event: \(PullRequestBoundary.reason); run it from a push to a branch or a tag"
                )
            }
            for id in refused { exclusions[id] = "refused for a \(event) event: \(PullRequestBoundary.reason)" }
        }
        for approval in request.approvals where !graph.nodes.contains(where: { $0.id.matches(selector: approval) }) {
            throw StockOpsError(.usage, "--approve \(approval): no such node. Use `stockops graph` to list nodes")
        }
        // Whatever promote will need is checked now, before anything is built: the environment's tag must render.
        if graph.nodes.contains(where: { $0.id == StockOpsPipeline.promote.id }), exclusions[StockOpsPipeline.promote.id] == nil,
            let environmentConfig = config.environments[environment]
        {
            do {
                _ = try ReleaseTags.compute(
                    environment: environment, config: environmentConfig, commit: String(repeating: "0", count: 40),
                    ref: request.processEnvironment.githubRef)
            } catch {
                throw StockOpsError(.usage, "promote could not tag the release: \(error.message); nothing was run")
            }
        }
        // An explicit --since asks for change-based selection, and gets it.
        if !request.selectAll, request.since == nil, graph.nodes.contains(where: { $0.id == StockOpsPipeline.deploy.id }),
            exclusions[StockOpsPipeline.deploy.id] == nil,
            Self.hasNoGoodVersion(environment, root: request.root, processEnvironment: request.processEnvironment)
        {
            options.firstDeploy = true
            do {
                graph = try StockOpsPipeline.graph(config: config, options: options)
            } catch {
                throw StockOpsError(.config, "the pipeline graph is invalid: \(error.message)")
            }
        }
        if let approval, exclusions[StockOpsPipeline.deploy.id] == nil {
            options.deploy.approval = approval
            do {
                graph = try StockOpsPipeline.graph(config: config, options: options)
            } catch {
                throw StockOpsError(.config, "the pipeline graph is invalid: \(error.message)")
            }
        }
        return PreparedRun(config: config, environment: environment, graph: graph, exclusions: exclusions)
    }
}

extension RunRequest {
    /// Whether `environment`'s ledger has no good version: its next deploy is its first. An unreadable ledger counts
    /// as having one, so that the deploy node reports the problem instead.
    static func hasNoGoodVersion(_ environment: Environment, root: String, processEnvironment: RunEnvironment) -> Bool {
        let ledger = Ledger(stateDirectory: StateDirectory.resolve(root: root, environment: processEnvironment), environment: environment)
        // Unreadable: the deploy node reports it.
        guard let contents = try? ledger.read() else { return false }
        return contents.lastGood == nil
    }

    /// Refuses a `--since` naming no commit before anything runs.
    func checkSince() async throws(StockOpsError) {
        guard let since else { return }
        let result: ProcessResult
        do {
            result = try await ProcessRunner().run(Git(repository: root).resolveCommit(since))
        } catch {
            throw StockOpsError(.infrastructure, "cannot run git to resolve --since \(since): \(error)")
        }
        guard result.succeeded else {
            throw StockOpsError(
                .usage, "--since \(since): no such commit in \(root); pass a branch, tag or SHA that exists locally (git fetch it first)")
        }
    }

    /// The nodes `--approve` names in `graph`.
    func approvedNodes(_ graph: PipelineGraph) -> Set<NodeID> {
        Set(graph.nodes.map(\.id).filter { id in approvals.contains { id.matches(selector: $0) } })
    }

    /// The approval of a run that deploys (`--approve deploy`) to an environment that requires one; nil otherwise.
    func deployApproval(config: PipelineConfig, environment: Environment) async throws(StockOpsError) -> Approval? {
        let deploys = approvals.contains { StockOpsPipeline.deploy.id.matches(selector: $0) }
        guard deploys, config.environments[environment]?.approval == true else { return nil }
        let question = "Deploy to \(environment.rawValue)?"
        let confirm: (() -> String?)? =
            self.confirm.map { ask in { ask(question, environment.rawValue) } }
            ?? Approval.terminalConfirmation(question, expected: environment.rawValue)
        return try await Approval.resolve(environment: environment, approver: approver, processEnvironment: processEnvironment, confirm: confirm)
    }
}
