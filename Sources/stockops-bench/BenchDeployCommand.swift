import ArgumentParser
import Foundation
import StockOpsKit

struct BenchDeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Run promote and deploy for images built elsewhere.",
        discussion: """
            Reads the output of build[<service>] (a BuiltImage JSON object) from DIR/<service>.json for every service, \
            then runs the pipeline's promote and deploy nodes for --env. Prints `release <env> <tag> <status> <seconds>`. \
            Used by scripts/bench-deploy.sh and scripts/bench-zero-downtime.sh.
            """
    )

    @Option(help: "The environment: dev, stage or prod.")
    var env: Environment

    @Option(help: ArgumentHelp("The directory of <service>.json build outputs.", valueName: "dir"))
    var builds: String

    @Option(help: ArgumentHelp("Who approves, where the environment requires approval.", valueName: "name"))
    var approver: String?

    @Flag(help: "Release to prod digests without a stage proof (recorded in the ledger).")
    var forceUnverified = false

    @Option(help: "The repository root. (default: the current directory)")
    var root: String?

    @Option(help: "The pipeline file, relative to the root.")
    var config: String = PipelineConfig.defaultPath

    func run() async throws {
        let root = root ?? FileManager.default.currentDirectoryPath
        let pipeline = try PipelineConfig.load(root: root, configPath: config)
        let decoder = JSONDecoder()
        let images = try pipeline.services.map { service in
            let path = builds + "/" + service.name + ".json"
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path) is missing") }
            return try decoder.decode(BuiltImage.self, from: data)
        }
        var request = RunRequest(root: root, configPath: config, environment: env, processEnvironment: RunEnvironment.load(root: root))
        request.approvals = ["deploy"]
        request.approver = approver
        request.forceUnverified = forceUnverified
        let outcome: ReleaseOutcome
        do {
            outcome = try await request.release(builds: images, progress: Console(fd: 2))
        } catch {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(error.exitStatus.rawValue)
        }
        print("release \(outcome.environment.rawValue) \(outcome.tag ?? "-") \(outcome.status.rawValue) " + String(format: "%.2f", outcome.seconds))
        try outcome.exitStatus.finish()
    }
}
