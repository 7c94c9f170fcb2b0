import ArgumentParser
import Foundation
import StockOpsKit

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that the configured pipeline can run on this machine, and say what to do when it cannot.",
        discussion: """
            Checks every tool the pipeline of pipelines/stockops.yml uses (found in PATH, version against the \
            minimum), every server it talks to (Docker engine, registry, Vault and each secret path it reads, \
            SonarQube, DefectDojo, Argo CD, each only when configured) and that the state directory is writable. \
            Reads .stockops/sandbox.env like run. Prints key names only, never secret values.

            Exit codes: 0 the pipeline can run (optional misses are warnings), 2 configuration error, \
            3 a required check failed.

            Examples:
              stockops doctor
              stockops doctor --env stage --json
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @Option(
        name: [.customShort("e"), .long],
        help:
            "The environment, one listed under environments: in the pipeline (dev, stage, prod unless it lists more). Default: derived from GITHUB_REF, else dev."
    )
    var env: Environment?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let root = repository.root.path
        let config = repository.config
        let processEnvironment = repository.root.environment
        let pipeline: PipelineConfig
        do {
            pipeline = try PipelineConfig.load(root: root, configPath: config)
        } catch {
            Console(fd: 2).write("error: \(error.description)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        let environment =
            env
            // A ref that maps to no environment means dev, as --env's help says.
            ?? (try? Environment.resolve(explicit: nil, ref: processEnvironment.githubRef, force: false, using: pipeline.environments))
            ?? .dev
        do {
            try Environment.check(environment, in: pipeline.environments)
        } catch {
            Console(fd: 2).write("error: \(error.message)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        let report = await Doctor(root: root, processEnvironment: processEnvironment).check(config: pipeline, environment: environment)
        let output = Console(fd: 1)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            output.write(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } else {
            output.write(Self.render(report, configPath: config))
        }
        try report.exitStatus.finish()
    }

    /// The report as a list of checks, then the problems and warnings with what to do.
    static func render(_ report: DoctorReport, configPath: String) -> String {
        func mark(_ check: DoctorCheck) -> String {
            switch check.status {
            case .ok: "✓"
            case .warning: "!"
            default: "✗"
            }
        }
        func state(_ check: DoctorCheck) -> String {
            switch check.status {
            case .ok: check.version ?? "ok"
            case .tooOld: "too old: \(check.version ?? "?") < \(check.minimum ?? "?")"
            case .warning where check.found == nil && check.kind == .tool: "missing"
            default: check.status.rawValue
            }
        }
        func where_(_ check: DoctorCheck) -> String {
            guard let found = check.found, check.kind != .tool || check.status != .ok else { return "" }
            return found + ": "
        }
        let nameWidth = report.checks.map(\.name.count).max() ?? 0
        let stateWidth = min(24, report.checks.map { state($0).count }.max() ?? 0)
        var text = "stockops doctor: \(configPath), environment \(report.environment)\n"
        for check in report.checks {
            let optional = check.required || check.status == .ok ? "" : " (optional)"
            text +=
                "  \(mark(check)) " + check.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + "  " + state(check).padding(toLength: max(stateWidth, state(check).count), withPad: " ", startingAt: 0)
                + "  " + where_(check) + check.detail + optional + "\n"
        }
        let problems = report.problems
        let warnings = report.warnings.filter { $0.fix != nil }
        if !problems.isEmpty {
            text += "\n\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
            for check in problems { text += "  ✗ \(check.name): \(check.fix ?? check.detail)\n" }
        }
        if !warnings.isEmpty {
            text += "\n\(warnings.count) warning\(warnings.count == 1 ? "" : "s") (optional):\n"
            for check in warnings { text += "  ! \(check.name): \(check.fix ?? check.detail)\n" }
        }
        text +=
            report.ok
            ? "\nThe pipeline can run here" + (warnings.isEmpty ? ".\n" : "; the optional parts above are skipped.\n")
            : "\nThe pipeline cannot run here until the problems above are fixed.\n"
        text += "Tools, versions and servers: docs/stockops.md#doctor\n"
        return text
    }
}
