import Foundation
import Testing

@testable import StockOpsKit

/// An image stands for exactly one commit: `git-<sha7>` is reused only when its revision label is the commit, and a
/// working tree with changes builds an `uncommitted-…` image that only dev accepts.
@Suite struct OneCommitOneImageTests {
    @Test func labelsAreReadFromTheImageConfigAlsoThroughAnIndex() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "labelled")
        let digest = try await image.push(with: client, to: "stocks/trade", tag: "git-abc1234")
        #expect(try await client.labels("stocks/trade", .digest(digest)) == ["seed": "labelled"])
        let index = HandmadeImage.index(of: [image.manifest])
        let indexDigest = try await client.putManifest(index, in: "stocks/trade", as: .tag(try RegistryTag.parse("multi")))
        #expect(try await client.labels("stocks/trade", .digest(indexDigest)) == ["seed": "labelled"])
    }

    @Test func uncommittedFilesAreTrackedChangesAndUntrackedFilesOutsideTheRunState() async throws {
        let repository = try await Repository()
        try repository.write("services/trade/Sources/TradeService/Trade.swift", "let a = 1\n")
        try repository.write("README.md", "readme\n")
        _ = try await repository.commit("initial")
        let root = repository.root
        let context = StageContext(
            node: "build", log: NodeLog(path: nil), runner: ProcessRunner(), paths: RunPaths(root: root, runDirectory: root + "/.stockops/runs/x"))
        #expect(try await BuildImageStage.uncommittedFiles(Git(repository: root), context) == [])
        try repository.write("services/trade/Sources/TradeService/Trade.swift", "let a = 2\n")
        try repository.write("services/trade/Sources/TradeService/New.swift", "let b = 1\n")
        try repository.write(".stockops/runs/x/run.json", "{}")
        try await repository.git("add", "README.md")
        #expect(
            try await BuildImageStage.uncommittedFiles(Git(repository: root), context) == [
                "services/trade/Sources/TradeService/New.swift", "services/trade/Sources/TradeService/Trade.swift",
            ])
    }

    @Test func uncommittedImagesAreBuildTagsOfTheirCommit() throws {
        #expect(try ReleaseTags.commit(ofBuildTag: "uncommitted-abcdef1-0123456789ab") == "abcdef1")
        #expect(throws: ReleaseTagError.self) { try ReleaseTags.commit(ofBuildTag: "uncommitted-xyz") }
    }

    /// A build node's output, given.
    struct Built: Stage {
        var image: BuiltImage
        func run(_ context: StageContext) async throws -> BuiltImage { image }
    }

    @Test func onlyDevAcceptsAnImageBuiltFromUncommittedChanges() async throws {
        let config = try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        let image = BuiltImage(
            service: "trade", repository: "127.0.0.1:1/stockapp/trade", tag: "uncommitted-abcdef1-0123456789ab",
            digest: "sha256:" + String(repeating: "a", count: 64), reused: false, uncommittedFiles: ["services/trade/Sources/TradeService/Trade.swift"])
        var graph = GraphBuilder()
        let built = graph.add(StockOpsPipeline.build("trade").id, Built(image: image))
        graph.add(
            "promote",
            PromoteStage(
                config: config, environment: .stage, builds: [built], settings: DeploySettings(),
                processEnvironment: ["STOCKOPS_STATE_DIR": temporaryDirectory()]))
        let result = await scheduler().run(try graph.build())
        let promote = try #require(result["promote"])
        #expect(promote.status == .failed)
        #expect(promote.reason?.contains("uncommitted changes (services/trade/Sources/TradeService/Trade.swift)") == true, "\(promote.reason ?? "")")
        #expect(promote.reason?.contains("only dev accepts uncommitted-abcdef1-0123456789ab") == true)
    }
}

