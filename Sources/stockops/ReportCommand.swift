import ArgumentParser
import Foundation
import StockOpsKit

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's self-contained HTML report and print its path.",
        discussion: """
            The page shows the graph coloured by status (drawn by Graphviz's dot when it is installed), a timeline of every \
            node, the failed nodes with the end of their logs, the tests, vulnerabilities, findings, images and deploy, and \
            each node's note, output and log. It loads nothing from the network and runs no script. Every `stockops run` \
            writes one next to its run.json already; this command writes it again, for an older run or to another place.

            RUN is a run id or its prefix; the newest pipeline run without it.

            Exit codes: 0 written, 2 no such run, 3 the file could not be written.

            Examples:
              stockops report
              stockops report 20261201T0930 --output /tmp/run.html
            """
    )

    @OptionGroup var location: RunsCommand.Location

    @Argument(help: ArgumentHelp("The run id (or a prefix of it).", valueName: "run"))
    var runID: String?

    @Option(help: "Where to write the page. (default: report.html in the run's directory)")
    var output: String?

    @Flag(help: "Print JSON: {schemaVersion, runID, report}.")
    var json = false

    func run() async throws {
        let (record, paths) = try location.record(runID)
        do {
            var written = try await RunReport.write(record, paths: paths)
            if let output {
                let destination = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
                if FileManager.default.fileExists(atPath: destination) { try FileManager.default.removeItem(atPath: destination) }
                try FileManager.default.copyItem(atPath: written, toPath: destination)
                written = destination
            }
            if json {
                struct Written: Encodable {
                    var runID: String
                    var report: String
                }
                RunsCommand.write(JSONOutput.document(Written(runID: record.runID, report: written)))
            } else {
                RunsCommand.write(written + "\n")
            }
        } catch {
            FileHandle.standardError.write(
                Data("error: the report could not be written: \(error.localizedDescription); check that the directory exists and is writable\n".utf8))
            throw ExitCode(ExitStatus.infrastructure.rawValue)
        }
    }
}
