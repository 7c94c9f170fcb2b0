import ArgumentParser
import Foundation
import StockOpsKit

/// Flags shared by `rollback`, `status`, `history`, `lock` and `unlock`.
struct EnvironmentOptions: ParsableArguments {
    @Option(name: [.customShort("e"), .long], help: "The environment, one listed under environments: in the pipeline (dev, stage, prod unless it lists more).")
    var env: Environment

    @Option(help: "The repository root. (default: the current directory)")
    var root: String?

    @Option(help: "The pipeline file, relative to the root.")
    var config: String = PipelineConfig.defaultPath

    /// The request, with the variables of `.stockops/sandbox.env` that the process does not set (as `run` sees them).
    var request: EnvironmentRequest {
        let root = root ?? FileManager.default.currentDirectoryPath
        let environment = RunEnvironment.load(root: root)
        return EnvironmentRequest(root: root, configPath: config, environment: env, processEnvironment: environment)
    }
}

/// Seconds given on the command line, as a duration.
func seconds(_ value: Double, _ option: String) throws -> Duration {
    guard value >= 0, value <= 86_400 else { throw ValidationError("\(option) must be between 0 and 86400 seconds, got \(value)") }
    return .milliseconds(Int64((value * 1000).rounded()))
}