/// The deployer reads back which digests the engine's containers run.
@Suite struct RunningDigestsTests {
    @Test func digestsComeFromTheRunningContainersImageReferences() throws {
        let listing = "sha256:" + String(repeating: "a", count: 64)
        let trade = "sha256:" + String(repeating: "b", count: 64)
        let output = [
            "stock-listing-green\trunning\tUp 3 seconds (healthy)\t127.0.0.1:5000/stockapp/stock-listing@\(listing)",
            "trade-green\trunning\tUp 3 seconds (healthy)\t127.0.0.1:5000/stockapp/trade@\(trade)",
            "trade-blue\trunning\tUp 9 minutes (healthy)\t127.0.0.1:5000/stockapp/trade@\(listing)",
            "stock-listing-blue\texited\tExited (0) 1 minute ago\t127.0.0.1:5000/stockapp/stock-listing@\(trade)",
            "db\trunning\tUp 9 seconds (healthy)\tpostgres:15-bookworm",
            "trade\trunning\tUp 1 hour (healthy)\t127.0.0.1:5000/stockapp/trade@\(trade)",
        ].joined(separator: "\n")
        let containers = try ContainerStatus.parse(output)
        #expect(Deployer.runningDigests(containers, slot: .green) == ["stock-listing": listing, "trade": trade])
        #expect(Deployer.runningDigests(containers, slot: .blue) == ["trade": listing])
        #expect(Deployer.runningDigests(containers, slot: nil) == ["trade": trade], "the containers of an environment deployed before the proxy")
    }

    @Test func composeGetsEachServicesDigestAndRefusesANonDigest() throws {
        let config = try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        let compose = ComposeEnvironment.command(flavor: .standalone, environment: .dev, root: "/repo", processEnvironment: [:])
        let environment = ComposeEnvironment(compose: compose, config: config, environment: .dev, processEnvironment: [:])
        let digest = "sha256:" + String(repeating: "c", count: 64)
        let other = "sha256:" + String(repeating: "d", count: 64)
        let variables = try environment.variables(
            tag: RegistryTag("dev-1a2b3c4"), slots: [.green: ["stock-listing": digest, "trade": digest], .blue: ["trade": other]])
        #expect(variables["STOCK_LISTING_GREEN_DIGEST"] == digest)
        #expect(variables["TRADE_GREEN_DIGEST"] == digest)
        #expect(variables["TRADE_BLUE_DIGEST"] == other)
        #expect(variables["STOCK_LISTING_BLUE_DIGEST"] == nil)
        #expect(throws: StockOpsError.self) { try environment.variables(tag: nil, slots: [.blue: ["trade": "latest"]]) }
    }
}

/// `status` compares what the engine runs with what the ledger says is live.
@Suite struct ServingDriftTests {
    @Test func aStoppedUnhealthyOrOtherDigestInTheLiveSlotIsDrift() {
        let listing = "sha256:" + String(repeating: "a", count: 64)
        let trade = "sha256:" + String(repeating: "b", count: 64)
        let other = "sha256:" + String(repeating: "c", count: 64)
        let live = LedgerEntry(
            environment: .dev, action: .deploy, tag: "dev-1234567", images: ["stock-listing": listing, "trade": trade], outcome: .succeeded, actor: "t")
        func container(_ service: String, _ state: String, _ health: String?, _ digest: String) -> ContainerStatus {
            ContainerStatus(
                service: service, state: state, health: health, image: "127.0.0.1:5000/stockapp/\(Slot.parse(service)?.service ?? service)@\(digest)",
                status: "")
        }
        let retained = [container("stock-listing-blue", "running", "healthy", other), container("trade-blue", "exited", nil, other)]
        #expect(
            EnvironmentRequest.servingDrift(
                live: live,
                containers: retained + [
                    container("stock-listing-green", "running", "healthy", listing), container("trade-green", "running", "healthy", trade),
                ], slot: .green
            ).isEmpty)
        #expect(
            EnvironmentRequest.servingDrift(
                live: live, containers: [container("stock-listing-green", "exited", nil, listing), container("trade-green", "running", "unhealthy", trade)],
                slot: .green)
                == ["stock-listing is exited", "trade is unhealthy"])
        #expect(
            EnvironmentRequest.servingDrift(live: live, containers: retained + [container("stock-listing-green", "running", "healthy", other)], slot: .green)
                == ["stock-listing runs \(other.prefix(19)), not dev-1234567's \(listing.prefix(19))", "trade is not there"])
        #expect(
            !EnvironmentRequest.servingDrift(live: live, containers: retained, slot: .blue).isEmpty, "the retained slot is not what the ledger says is live")
        #expect(
            EnvironmentRequest.servingDrift(
                live: live, containers: [container("stock-listing", "running", "healthy", listing), container("trade", "running", "healthy", trade)], slot: nil
            ).isEmpty,
            "before the proxy, the services' own containers serve")
        #expect(EnvironmentRequest.servingDrift(live: nil, containers: [], slot: nil).isEmpty)
    }
}
