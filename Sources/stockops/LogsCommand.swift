import ArgumentParser
import StockOpsKit

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs of an environment's services, from the containers the proxy sends traffic to.",
        discussion: """
            Reads `docker logs` of the live slot's container of each service (--all-slots: the retained slot's too), or of \
            the proxy, the database or the Vault Agent. Lines carry their timestamp, and their service when several \
            containers are read; registered secrets are masked.

            Exit codes: 0 printed (or interrupted while following), 1 no such container (nothing deployed), 2 unknown \
            service or --since, 3 Docker could not be asked.

            Examples:
              stockops logs --env dev --service trade --since 1m
              stockops logs --env prod --follow
              stockops logs --env stage --service proxy --tail 50
            """
    )

    @OptionGroup var target: EnvironmentOptions

    @Option(help: ArgumentHelp("A service of the pipeline, or proxy, db or vault-agent. (default: every service)", valueName: "name"))
    var service: String?

    @Option(help: ArgumentHelp("Only lines since then: 30s, 5m, 2h, or an RFC 3339 time.", valueName: "when"))
    var since: String?

    @Option(help: ArgumentHelp("At most this many lines per container.", valueName: "lines"))
    var tail: Int?

    @Flag(help: "Keep printing new lines until interrupted.")
    var follow = false

    @Flag(help: "Also read the retained slot's containers.")
    var allSlots = false

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail must be 0 or more, got \(tail)") }
    }

    func run() async throws {
        var request = LogsRequest(target: target.request)
        request.service = service
        request.since = since
        request.tail = tail
        request.follow = follow
        request.allSlots = allSlots
        let terminal = Terminal()
        try await terminal.report { () async throws(StockOpsError) in try await request.stream(to: terminal.output) }
    }
}
