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

        @Option(help: "The repository root. (default: the current directory)")
        var root: String?

        @Option(help: "Entries kept per node, newest first.")
        var keep: Int = 1

        @Flag(help: "Print JSON: {schemaVersion, directory, removed, kept}.")
        var json = false

        func validate() throws {
            guard keep >= 0 else { throw ValidationError("--keep must be 0 or more, got \(keep)") }
        }

        func run() async throws {
            let root = root ?? FileManager.default.currentDirectoryPath
            try Session().pruneCache(root: root, keep: keep, json: json, processEnvironment: RunEnvironment.load(root: root)).finish()
        }
    }
}
