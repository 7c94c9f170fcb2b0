import ArgumentParser
import StockOpsKit

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Lock an environment for maintenance: deploys and rollbacks are refused until unlock.",
        discussion: """
            Exit codes: 0 locked, 4 someone else holds the lock (after --wait).

            Examples:
              stockops lock --env prod --reason "database upgrade"
              stockops lock --env dev --wait 300
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Option(help: "Why, shown to whoever finds the environment locked.")
    var reason: String?

    @Option(help: ArgumentHelp("Seconds to wait when the lock is held.", valueName: "seconds"))
    var wait: Double = 0

    func validate() throws {
        _ = try seconds(wait, "--wait")
    }

    @Flag(help: "Print JSON: {schemaVersion, environment, state, holder, replacedStale}.")
    var json = false

    func run() async throws {
        let terminal = Terminal()
        let request = target.request
        let wait = try seconds(wait, "--wait")
        let errors = terminal.errors
        let report = try await terminal.report { () async throws(StockOpsError) in
            try await MaintenanceLock.lock(request, reason: reason, wait: wait) { errors.write($0 + "\n") }
        }
        if let stale = report.replacedStale { terminal.warn("replaced a stale lock: \(stale.summary)") }
        if json { return terminal.json(report) }
        terminal.output.write(
            "\(report.environment) is locked for maintenance; deploys and rollbacks are refused until `stockops unlock --env \(report.environment)`\n")
    }
}
