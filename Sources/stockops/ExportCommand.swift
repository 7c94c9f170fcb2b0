import ArgumentParser
import Foundation
import StockOpsKit

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the pipeline to another CI system.",
        subcommands: [GitHubActionsExport.self]
    )

    struct GitHubActionsExport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "github-actions",
            abstract: "Print a GitHub Actions workflow running each node of the graph as a job.",
            discussion: """
                Jobs follow the graph's edges (needs:) and pass outputs as artifacts: each runs \
                `stockops run --only <node> --outputs-dir .stockops/outputs`. With --matrix the keyed nodes of one \
                stage (test[stock-listing], test[trade]) are the entries of one matrix job, which needs the jobs of \
                all its entries' dependencies.

                Examples:
                  stockops export github-actions
                  stockops export github-actions --matrix --output .github/workflows/stockops-nodes.yml
                  stockops export github-actions --env qa --output .github/workflows/qa.yml
                """
        )

        @OptionGroup var repository: RepositoryOptions

        @Option(help: ArgumentHelp("Write the workflow to this file instead of standard output.", valueName: "file"))
        var output: String?

        @Flag(help: "One matrix job per stage of keyed nodes instead of one job per node.")
        var matrix = false

        @Option(
            name: [.customShort("e"), .long],
            help: "The environment the workflow deploys, one listed under environments: in the pipeline. Default: derived from GITHUB_REF, else dev.")
        var env: Environment?

        func run() async throws {
            let request = RunRequest(
                root: repository.root.path, configPath: repository.config, environment: env, processEnvironment: repository.root.environment)
            let terminal = Terminal()
            let workflow = try await terminal.report { () throws(StockOpsError) in try ExportedWorkflow.export(request, matrix: matrix) }
            guard let output else { return terminal.output.write(workflow.text) }
            _ = try await terminal.report { () throws(StockOpsError) in
                do {
                    try Data(workflow.text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                } catch {
                    throw StockOpsError(.infrastructure, "could not write \(output): \(error.localizedDescription)")
                }
            }
            terminal.errors.write("wrote \(output): \(workflow.jobs) jobs for \(workflow.nodes) nodes\n")
        }
    }
}
