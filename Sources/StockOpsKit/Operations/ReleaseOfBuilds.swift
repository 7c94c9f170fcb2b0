import Foundation

/// What promoting and deploying images built elsewhere came to.
public struct ReleaseOutcome: CommandOutcome {
    public let environment: Environment
    /// The tag promote gave the release; nil when it did not get that far.
    public let tag: String?
    public let status: RunStatus
    public let seconds: Double
    public let exitStatus: ExitStatus
}

extension RunRequest {
    /// Runs `promote` and `deploy` for images built elsewhere (`builds`), as the pipeline runs them after
    /// `build[<service>]`, a block per node on `progress`.
    public func release(builds: [BuiltImage], progress: Console) async throws(StockOpsError) -> ReleaseOutcome {
        guard let environment else { throw StockOpsError(.usage, "pass --env") }
        let config = try EnvironmentRequest(root: root, configPath: configPath, environment: environment, processEnvironment: processEnvironment)
            .pipelineConfig()
        var options = StockOpsPipeline.Options(environment: environment)
        options.processEnvironment = processEnvironment
        options.deploy = DeploySettings(forceUnverified: forceUnverified, smokeTimeout: smokeTimeout, lockWait: lockWait)
        options.deploy.approval = try await deployApproval(config: config, environment: environment)
        let graph: PipelineGraph
        var external: [NodeID: Data] = [:]
        do {
            graph = try StockOpsPipeline.releaseGraph(config: config, options: options)
            for build in builds {
                external[StockOpsPipeline.build(build.service).id] = try JSONEncoder().encode(build)
            }
        } catch {
            throw StockOpsError(.config, "\(error)")
        }
        let runID = RecordPaths.newRunID(kind: "release")
        let scheduler = Scheduler(
            jobs: 2, paths: RunPaths(root: root, runDirectory: root + "/.stockops/runs/" + runID), approvals: [StockOpsPipeline.deploy.id],
            observer: BlockReporter(console: progress), externalOutputs: external)
        let started = ContinuousClock.now
        let result = await scheduler.run(graph)
        return ReleaseOutcome(
            environment: environment, tag: result.outputs[StockOpsPipeline.promote]?.tag.name, status: result.status,
            seconds: Deployer.seconds(since: started), exitStatus: ExitStatus(result, interrupted: false))
    }
}
