import ArgumentParser
import StockOpsKit

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what is deployed in an environment: tag, digests, health, when and by whom.",
        discussion: """
            Reads the environment's ledger and lock in the state directory ($STOCKOPS_STATE_DIR, default \
            .stockops/state) and asks Docker for the containers of the compose project stocks-<env>.

            Exit codes: 0 the engine serves what the ledger says is live, 1 it does not (a service stopped, unhealthy \
            or on another digest; named in the output), 3 Docker could not be asked (the ledger's part is still shown).

            Examples:
              stockops status --env prod
              stockops status --env dev --json
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        var request = target.request
        request.json = json
        try await Session().status(request).finish()
    }
}
