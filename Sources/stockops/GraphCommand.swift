import ArgumentParser
import StockOpsKit

extension GraphFormat: ExpressibleByArgument {}

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print the pipeline graph.",
        discussion: """
            --only and --skip leave nodes out as they would for run; --json prints the nodes, their kind and \
            dependencies as JSON (schemaVersion 1).

            Examples:
              stockops graph --format mermaid
              stockops graph --only test --json
              stockops graph --format dot | dot -Tsvg > pipeline.svg
            """
    )

    @OptionGroup var options: PipelineOptions

    @Option(help: "mermaid, dot or json.")
    var format: GraphFormat = .mermaid

    func run() async throws {
        let request = options.request
        let terminal = Terminal()
        let planned = try await terminal.report { () throws(StockOpsError) in try request.plannedGraph() }
        terminal.output.write((options.json ? .json : format).render(planned.graph, excluding: planned.excluded))
    }
}
