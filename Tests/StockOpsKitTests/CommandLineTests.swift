import Foundation
import Testing

@testable import StockOpsKit

/// The `stockops` binary: a mistyped command gets a suggestion, and `graph` does what its options say.
@Suite struct CommandLineTests {
    static let root = OpenBaoDevServer.repositoryRoot.path

    func stockops(_ arguments: [String]) async throws -> ToolResult {
        let binary = EnvironmentLockTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw FixtureError("\(binary) is missing: run swift build --build-tests first") }
        // A directory of its own: nothing the binary writes where it runs lands in the checkout.
        return try await runTool([binary] + arguments, directory: temporaryDirectory("cli"))
    }

    @Test func aMistypedCommandGetsTheNearestNames() async throws {
        let typo = try await stockops(["statuz", "--env", "dev"])
        #expect(typo.status == 2)
        #expect(typo.output.contains("error: 'statuz' is not a stockops command; did you mean 'status'?"), "\(typo.output)")
        let nothing = try await stockops(["zzzzzzzz"])
        #expect(nothing.status == 2 && nothing.output.contains("is not a stockops command (stockops --help lists them)"), "\(nothing.output)")
    }

    @Test func graphHonoursOnlySkipAndJSON() async throws {
        let all = try await stockops(["graph", "--root", Self.root, "--env", "dev", "--json"])
        #expect(all.status == 0, "\(all.output)")
        struct Graph: Decodable {
            struct Node: Decodable {
                var id: String
                var dependencies: [String]
            }
            var schemaVersion: Int
            var nodes: [Node]
        }
        let whole = try JSONDecoder().decode(Graph.self, from: Data(all.output.utf8))
        #expect(whole.schemaVersion == 1 && whole.nodes.contains { $0.id == "deploy" })
        let tests = try await stockops(["graph", "--root", Self.root, "--env", "dev", "--json", "--only", "test[trade]"])
        let only = try JSONDecoder().decode(Graph.self, from: Data(tests.output.utf8))
        #expect(only.nodes.contains { $0.id == "test[trade]" } && !only.nodes.contains { $0.id == "deploy" || $0.id == "test[stock-listing]" })
        #expect(only.nodes.allSatisfy { node in node.dependencies.allSatisfy { dependency in only.nodes.contains { $0.id == dependency } } })
        let skipped = try await stockops(["graph", "--root", Self.root, "--env", "dev", "--skip", "deploy"])
        #expect(skipped.status == 0 && skipped.output.hasPrefix("flowchart LR") && !skipped.output.contains("deploy["), "\(skipped.output)")
    }

    /// `--env` takes any environment the pipeline lists: a `qa` added to it has a deploy like the others; one it does
    /// not list is a usage error naming those it does.
    @Test func anEnvironmentAddedToThePipelineIsAnEnvironmentOfEveryCommand() async throws {
        let root = temporaryDirectory("cli-qa")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/pipelines", withIntermediateDirectories: true)
        let yaml = try String(contentsOfFile: Self.root + "/pipelines/stockops.yml", encoding: .utf8)
        try yaml.write(toFile: root + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)

        let unknown = try await stockops(["graph", "--root", root, "--env", "qa"])
        #expect(unknown.status == 2)
        #expect(unknown.output.contains("no environment qa in the pipeline (it has dev, stage, prod); add qa under environments:"), "\(unknown.output)")
        let invalid = try await stockops(["graph", "--root", root, "--env", "QA"])
        #expect(invalid.status == 2 && invalid.output.contains("'QA'"), "\(invalid.output)")

        try EnvironmentFilesTests.withQA(yaml).write(toFile: root + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
        let graph = try await stockops(["graph", "--root", root, "--env", "qa", "--json"])
        #expect(graph.status == 0, "\(graph.output)")
        #expect(graph.output.contains("\"id\" : \"deploy\""), "\(graph.output)")
        let workflow = try await stockops(["export", "github-actions", "--root", root, "--env", "qa"])
        #expect(workflow.status == 0 && workflow.output.contains("branches: [\"qa\"]"), "\(workflow.output)")
        #expect(workflow.output.contains("runs-on: [self-hosted, stockops-qa]"), "\(workflow.output)")
        let pipeline = try PipelineConfig.load(path: root + "/pipelines/stockops.yml")
        #expect(Environment.derive(fromRef: "refs/heads/qa", using: pipeline.environments)?.rawValue == "qa")
    }

    @Test func runsListsShowsAndPrunes() async throws {
        let root = temporaryDirectory("cli-runs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runID = "20261130T120000Z-cafe"
        let paths = RunPaths(root: root, runDirectory: RunHistory.directory(root: root) + "/" + runID)
        var graph = GraphBuilder()
        graph.add("noisy", FailureDigestTests.Noisy(lines: 2, secret: "y"))
        let result = await Scheduler(jobs: 1, runner: ProcessRunner(grace: .seconds(2)), paths: paths, cache: nil).run(try graph.build())
        try RunRecord(runID: runID, environment: "dev", exitCode: 1, result: result, paths: paths).write(to: paths)

        let list = try await stockops(["runs", "list", "--root", root, "--json"])
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("\"schemaVersion\" : 1") && list.output.contains("\"runID\" : \"\(runID)\""), "\(list.output)")
        let show = try await stockops(["runs", "show", "--root", root, "20261130"])
        #expect(show.status == 0 && show.output.contains("✗ noisy failed: boom") && show.output.contains("│ line 2"), "\(show.output)")
        let missing = try await stockops(["runs", "show", "--root", root, "1999"])
        #expect(missing.status == 2 && missing.output.contains("no pipeline run 1999"), "\(missing.output)")
        let prune = try await stockops(["runs", "prune", "--root", root, "--keep", "0"])
        #expect(prune.status == 0 && prune.output.contains("removed 1 run(s)"))
        #expect(RunHistory.list(root: root).isEmpty)
    }
}
