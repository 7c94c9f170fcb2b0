import ArgumentParser
import Foundation
import StockOpsKit

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Manage the cache of node results (.stockops/cache).",
        subcommands: [Prune.self]
    )

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove old cache entries.",
            discussion: """
                Examples:
                  stockops cache prune            keep the newest entry of each node
                  stockops cache prune --keep 0   empty the cache
                """
        )

        @OptionGroup var root: RootOption

        @Option(help: "Entries kept per node, newest first.")
        var keep: Int = 1

        @Flag(help: "Print JSON: {schemaVersion, directory, removed, kept}.")
        var json = false

        func validate() throws {
            guard keep >= 0 else { throw ValidationError("--keep must be 0 or more, got \(keep)") }
        }

        func run() async throws {
            let terminal = Terminal()
            let cache = OutputCache(directory: StateDirectory.cache(root: root.path, environment: root.environment))
            let report = try await terminal.report { () throws(StockOpsError) in
                do {
                    return try cache.prune(keep: keep)
                } catch {
                    throw StockOpsError(.infrastructure, "could not prune \(cache.directory): \(error)")
                }
            }
            if json {
                struct Pruned: Encodable {
                    var directory: String
                    var removed: Int
                    var kept: Int
                }
                return terminal.json(Pruned(directory: cache.directory, removed: report.removed, kept: report.kept))
            }
            terminal.output.write("removed \(report.removed) cache entries, kept \(report.kept) (in \(cache.directory))\n")
        }
    }
}
