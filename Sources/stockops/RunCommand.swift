import Foundation
import ArgumentParser
import StockOpsKit

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the pipeline.",
        discussion: """
        Without --env the environment follows GITHUB_REF: refs/heads/develop → dev, \
        refs/heads/release/** → stage, refs/tags/vX.Y.Z → prod.

        Examples:
          stockops run --env dev
          stockops run --env dev --only test --jobs 2
          stockops run --all --skip test[trade] --json
          stockops run --only test[trade] --outputs-dir .stockops/outputs
        """
    )

    @OptionGroup var options: PipelineOptions

    @Flag(help: "Show the plan instead of running.")
    var dryRun = false

    @Option(help: ArgumentHelp("Load the outputs of dependencies not selected by --only from this directory instead of running them, and write the selected nodes' outputs to it.", valueName: "dir"))
    var outputsDir: String?

    func run() async throws {
        SandboxEnvironment.apply(root: options.root ?? FileManager.default.currentDirectoryPath)
        let session = Session()
        if dryRun {
            try await session.plan(options.request).finish()
        } else {
            var request = options.request
            request.outputsDirectory = outputsDir
            try await session.run(request).finish()
        }
    }
}
