import Foundation

/// The pipeline as a GitHub Actions workflow: what `stockops export github-actions` writes.
public struct ExportedWorkflow: Sendable {
    /// The workflow's YAML.
    public var text: String
    public var jobs: Int
    public var nodes: Int

    /// The graph of `request` (its environment from `--env`, else `GITHUB_REF`, else dev) as a workflow of one job per
    /// node, or with `matrix` one matrix job per stage of keyed nodes.
    public static func export(_ request: RunRequest, matrix: Bool = false) throws(StockOpsError) -> ExportedWorkflow {
        let prepared = try request.prepared(requireEnvironment: false)
        var workflow = GitHubActionsWorkflow()
        workflow.configPath = request.configPath
        workflow.matrix = matrix
        workflow.keylessSigning = prepared.config.images.keylessIdentity != nil
        workflow.environment = prepared.environment
        workflow.runner = prepared.config.environments[prepared.environment]?.runsOn(prepared.environment) ?? RunnerLabels.defaults(for: prepared.environment)
        workflow.pullRequestRunner = prepared.config.pullRequestRunner
        workflow.triggerRef = prepared.config.environments[prepared.environment]?.ref ?? ""
        return ExportedWorkflow(
            text: try workflow.render(prepared.graph), jobs: try workflow.jobs(for: prepared.graph).count, nodes: prepared.graph.nodes.count)
    }
}
