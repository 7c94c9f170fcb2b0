import Foundation

/// How the `stockops` process exits.
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// A gate failed.
    case gateFailed = 1
    /// Wrong usage or configuration.
    case usage = 2
    /// A tool is missing or a server unreachable.
    case infrastructure = 3
    /// The environment is locked by another deploy, rollback or maintenance.
    case locked = 4
    /// SIGINT or SIGTERM.
    case interrupted = 130
}

/// An error the CLI reports before or outside a run: what was wrong and what to do.
public struct StockOpsError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case usage
        case config
        case infrastructure
        /// Someone else holds the environment's lock.
        case locked
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public var exitStatus: ExitStatus {
        switch code {
        case .usage, .config: .usage
        case .infrastructure: .infrastructure
        case .locked: .locked
        }
    }
}

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
    public var json = false
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

/// The commands of the CLI, as library calls that print and return an exit status.
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
        let configPath = request.configPath.hasPrefix("/") ? request.configPath : request.root + "/" + request.configPath
        let config: PipelineConfig
        do {
            config = try PipelineConfig.load(path: configPath, displayPath: request.configPath)
        } catch {
            throw StockOpsError(.config, error.description)
        }
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
            Session.hasNoGoodVersion(environment, root: request.root, processEnvironment: request.processEnvironment)
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

public struct Session: Sendable {
    public var output: Console
    public var errors: Console

    public init(output: Console = Console(fd: 1), errors: Console = Console(fd: 2)) {
        self.output = output
        self.errors = errors
    }

    func fail(_ error: StockOpsError) -> ExitStatus {
        errors.write("error: \(error.message)\n")
        return error.exitStatus
    }

    /// Whether `environment`'s ledger has no good version: its next deploy is its first. An unreadable ledger counts
    /// as having one, so that the deploy node reports the problem instead.
    static func hasNoGoodVersion(_ environment: Environment, root: String, processEnvironment: RunEnvironment) -> Bool {
        let ledger = Ledger(stateDirectory: StateDirectory.resolve(root: root, environment: processEnvironment), environment: environment)
        guard let contents = try? ledger.read() else { return false }
        return contents.lastGood == nil
    }

    /// Refuses a `--since` naming no commit before anything runs.
    func checkSince(_ request: RunRequest) async throws(StockOpsError) {
        guard let since = request.since else { return }
        let git = Git(repository: request.root)
        let result: ProcessResult
        do {
            result = try await ProcessRunner().run(git.resolveCommit(since))
        } catch {
            throw StockOpsError(.infrastructure, "cannot run git to resolve --since \(since): \(error)")
        }
        guard result.succeeded else {
            throw StockOpsError(
                .usage, "--since \(since): no such commit in \(request.root); pass a branch, tag or SHA that exists locally (git fetch it first)")
        }
    }

    private func approvals(_ request: RunRequest, _ graph: PipelineGraph) -> Set<NodeID> {
        Set(graph.nodes.map(\.id).filter { id in request.approvals.contains { id.matches(selector: $0) } })
    }

