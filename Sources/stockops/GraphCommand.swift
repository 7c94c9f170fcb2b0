import ArgumentParser
import StockOpsKit

extension GraphFormat: ExpressibleByArgument {}

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print the pipeline graph.",
        discussion: """
        Examples:
          stockops graph --format mermaid
          stockops graph --format dot | dot -Tsvg > pipeline.svg
        """
    )

    @OptionGroup var options: PipelineOptions

    @Option(help: "mermaid or dot.")
    var format: GraphFormat = .mermaid

    func run() async throws {
        try Session().graph(options.request, format: format).finish()
    }
}
