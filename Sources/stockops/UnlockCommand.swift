import ArgumentParser
import StockOpsKit

struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Remove a maintenance lock (or the stale record of a holder that is gone).",
        discussion: """
            A lock held by a running deploy or rollback is not removed: wait for it to finish.

            Exit codes: 0 unlocked (or was not locked), 4 a running deploy or rollback holds the lock.

            Example:
              stockops unlock --env prod
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Flag(help: "Print JSON: {schemaVersion, environment, state (unlocked, not-locked or stale-removed), holder}.")
    var json = false

    func run() async throws {
        let terminal = Terminal()
        let report = try await terminal.report { () throws(StockOpsError) in try MaintenanceLock.unlock(target.request) }
        if json { return terminal.json(report) }
        let holder = report.holder?.summary ?? ""
        switch report.state {
        case .notLocked: terminal.output.write("\(report.environment) was not locked\n")
        case .unlocked: terminal.output.write("unlocked \(report.environment) (\(holder))\n")
        case .staleRemoved: terminal.output.write("removed a stale lock record of \(report.environment) (\(holder))\n")
        case .locked: break
        }
    }
}
