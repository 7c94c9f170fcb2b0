import ArgumentParser
import Foundation
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
              GITHUB_REF=refs/tags/v1.2.3 stockops run --approve deploy --approver alice
            """
    )

    @OptionGroup var options: PipelineOptions

    @Flag(help: "Show the plan instead of running.")
    var dryRun = false

    @OptionGroup var deploy: DeployOptions

    @Option(
        name: [.customLong("wait"), .customLong("lock-wait")],
        help: ArgumentHelp("Seconds a deploy waits for the environment's lock when it is held (as rollback's and lock's --wait).", valueName: "seconds"))
    var lockWait: Double = 600

    @Option(
        help: ArgumentHelp(
            "Load the outputs of dependencies not selected by --only from this directory instead of running them, and write the selected nodes' outputs to it.",
            valueName: "dir"))
    var outputsDir: String?

    func validate() throws {
        _ = try seconds(lockWait, "--wait")
    }

    func run() async throws {
        if dryRun { return try await PlanCommand.plan(options.request, json: options.json) }
        var request = options.request
        request.outputsDirectory = outputsDir
        request.approver = deploy.approver
        request.forceUnverified = deploy.forceUnverified
        request.smokeTimeout = try deploy.smokeTimeoutDuration
        request.lockWait = try seconds(lockWait, "--wait")
        let terminal = Terminal()
        // Under --json the progress goes to standard error, the record to standard output.
        let progress = options.json ? terminal.errors : terminal.output
        let outcome = try await terminal.report { () async throws(StockOpsError) in try await request.run(progress: progress) }
        if let problem = outcome.recordProblem { terminal.errors.write("error: \(problem)\n") }
        progress.write(
            "\n" + progress.table(outcome.result) + FailureDigest.text(outcome.failed, githubActions: progress.githubActions)
                + "record: \(outcome.paths.runDirectory)/run.json\n" + (outcome.report.map { "report: \($0)\n" } ?? ""))
        if options.json { terminal.record(outcome.record) }
        try outcome.exitStatus.finish()
    }
}