    /// `stockops plan` / `run --dry-run`: what would run, what is skipped and why.
    public func plan(_ request: RunRequest) async -> ExitStatus {
        let prepared: PreparedRun
        do {
            prepared = try request.prepared(requireEnvironment: false)
            try await checkSince(request)
        } catch {
            return fail(error)
        }
        let runner = ProcessRunner()
        let scheduler = Scheduler(
            jobs: request.jobs,
            mode: .plan,
            runner: runner,
            paths: RunPaths(root: request.root, runDirectory: request.root + "/.stockops/plan"),
            approvals: approvals(request, prepared.graph),
            exclusions: prepared.exclusions,
            cache: OutputCache(directory: StateDirectory.cache(root: request.root, environment: request.processEnvironment)),
            writesLogs: false
        )
        let result = await scheduler.run(prepared.graph)
        if request.json {
            let record = RunRecord(runID: "plan", environment: prepared.environment.rawValue, exitCode: 0, result: result, paths: nil, graph: prepared.graph)
            // Only a non-finite number fails to encode, and the record holds none; {} keeps the output JSON.
            output.write(((try? record.encoded()).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n")
        } else {
            var text = "plan for \(prepared.environment.rawValue)"
            if let changes = result.outputs[StockOpsPipeline.pathsFilter] {
                text += ", base: \(changes.base.map { String($0.prefix(12)) } ?? "none") (\(changes.baseSource)), \(changes.files.count) changed files"
            }
            output.write(text + "\n" + output.table(result, plan: true))
        }
        if let failed = result.results.first(where: { $0.result.status.isFailure }) {
            errors.write("error: \(failed.id) could not be planned: \(failed.result.reason ?? "")\n")
            return failed.result.failureKind == .infrastructure ? .infrastructure : .usage
        }
        return .success
    }

    /// `stockops run`.
    public func run(_ request: RunRequest) async -> ExitStatus {
        let prepared: PreparedRun
        do {
            let planned = try request.prepared(requireEnvironment: true)
            if planned.exclusions[StockOpsPipeline.deploy.id] == nil,
                let approval = try await deployApproval(request, config: planned.config, environment: planned.environment)
            {
                prepared = try request.prepared(requireEnvironment: true, approval: approval)
            } else {
                prepared = planned
            }
            try await checkSince(request)
        } catch {
            return fail(error)
        }
        let runID = RunRecord.newRunID()
        let paths = RunPaths(root: request.root, runDirectory: request.root + "/.stockops/runs/" + runID)
        let progress = request.json ? errors : output
        // A runner may give the job a pseudo-terminal (act does): redrawn lines would flood its log, so under GitHub
        // Actions each node's block is printed once instead.
        let live = progress.isTTY && !progress.githubActions ? LiveReporter(console: progress) : nil
        let observer: any RunObserver = live ?? BlockReporter(console: progress)
        progress.write("stockops run \(runID) — environment \(prepared.environment.rawValue), jobs \(request.jobs)\n")
        let abandoned = DockerLoginDirectory.removeAbandoned()
        for directory in abandoned.removed {
            progress.write("removed \(directory): the registry login of a run that was killed\n")
        }
        for (directory, why) in abandoned.failed.sorted(by: { $0.key < $1.key }) {
            progress.write("warning: \(directory), the registry login of a run that was killed, could not be removed (\(why)); delete it\n")
        }

        let outputsDirectory = request.outputsDirectory.map { OutputsDirectory(path: $0.hasPrefix("/") ? $0 : request.root + "/" + $0) }
        let inputs = outputsDirectory?.inputs(for: prepared.graph, only: request.only, excluded: prepared.exclusions)
        let scheduler = Scheduler(
            jobs: request.jobs,
            runner: ProcessRunner(),
            paths: paths,
            approvals: approvals(request, prepared.graph),
            exclusions: prepared.exclusions.merging(inputs?.exclusions ?? [:]) { first, _ in first },
            cache: OutputCache(directory: StateDirectory.cache(root: request.root, environment: request.processEnvironment)),
            observer: observer,
            externalOutputs: inputs?.outputs ?? [:]
        )
        let redraw = live?.start() ?? (observer as? BlockReporter)?.start()
        let (result, interrupted) = await Interruption.cancellingOnSignals { await scheduler.run(prepared.graph) }
        redraw?.cancel()
        live?.stop()

        let status: ExitStatus =
            switch result.status {
            case .passed: interrupted ? .interrupted : .success
            case .cancelled: .interrupted
            case .failed: interrupted ? .interrupted : result.hasInfrastructureFailure ? .infrastructure : .gateFailed
            }
        let record = RunRecord(
            runID: runID, environment: prepared.environment.rawValue, exitCode: status.rawValue, result: result, paths: paths, graph: prepared.graph)
        let failed = FailureDigest.collect(result, paths: paths)
        var report: String?
        do {
            try record.write(to: paths)
            report = try await RunReport.write(record, paths: paths)
            try outputsDirectory?.write(result, only: request.only)
            try FileManager.default.createDirectory(atPath: paths.reportsDirectory, withIntermediateDirectories: true)
            try PrivateFile.write(Data(JUnitReport.render(result).utf8), to: paths.reportsDirectory + "/pipeline-junit.xml")
            try GitHubActions.append(
                GitHubActions.summary(result, title: "stockops \(prepared.environment.rawValue)") + FailureDigest.markdown(failed)
                    + GitHubActions.diagrams(result, graph: prepared.graph), toFileIn: .summary,
                environment: request.processEnvironment)
            var values = [
                ("status", result.status.rawValue), ("run-id", runID), ("record", paths.runDirectory + "/run.json"), ("report", RunReport.path(paths)),
            ]
            if let changes = result.outputs[StockOpsPipeline.pathsFilter] {
                values.append(("services", changes.services.joined(separator: ",")))
            }
            try GitHubActions.append(GitHubActions.outputs(values), toFileIn: .output, environment: request.processEnvironment)
        } catch {
            errors.write("error: could not write the run record under \(paths.runDirectory): \(error)\n")
        }

        progress.write(
            "\n" + progress.table(result) + FailureDigest.text(failed, githubActions: progress.githubActions) + "record: \(paths.runDirectory)/run.json\n"
                + (report.map { "report: \($0)\n" } ?? ""))
        if request.json {
            // Encoding fails only as record.write above did, which reported it; {} keeps the output JSON.
            output.write(((try? record.encoded()).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n")
        }
        return status
    }

    /// `stockops graph`: the graph as Mermaid, Graphviz or JSON (`--json`), without the nodes `--only`/`--skip` leave
    /// out.
    public func graph(_ request: RunRequest, format: GraphFormat) -> ExitStatus {
        do {
            let prepared = try request.prepared(requireEnvironment: false)
            output.write((request.json ? .json : format).render(prepared.graph, excluding: Set(prepared.exclusions.keys)))
            return .success
        } catch {
            return fail(error)
        }
    }

    /// `stockops cache prune`.
    public func pruneCache(root: String, keep: Int, json: Bool = false, processEnvironment: RunEnvironment)
        -> ExitStatus
    {
        let cache = OutputCache(directory: StateDirectory.cache(root: root, environment: processEnvironment))
        do {
            let report = try cache.prune(keep: keep)
            if json {
                struct Pruned: Encodable {
                    var directory: String
                    var removed: Int
                    var kept: Int
                }
                printJSON(Pruned(directory: cache.directory, removed: report.removed, kept: report.kept))
                return .success
            }
            output.write("removed \(report.removed) cache entries, kept \(report.kept) (in \(cache.directory))\n")
            return .success
        } catch {
            return fail(StockOpsError(.infrastructure, "could not prune \(cache.directory): \(error)"))
        }
    }
}
