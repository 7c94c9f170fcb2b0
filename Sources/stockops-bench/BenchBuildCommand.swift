import ArgumentParser
import Foundation
import StockOpsKit

struct BenchBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Time the build nodes of every service, without the nodes before them.",
        discussion: """
            Runs build[<service>] for each service of the pipeline (registry from STOCKOPS_REGISTRY or the \
            config, anonymous access) and prints `build[<service>] seconds reused|built` lines and the wall time.
            """
    )

    @Option(help: "The pipeline file, relative to the current directory.")
    var config: String = PipelineConfig.defaultPath

    @Option(help: "SwiftPM --scratch-path of the release binaries.")
    var scratchPath: String?

    func run() async throws {
        let root = FileManager.default.currentDirectoryPath
        var config = try PipelineConfig.load(path: self.config)
        if let host = ProcessInfo.processInfo.environment["STOCKOPS_REGISTRY"] { config.registry.host = host }
        config.images.scratchPath = scratchPath ?? config.images.scratchPath
        let settings = ImageSettings(registry: config.registry, images: config.images, secrets: nil)
        var graph = GraphBuilder()
        for service in config.services {
            graph.add(
                NodeID("build", key: service.name), BuildImageStage(service: service, settings: settings),
                policy: NodePolicy(.gate, resources: ["swiftpm-build"]))
        }
        let directory = root + "/.stockops/runs/bench-build-\(UUID().uuidString.prefix(8))"
        let start = ContinuousClock.now
        let result = await Scheduler(jobs: 2, runner: ProcessRunner(), paths: RunPaths(root: root, runDirectory: directory), cache: nil).run(try graph.build())
        let wall = ContinuousClock.now - start
        for service in config.services {
            let id = NodeID("build", key: service.name)
            let node = result[id]
            let built = result.outputs[StockOpsPipeline.build(service.name)]
            print(
                String(
                    format: "%@ %.2f %@", id.description, node?.duration ?? -1, built.map { $0.reused ? "reused" : "built" } ?? "failed: \(node?.reason ?? "")")
            )
        }
        print(String(format: "wall %.2f", Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18))
        if result.status != .passed { throw ExitCode(1) }
    }
}
