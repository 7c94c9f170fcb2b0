import Foundation
import Testing

@testable import StockOpsKit

/// Services are selected by what their product and tests are really built from: the package's own dependency
/// closure (`swift package describe`), not only the paths `pipelines/stockops.yml` lists.
@Suite struct DependencySelectionTests {
    let runs = RunOperationTests()

    @Test func theClosureFollowsTargetDependencies() throws {
        let graph = PackageGraph(targets: [
            .init(name: "trade", path: "services/trade/Sources/trade", dependencies: ["TradeService"]),
            .init(name: "TradeService", path: "services/trade/Sources/TradeService", dependencies: ["Postgres"]),
            .init(name: "TradeServiceTests", path: "services/trade/Tests/TradeServiceTests", dependencies: ["TradeService", "StockListingService", "Missing"]),
            .init(name: "StockListingService", path: "services/stock-listing/Sources/StockListingService", dependencies: ["Postgres"]),
            .init(name: "Postgres", path: "Sources/Postgres", dependencies: []),
            .init(name: "Unrelated", path: "Sources/Unrelated", dependencies: []),
        ])
        #expect(
            graph.closurePaths(["trade", "TradeServiceTests"]) == [
                "Sources/Postgres/", "services/stock-listing/Sources/StockListingService/", "services/trade/Sources/TradeService/",
                "services/trade/Sources/trade/", "services/trade/Tests/TradeServiceTests/",
            ])
        #expect(throws: ToolOutputError.self) { try PackageGraph.parse(Data("warning: nothing".utf8)) }
        #expect(graph.under("services").closurePaths(["TradeService"]) == ["services/Sources/Postgres/", "services/services/trade/Sources/TradeService/"])
        #expect(graph.under(".") == graph)
    }

    /// In a clone of this repository: a commit touching only stock-listing's library (where the migrations live) selects
    /// trade's tests too, which import it; one touching only trade's library leaves stock-listing out.
    @Test func aChangeToALibraryATestImportsSelectsThatTest() async throws {
        let (clone, repository) = try await Self.cloneOfThisRepository()
        defer { try? FileManager.default.removeItem(atPath: clone) }
        try await repository.git("checkout", "-q", "-b", "develop")

        func plan() async throws -> [String: NodeStatus] {
            var request = RunRequest(
                root: clone, environment: .dev,
                processEnvironment: ["STOCKOPS_STATE_DIR": clone + "/.stockops/state", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
            request.since = "HEAD~1"
            let plan = try await request.plan()
            #expect(plan.exitStatus == .success, "\(plan.failure?.message ?? "")")
            let record = plan.record
            return Dictionary(uniqueKeysWithValues: record.nodes.map { ($0.id.description, $0.status) })
        }
        // A good deploy in the ledger, so the plan selects by change, not as a first deploy.
        try Ledger(stateDirectory: clone + "/.stockops/state", environment: .dev).append(
            LedgerEntry(environment: .dev, action: .deploy, tag: "dev-0000000", images: [:], outcome: .succeeded, actor: "test"))

        let listing = "services/stock-listing/Sources/StockListingService/StockListing.swift"
        try (try String(contentsOfFile: clone + "/" + listing, encoding: .utf8) + "\n// a migration\n").write(
            toFile: clone + "/" + listing, atomically: true, encoding: .utf8)
        _ = try await repository.commit("stock-listing's library only")
        let afterListing = try await plan()
        #expect(afterListing["test[stock-listing]"] == .wouldRun)
        #expect(afterListing["test[trade]"] == .wouldRun, "TradeServiceTests import StockListingService")

        let trade = "services/trade/Sources/TradeService/TradeApp.swift"
        try (try String(contentsOfFile: clone + "/" + trade, encoding: .utf8) + "\n// a change\n").write(
            toFile: clone + "/" + trade, atomically: true, encoding: .utf8)
        _ = try await repository.commit("trade's library only")
        let afterTrade = try await plan()
        #expect(afterTrade["test[trade]"] == .wouldRun)
        #expect(afterTrade["test[stock-listing]"] == .skipped, "nothing stock-listing is built from changed")
    }

    /// A test node's key in a clone of this repository: the Package.resolved that SwiftPM writes on a fresh clone
    /// (ignored by git here) leaves the key as it was; a committed one is part of it, and so is an edit of it.
    @Test func aTestKeyCountsPackageResolvedAsGitSeesIt() async throws {
        let (clone, repository) = try await Self.cloneOfThisRepository()
        defer { try? FileManager.default.removeItem(atPath: clone) }
        let config = try PipelineConfig.load(root: clone, configPath: PipelineConfig.defaultPath)
        let service = try #require(config.services.first { $0.name == "trade" })
        let inputs = StockOpsPipeline.testSources(service, sharedPaths: config.sharedPaths, plus: [])
        func key() async throws -> [String] { try await inputs(CacheKeyContext(root: clone, runner: ProcessRunner(), node: "test[trade]")) }
        let resolved = clone + "/" + service.resolvedFile
        #expect(!FileManager.default.fileExists(atPath: resolved), "a fresh clone has no Package.resolved")

        let fresh = try await key()
        try "{\"pins\": [], \"version\": 3}\n".write(toFile: resolved, atomically: true, encoding: .utf8)
        #expect(try await key() == fresh, "an ignored Package.resolved is not part of the key")

        try await repository.git("add", "-f", service.resolvedFile)
        _ = try await repository.commit("commit the resolved versions")
        let committed = try await key()
        #expect(committed != fresh, "a committed Package.resolved is")
        try "{\"pins\": [{\"identity\": \"swift-nio\"}], \"version\": 3}\n".write(toFile: resolved, atomically: true, encoding: .utf8)
        #expect(try await key() != committed, "and so is an edit of it")
    }

    /// A clone of this repository in a temporary directory, with a committer; the caller deletes it.
    static func cloneOfThisRepository() async throws -> (String, Repository) {
        let clone = temporaryDirectory("clone")
        _ = try await ProcessRunner().run(Command("git", ["clone", "-q", OpenBaoDevServer.repositoryRoot.path, clone])).check("git clone")
        let repository = Repository(existing: clone)
        try await repository.git("config", "user.email", "ci@example.invalid")
        try await repository.git("config", "user.name", "CI")
        try await repository.git("config", "commit.gpgsign", "false")
        return (clone, repository)
    }

    /// SwiftPM's lock message comes on the same line as the path when another build holds the package.
    @Test func theCodecovPathIsReadBehindSwiftPMsLockMessage() {
        let path = "/src/stockops/.build/x86_64-unknown-linux-gnu/debug/codecov/stockops.json"
        #expect(TestStage.codecovPath(path + "\n") == path)
        #expect(
            TestStage.codecovPath(
                "Another instance of SwiftPM (PID: 3661) is already running using '/src/stockops/.build', waiting until that process has finished execution..."
                    + path + "\n") == path)
        #expect(TestStage.codecovPath("warning: nothing\n") == nil)
    }
}
