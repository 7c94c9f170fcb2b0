import ArgumentParser
import Foundation
import StockOpsKit

/// `--root`, which every command working in the repository takes.
struct RootOption: ParsableArguments {
    @Option(help: "The repository root. (default: the current directory)")
    var root: String?

    /// The root given, or the current directory.
    var path: String { root ?? FileManager.default.currentDirectoryPath }

    /// The process environment with the variables of `.stockops/sandbox.env` under the root that it does not set (as
    /// `run` sees them).
    var environment: RunEnvironment { RunEnvironment.load(root: path) }
}

/// `--root` and `--config`, which every command reading the pipeline takes.
struct RepositoryOptions: ParsableArguments {
    @OptionGroup var root: RootOption

    @Option(help: "The pipeline file, relative to the root.")
    var config: String = PipelineConfig.defaultPath
}
