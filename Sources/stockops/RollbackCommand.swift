import ArgumentParser
import StockOpsKit

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Return an environment to an image tag that exists in the registry.",
        discussion: """
            Checks that the tag exists for every service in the registry before touching anything (and lists the \
            nearest tags that do when it does not), takes the environment's lock, runs compose pull and up with the \
            tag, smoke-tests it, and records the rollback in the ledger. A tag that fails its smoke test is rolled \
            back to the previous good tag. Environments that require approval (prod) need one: the GitHub \
            Environment, --approver NAME, or a confirmation on a terminal. Where the environment verifies signatures \
            (verify: signature, the default of stage and prod) every digest's signature must verify; prod takes only \
            release versions whose digests were live in prod or carry a stage proof. --force-unverified overrides \
            both, and the ledger records it.

            Exit codes: 0 rolled back, 1 the tag failed its smoke test, 2 invalid, missing or untrusted tag, or \
            signatures that do not verify (nothing changed), or no approval, 3 Docker, Compose or the registry \
            failed, 4 the environment is locked.

            Examples:
              stockops rollback --env stage --tag stage-1a2b3c4 --yes
              stockops rollback --env prod --tag v1.3.0 --approver alice
              stockops rollback --env dev --to-previous --yes
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Option(help: "The image tag to return to, such as v1.3.0 or stage-1a2b3c4.")
    var tag: String?

    @Flag(help: "Return to the newest good tag of the ledger other than the live one.")
    var toPrevious = false

    @Flag(help: "Do not ask for a confirmation (environments requiring approval still need one).")
    var yes = false

    @OptionGroup var deploy: DeployOptions

    @Option(help: ArgumentHelp("Seconds to wait for the environment's lock when it is held.", valueName: "seconds"))
    var wait: Double = 0

    func validate() throws {
        if (tag == nil) == !toPrevious { throw ValidationError("pass either --tag TAG or --to-previous") }
        _ = try seconds(wait, "--wait")
    }

    @Flag(help: "Print JSON: {schemaVersion, status, environment, runID, deployment | error, code, log}; progress goes to standard error.")
    var json = false

    func run() async throws {
        var request = RollbackRequest(target: target.request, tag: tag)
        request.toPrevious = toPrevious
        request.yes = yes
        request.approver = deploy.approver
        request.forceUnverified = deploy.forceUnverified
        request.smokeTimeout = try deploy.smokeTimeoutDuration
        request.lockWait = try seconds(wait, "--wait")
        let terminal = Terminal()
        // Under --json the progress goes to standard error, the one document to standard output.
        let progress = json ? terminal.errors : terminal.output
        let outcome = try await terminal.report { () async throws(StockOpsError) in try await request.perform { progress.write($0 + "\n") } }
        if let problem = outcome.summaryProblem { terminal.warn(problem) }
        if json { terminal.json(outcome.summary) }
        switch outcome.result {
        case .success(let deployment):
            if !json {
                terminal.output.write(
                    "\(outcome.environment.rawValue) is on \(deployment.tag) (was \(deployment.previousTag ?? "nothing")): smoke test passed, "
                        + String(format: "%.1f s", outcome.seconds) + "; log: \(outcome.log)\n")
            }
        case .failure(let failure):
            terminal.errors.write("error: \(failure.message)\n")
        }
        try outcome.exitStatus.finish()
    }
}
