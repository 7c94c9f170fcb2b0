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
        var request = target.request
        request.json = json
        try await Session().rollout(request, action, wait: try seconds(wait, "--wait")).finish()
    }
}
