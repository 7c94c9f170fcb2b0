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
        let request = target.request
        let terminal = Terminal()
        let status = try await terminal.report { () async throws(StockOpsError) in try await request.status() }
        for problem in status.ledgerProblems { terminal.warn("\(status.ledger) \(problem)") }
        if json {
            terminal.json(status)
        } else {
            terminal.output.write(Self.text(status))
        }
        try status.exitStatus.finish()
    }

    static func text(_ status: EnvironmentStatus) -> String {
        var text = "environment: \(status.environment.rawValue) (project \(status.project))\n"
        if let live = status.live {
            text += "live:        \(live.tag) — \(live.action.rawValue) \(live.outcome.rawValue) \(TextTable.time(live.time)) by \(live.actor)"
            text += (live.approver.map { ", approved by \($0)" } ?? "") + (live.runID.map { ", run \($0)" } ?? "") + "\n"
            if live.outcome == .failed, let good = status.lastGood {
                text += "last good:   \(good.tag) (\(TextTable.time(good.time)))\n"
            }
            if live.forceUnverified == true { text += "             released with --force-unverified: its digests did not pass stage\n" }
        } else {
            text += "live:        nothing deployed by stockops (the ledger \(status.ledger) is empty)\n"
        }
        text += "lock:        \(status.lock)\n"
        text += "state:       \(status.stateDirectory)\n"
        if let builds = status.builds {
            text += "builds:      \(builds) (SwiftPM directories of the test and build nodes)\n"
        }
        if let active = status.proxy.active {
            let held = { (slot: Slot) in status.proxy.slots[slot.rawValue].map { "\(slot.rawValue) (\($0.tag))" } ?? "\(slot.rawValue) (empty)" }
            text += "proxy:       traffic to \(held(active)); retained: \(held(active.other))\n"
            if let canary = status.canary { text += canary.summary + "\n" }
            if !status.answering.isEmpty {
                text +=
                    "answering:   " + status.answering.keys.sorted().map { "\($0) \(status.answering[$0]!)" }.joined(separator: ", ")
                    + " (GET /livez on the published ports)\n"
            }
        } else {
            text += "proxy:       not started: no deploy has switched it yet\n"
        }
        let rows = status.services.map { service in
            [
                service.service, service.state ?? "-", service.health ?? "-", service.role ?? "-", service.digest.map { String($0.prefix(19)) } ?? "-",
                service.image ?? "-",
            ]
        }
        text += TextTable.render([["SERVICE", "STATE", "HEALTH", "ROLE", "DIGEST", "IMAGE"]] + rows)
        if let docker = status.docker { text += "containers unknown: \(docker)\n" }
        if !status.drift.isEmpty { text += "NOT SERVING what the ledger says: " + status.drift.joined(separator: "; ") + "\n" }
        return text
    }
}
