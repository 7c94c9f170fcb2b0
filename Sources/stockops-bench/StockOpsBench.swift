import ArgumentParser
import Foundation
import StockOpsKit

/// The benchmarks' entry points, kept out of the `stockops` users run; the scripts in `scripts/bench-*.sh` call them.
@main
struct StockOpsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockops-bench",
        abstract: "Measure stockops: the scheduler, the secrets path, re-tags, signing, builds and deploys.",
        discussion: """
            Each subcommand is driven by a script of scripts/ (bench-pipeline.sh, bench-secrets.sh, bench-images.sh, \
            bench-signing.sh, bench-deploy.sh, bench-zero-downtime.sh), which starts what it measures against.
            Exit codes as stockops's: 0 success, 1 a measured operation failed, 2 usage, 3 infrastructure.
            """,
        version: StockOpsKit.version,
        subcommands: [
            BenchCommand.self, BenchSecretsCommand.self, BenchRetagCommand.self, BenchSignCommand.self, BenchBuildCommand.self, BenchDeployCommand.self,
        ]
    )
}

extension Environment: ExpressibleByArgument {}

extension ExitStatus {
    /// Ends the command with this status.
    func finish() throws {
        if self != .success { throw ExitCode(rawValue) }
    }
}
