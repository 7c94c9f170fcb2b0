import ArgumentParser
import Foundation
import StockOpsKit

@main
struct StockOps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockops",
        abstract: "Run the stock app's CI/CD pipeline as a typed graph of stages.",
        discussion: """
            Exit codes: 0 success, 1 a gate failed, 2 usage or configuration error, \
            3 infrastructure error (tool missing, server unreachable), 4 the environment is locked, 130 interrupted.

            Examples:
              stockops plan                         what would run for the current changes
              stockops run --env dev                run the pipeline for dev
              stockops run --only test --since main test the services changed since main
              stockops graph --format mermaid       the graph as a Mermaid flowchart
              stockops cache prune --keep 2         keep the two newest cache entries per node
              stockops status --env prod            what runs in prod, since when, by whom
              stockops doctor                       can the pipeline run on this machine
              stockops rollback --env stage --tag stage-1a2b3c4 --yes
            """,
        version: StockOpsKit.version,
        subcommands: [
            RunCommand.self, PlanCommand.self, GraphCommand.self, DoctorCommand.self, ExportCommand.self, RollbackCommand.self, TagsCommand.self,
            VerifyCommand.self, RunsCommand.self, ReportCommand.self, StatusCommand.self, LogsCommand.self, HistoryCommand.self, LockCommand.self,
            UnlockCommand.self, RolloutCommand.self, CacheCommand.self, SecretsCommand.self, SandboxCommand.self, GitOpsCommand.self,
        ]
    )

    /// Parses, runs, and maps argument errors to exit status 2.
    static func main() async {
        SecretMasker.shared.announce { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        if let name = CommandLine.arguments.dropFirst().first, let message = unknownCommand(name) {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

extension StockOps {
    /// The error for a first argument that is neither an option nor a command, with the nearest command names.
    static func unknownCommand(_ name: String) -> String? {
        guard !name.hasPrefix("-") else { return nil }
        var names = ["help"]
        var visible: [String] = []
        for command in configuration.subcommands {
            let commandConfiguration = command.configuration
            guard let commandName = commandConfiguration.commandName else { continue }
            names.append(commandName)
            if commandConfiguration.shouldDisplay { visible.append(commandName) }
        }
        guard !names.contains(name) else { return nil }
        let nearest = visible.map { ($0, NearestTags.editDistance($0, name)) }.filter { $0.1 <= max(2, name.count / 3) }.sorted { $0.1 < $1.1 }.prefix(3).map(
            \.0)
        let suggestion = nearest.isEmpty ? "" : "; did you mean " + nearest.map { "'\($0)'" }.joined(separator: " or ") + "?"
        return "error: '\(name)' is not a stockops command\(suggestion) (stockops --help lists them)"
    }
}

extension ExitStatus {
    /// Ends the command with this status.
    func finish() throws {
        if self != .success { throw ExitCode(rawValue) }
    }
}
