import ArgumentParser
import Foundation
import StockOpsKit

/// Flags shared by `rollback`, `status`, `history`, `lock` and `unlock`.
struct EnvironmentOptions: ParsableArguments {
    @Option(name: [.customShort("e"), .long], help: "The environment, one listed under environments: in the pipeline (dev, stage, prod unless it lists more).")
    var env: Environment

    @OptionGroup var repository: RepositoryOptions

    /// The request, with the variables of `.stockops/sandbox.env` that the process does not set (as `run` sees them).
    var request: EnvironmentRequest {
        EnvironmentRequest(
            root: repository.root.path, configPath: repository.config, environment: env, processEnvironment: repository.root.environment)
    }
}

/// Seconds given on the command line, as a duration.
func seconds(_ value: Double, _ option: String) throws -> Duration {
    guard value >= 0, value <= 86_400 else { throw ValidationError("\(option) must be between 0 and 86400 seconds, got \(value)") }
    return .milliseconds(Int64((value * 1000).rounded()))
}

/// The flags of the commands that deploy: `run` and `rollback`.
struct DeployOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Who approves, for an environment that requires approval (a run deploys with --approve deploy).", valueName: "name"))
    var approver: String?

    @Flag(
        help:
            "Deploy digests whose signatures do not verify, and to prod digests that did not pass stage or (rollback) that prod never ran; the ledger records it."
    )
    var forceUnverified = false

    @Option(help: ArgumentHelp("Seconds the services may take to answer their health checks after the switch.", valueName: "seconds"))
    var smokeTimeout: Double = 60

    func validate() throws {
        _ = try seconds(smokeTimeout, "--smoke-timeout")
    }

    /// `--smoke-timeout` as a duration.
    var smokeTimeoutDuration: Duration {
        get throws { try seconds(smokeTimeout, "--smoke-timeout") }
    }
}
