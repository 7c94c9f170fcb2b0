import ArgumentParser
import Foundation
import StockOpsKit

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show and prune the runs kept in .stockops/runs.",
        subcommands: [List.self, Show.self, Prune.self],
        defaultSubcommand: List.self
    )

    struct Location: ParsableArguments {
        @OptionGroup var root: RootOption

        var path: String { root.path }

        /// The record of `runID` (the newest run when nil) and its paths; a missing run is a usage error, printed.
        func record(_ runID: String?) throws -> (RunRecord, RunPaths) {
            do {
                return try RunHistory.record(root: path, runID: runID)
            } catch {
                FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
                throw ExitCode(ExitStatus.usage.rawValue)
            }
        }
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Records of strings, dates and finite numbers always encode.
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The runs, newest first: id, kind, environment, status, duration, failed nodes.",
            discussion: "Exit codes: 0 listed (also when there is none).")

        @OptionGroup var location: Location

        @Option(help: "At most this many runs.")
        var limit: Int = 20

        @Flag(help: "Print JSON: {schemaVersion, runs: [...]}.")
        var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be 1 or more, got \(limit)") }
        }

        func run() async throws {
            let runs = Array(RunHistory.list(root: location.path).prefix(limit))
            if json {
                struct Listing: Encodable {
                    var schemaVersion = 1
                    var runs: [RunSummary]
                }
                RunsCommand.write(RunsCommand.json(Listing(runs: runs)))
                return
            }
            guard !runs.isEmpty else {
                RunsCommand.write("no runs under \(RunHistory.directory(root: location.path))\n")
                return
            }
            let rows = runs.map { run in
                [
                    run.runID, run.kind, run.environment ?? "-", run.status, run.duration.map { String(format: "%.1f s", $0) } ?? "-",
                    run.failed.isEmpty ? "" : "failed: " + run.failed.joined(separator: ", "),
                ]
            }
            RunsCommand.write(TextTable.render([["RUN", "KIND", "ENV", "STATUS", "DURATION", "DETAIL"]] + rows))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One run's nodes, and each failed node's reason, log and last lines.",
            discussion: """
                RUN is a run id or its prefix; the newest pipeline run without it.

                Exit codes: 0 shown, 2 no such run.
                """)

        @OptionGroup var location: Location

        @Argument(help: ArgumentHelp("The run id (or a prefix of it).", valueName: "run"))
        var runID: String?

        @Flag(help: "Print the run record (run.json).")
        var json = false

        func run() async throws {
            let (record, paths) = try location.record(runID)
            if json {
                RunsCommand.write(String(decoding: try record.encoded(), as: UTF8.self) + "\n")
                return
            }
            var text =
                "run \(record.runID) — \(record.environment ?? "-") \(record.status.rawValue), exit \(record.exitCode), \(String(format: "%.1f s", record.duration))\n"
            let rows = record.nodes.map { node in
                [
                    node.id.description, node.status.rawValue, String(format: "%.1f s", node.duration),
                    node.reason.map { String($0.split(separator: "\n").first ?? "") } ?? "",
                ]
            }
            text += TextTable.render([["NODE", "STATUS", "DURATION", "REASON"]] + rows)
            text += FailureDigest.text(RunHistory.failures(record, paths: paths), githubActions: false)
            text += "record: \(paths.runDirectory)/run.json\n"
            RunsCommand.write(text)
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete all but the newest runs.",
            discussion: """
                Examples:
                  stockops runs prune             keep the 20 newest
                  stockops runs prune --keep 0    delete every run record

                Exit codes: 0 pruned, 3 a directory could not be removed.
                """)

        @OptionGroup var location: Location

        @Option(help: "Runs kept, newest first.")
        var keep: Int = 20

        @Flag(help: "Print JSON: {schemaVersion, removed: [run ids], keep}.")
        var json = false

        func validate() throws {
            guard keep >= 0 else { throw ValidationError("--keep must be 0 or more, got \(keep)") }
        }

        func run() async throws {
            do {
                let removed = try RunHistory.prune(root: location.path, keep: keep)
                if json {
                    struct Pruned: Encodable {
                        var removed: [String]
                        var keep: Int
                    }
                    RunsCommand.write(JSONOutput.document(Pruned(removed: removed, keep: keep)))
                } else {
                    RunsCommand.write("removed \(removed.count) run(s); kept the \(keep) newest\n")
                }
            } catch {
                FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
                throw ExitCode(ExitStatus.infrastructure.rawValue)
            }
        }
    }
}
