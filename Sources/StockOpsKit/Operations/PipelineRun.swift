import Foundation

extension ExitStatus {
    /// The status of a run that ended with `result`: a failed gate 1, an infrastructure failure 3, a signal 130.
    public init(_ result: RunResult, interrupted: Bool) {
        switch result.status {
        case .passed: self = interrupted ? .interrupted : .success
        case .cancelled: self = .interrupted
        case .failed: self = interrupted ? .interrupted : result.hasInfrastructureFailure ? .infrastructure : .gateFailed
        }
    }
}

/// What `stockops plan` found: each node's would-run, cached or skipped result, without running anything.
public struct PlanOutcome: CommandOutcome {
    public let environment: Environment
    public let graph: PipelineGraph
    public let result: RunResult
    /// The first node that could not be planned, as the error the plan ends with.
    public let failure: StockOpsError?

    public var exitStatus: ExitStatus { failure?.exitStatus ?? .success }

    /// The plan as the record `--json` prints.
    public var record: RunRecord {
        RunRecord(runID: "plan", environment: environment.rawValue, exitCode: 0, result: result, paths: nil, graph: graph)
    }
}

/// What a `stockops run` left: its result, its record and report, and how the process exits.
public struct RunOutcome: CommandOutcome {
    public let runID: String
    public let environment: Environment
    public let result: RunResult
    public let record: RunRecord
    public let paths: RunPaths
    /// The failed nodes with the tails of their logs.
    public let failed: [FailedNode]
    /// The HTML report, when it could be written.
    public let report: String?
    /// Why the record, report or GitHub files could not all be written; the run's result stands.
    public let recordProblem: String?
    public let exitStatus: ExitStatus
}

extension RunRequest {
    /// `stockops graph`: the graph of this request and the nodes `--only`/`--skip` leave out.
    public func plannedGraph() throws(StockOpsError) -> (graph: PipelineGraph, excluded: Set<NodeID>) {
        let prepared = try prepared(requireEnvironment: false)
        return (prepared.graph, Set(prepared.exclusions.keys))
    }

    /// `stockops plan` / `run --dry-run`: what would run, what is skipped and why. Throws for a request that cannot be
    /// planned (configuration, environment, `--since`); a node that cannot be planned is the outcome's `failure`.
    public func plan() async throws(StockOpsError) -> PlanOutcome {
        let prepared = try prepared(requireEnvironment: false)
        try await checkSince()
        let scheduler = Scheduler(
            jobs: jobs,
            mode: .plan,
            runner: ProcessRunner(),
            paths: RunPaths(root: root, runDirectory: root + "/.stockops/plan"),
            approvals: approvedNodes(prepared.graph),
            exclusions: prepared.exclusions,
            cache: OutputCache(directory: StateDirectory.cache(root: root, environment: processEnvironment)),
            writesLogs: false
        )
        let result = await scheduler.run(prepared.graph)
        let failure = result.results.first { $0.result.status.isFailure }.map { failed in
            StockOpsError(
                failed.result.failureKind == .infrastructure ? .infrastructure : .usage, "\(failed.id) could not be planned: \(failed.result.reason ?? "")")
        }
        return PlanOutcome(environment: prepared.environment, graph: prepared.graph, result: result, failure: failure)
    }

    /// `stockops run`: runs the pipeline, showing its progress on `progress` (redrawn on a terminal, a block per node
    /// otherwise), and writes its record, report, JUnit file and GitHub summary and outputs. SIGINT and SIGTERM cancel
    /// it. Throws before anything runs for a request that cannot run.
    public func run(progress: Console) async throws(StockOpsError) -> RunOutcome {
        let planned = try prepared(requireEnvironment: true)
        var prepared = planned
        if planned.exclusions[StockOpsPipeline.deploy.id] == nil,
            let approval = try await deployApproval(config: planned.config, environment: planned.environment)
        {
            prepared = try self.prepared(requireEnvironment: true, approval: approval)
        }
        try await checkSince()
        let runID = RunRecord.newRunID()
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/" + runID)
        // A runner may give the job a pseudo-terminal (act does): redrawn lines would flood its log, so under GitHub
        // Actions each node's block is printed once instead.
        let live = progress.isTTY && !progress.githubActions ? LiveReporter(console: progress) : nil
        let observer: any RunObserver = live ?? BlockReporter(console: progress)
        progress.write("stockops run \(runID) — environment \(prepared.environment.rawValue), jobs \(jobs)\n")
        let abandoned = DockerLoginDirectory.removeAbandoned()
        for directory in abandoned.removed {
            progress.write("removed \(directory): the registry login of a run that was killed\n")
        }
        for (directory, why) in abandoned.failed.sorted(by: { $0.key < $1.key }) {
            progress.write("warning: \(directory), the registry login of a run that was killed, could not be removed (\(why)); delete it\n")
        }

        let outputsDirectory = outputsDirectory.map { OutputsDirectory(path: $0.hasPrefix("/") ? $0 : root + "/" + $0) }
        let inputs = outputsDirectory?.inputs(for: prepared.graph, only: only, excluded: prepared.exclusions)
        let scheduler = Scheduler(
            jobs: jobs,
            runner: ProcessRunner(),
            paths: paths,
            approvals: approvedNodes(prepared.graph),
            exclusions: prepared.exclusions.merging(inputs?.exclusions ?? [:]) { first, _ in first },
            cache: OutputCache(directory: StateDirectory.cache(root: root, environment: processEnvironment)),
            observer: observer,
            externalOutputs: inputs?.outputs ?? [:]
        )
        let redraw = live?.start() ?? (observer as? BlockReporter)?.start()
        let graph = prepared.graph
        let (result, interrupted) = await Interruption.cancellingOnSignals { await scheduler.run(graph) }
        redraw?.cancel()
        live?.stop()

        let status = ExitStatus(result, interrupted: interrupted)
        let record = RunRecord(runID: runID, environment: prepared.environment.rawValue, exitCode: status.rawValue, result: result, paths: paths, graph: graph)
        let failed = FailureDigest.collect(result, paths: paths)
        var report: String?
        var recordProblem: String?
        do {
            try record.write(to: paths)
            report = try await RunReport.write(record, paths: paths)
            try outputsDirectory?.write(result, only: only)
            try FileManager.default.createDirectory(atPath: paths.reportsDirectory, withIntermediateDirectories: true)
            try PrivateFile.write(Data(JUnitReport.render(result).utf8), to: paths.reportsDirectory + "/pipeline-junit.xml")
            try GitHubActions.append(
                GitHubActions.summary(result, title: "stockops \(prepared.environment.rawValue)") + FailureDigest.markdown(failed)
                    + GitHubActions.diagrams(result, graph: graph), toFileIn: .summary, environment: processEnvironment)
            var values = [
                ("status", result.status.rawValue), ("run-id", runID), ("record", paths.runDirectory + "/run.json"), ("report", RunReport.path(paths)),
            ]
            if let changes = result.outputs[StockOpsPipeline.pathsFilter] {
                values.append(("services", changes.services.joined(separator: ",")))
            }
            try GitHubActions.append(GitHubActions.outputs(values), toFileIn: .output, environment: processEnvironment)
        } catch {
            recordProblem = "could not write the run record under \(paths.runDirectory): \(error)"
        }
        return RunOutcome(
            runID: runID, environment: prepared.environment, result: result, record: record, paths: paths, failed: failed, report: report,
            recordProblem: recordProblem, exitStatus: status)
    }
}
