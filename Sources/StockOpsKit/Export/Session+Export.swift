import Foundation

extension Session {
    /// `stockops export github-actions`: the pipeline graph as a workflow of one job per node, written to `outputPath`
    /// (relative to the current directory) or printed.
    public func exportGitHubActions(_ request: RunRequest, outputPath: String?) -> ExitStatus {
        let prepared: Prepared
        do {
            prepared = try prepare(request, requireEnvironment: false)
        } catch {
            return fail(error)
        }
        var workflow = GitHubActionsWorkflow()
        workflow.configPath = request.configPath
        let text = workflow.render(prepared.graph)
        guard let outputPath else {
            output.write(text)
            return .success
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: outputPath), options: .atomic)
        } catch {
            return fail(StockOpsError(.infrastructure, "could not write \(outputPath): \(error.localizedDescription)"))
        }
        errors.write("wrote \(outputPath): \(prepared.graph.nodes.count) jobs\n")
        return .success
    }
}
