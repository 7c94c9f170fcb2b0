import Foundation

extension Session {
    /// `stockops export github-actions`: the pipeline graph as a workflow of one job per node (with `matrix`, one
    /// matrix job per stage of keyed nodes), written to `outputPath` (relative to the current directory) or printed.
    public func exportGitHubActions(_ request: RunRequest, outputPath: String?, matrix: Bool = false) -> ExitStatus {
        let prepared: Prepared
        do {
            prepared = try prepare(request, requireEnvironment: false)
        } catch {
            return fail(error)
        }
        var workflow = GitHubActionsWorkflow()
        workflow.configPath = request.configPath
        workflow.matrix = matrix
        workflow.keylessSigning = prepared.config.images.keylessIdentity != nil
        workflow.environment = prepared.environment
        workflow.runner = prepared.config.environments[prepared.environment]?.runsOn(prepared.environment) ?? RunnerLabels.defaults(for: prepared.environment)
        workflow.pullRequestRunner = prepared.config.pullRequestRunner
        workflow.triggerRef = prepared.config.environments[prepared.environment]?.ref ?? ""
        let text: String
        do {
            text = try workflow.render(prepared.graph)
        } catch {
            return fail(error)
        }
        guard let outputPath else {
            output.write(text)
            return .success
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: outputPath), options: .atomic)
        } catch {
            return fail(StockOpsError(.infrastructure, "could not write \(outputPath): \(error.localizedDescription)"))
        }
        // The count is only for the message below; the node count stands in if the jobs cannot be listed.
        let jobs = (try? workflow.jobs(for: prepared.graph).count) ?? prepared.graph.nodes.count
        errors.write("wrote \(outputPath): \(jobs) jobs for \(prepared.graph.nodes.count) nodes\n")
        return .success
    }
}
