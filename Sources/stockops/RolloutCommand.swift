import ArgumentParser
import StockOpsKit

extension RolloutAction: ExpressibleByArgument {}

struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Show, promote or abort the canary a deploy is running (environments with strategy: canary).",
        discussion: """
            A deploy to an environment with `strategy: canary` gives the new version a share of the requests and compares its
            5xx rate and p99 with the stable version's until its window ends; `promote` gives it all the traffic now, `abort`
            gives the stable version all of it back. The deploy acts within a second and records who decided in the ledger.

            Exit codes: 0 done (or status shown), 1 the deploy running the canary is gone, 2 no canary in progress,
            3 the deploy did not act within --wait.

            Examples:
              stockops rollout status --env prod
              stockops rollout abort --env prod
            """
    )

    @Argument(help: "status, promote or abort.")
    var action: RolloutAction

    @OptionGroup var target: EnvironmentOptions

    @Flag(help: "Print JSON (status).")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the deploy to act.", valueName: "seconds"))
    var wait: Double = 60

    func validate() throws {
        _ = try seconds(wait, "--wait")
    }

    func run() async throws {
        let request = target.request
        let terminal = Terminal()
        let decision: RolloutState.Decision.Action
        switch action {
        case .status:
            let status = request.rolloutStatus()
            if json {
                terminal.json(status)
            } else if let canary = status.canary {
                terminal.output.write(canary.summary + "\n")
                if !status.deployRunning {
                    terminal.output.write(
                        "the deploy running it (pid \(canary.pid)) is gone; the next deploy or rollback of \(request.environment.rawValue) gives the stable slot all the traffic again\n"
                    )
                }
            } else {
                terminal.output.write("no canary in progress in \(request.environment.rawValue)\n")
            }
            return try status.exitStatus.finish()
        case .promote: decision = .promote
        case .abort: decision = .abort
        }
        let wait = try seconds(wait, "--wait")
        let notices = json ? terminal.errors : terminal.output
        let decided = try await terminal.report { () async throws(StockOpsError) in
            try await request.decideRollout(decision, wait: wait) { notices.write($0 + "\n") }
        }
        if json { return terminal.json(decided) }
        terminal.output.write("\(decided.entry.tag): \(decided.entry.outcome.rawValue)" + (decided.entry.detail.map { " — \($0)" } ?? "") + "\n")
    }
}
