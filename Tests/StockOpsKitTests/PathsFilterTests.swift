import Foundation
import Testing

@testable import StockOpsKit

/// A throwaway git repository with the layout of the stock app.
struct Repository {
    let root: String
    let runner = ProcessRunner()

    /// A repository that exists already, such as a clone.
    init(existing root: String) {
        self.root = root
    }

    init() async throws {
        root = temporaryDirectory("repo")
        try await git("init", "-q", "-b", "main")
        try await git("config", "user.email", "ci@example.invalid")
        try await git("config", "user.name", "CI")
        try await git("config", "commit.gpgsign", "false")
    }

    @discardableResult
    func git(_ arguments: String...) async throws -> String {
        try await runner.run(Command("git", ["-C", root] + arguments)).check("git \(arguments.joined(separator: " "))").output
    }

    func write(_ path: String, _ text: String = UUID().uuidString) throws {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func commit(_ message: String) async throws -> String {
        try await git("add", "-A")
        try await git("commit", "-q", "-m", message)
        return try await git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite struct PathsFilterTests {
    static let services = [
        ServiceConfig(
            name: "stock-listing", paths: ["services/stock-listing/"], product: "stock-listing", testTarget: "StockListingServiceTests", healthPath: "/health",
            ports: [:]),
        ServiceConfig(name: "trade", paths: ["services/trade/"], product: "trade", testTarget: "TradeServiceTests", healthPath: "/health", ports: [:]),
    ]
    static let shared = ["Package.swift", "Sources/ServiceKit/"]

    func filter(_ repository: Repository, since: String? = nil, eventPath: String? = nil, all: Bool = false) async throws -> ChangeSet {
        let stage = PathsFilterStage(services: Self.services, sharedPaths: Self.shared, since: since, eventPath: eventPath, selectAll: all)
        let context = StageContext(
            node: "paths-filter", log: NodeLog(path: nil), runner: ProcessRunner(),
            paths: RunPaths(root: repository.root, runDirectory: repository.root + "/.stockops/runs/x"))
        return try await stage.run(context)
    }

    func seeded() async throws -> (Repository, String) {
        let repository = try await Repository()
        try repository.write("Package.swift")
        try repository.write("Sources/ServiceKit/ServiceKit.swift")
        try repository.write("services/trade/Sources/TradeService/Trade.swift")
        try repository.write("services/stock-listing/Sources/StockListingService/Listing.swift")
        try repository.write("README.md")
        return (repository, try await repository.commit("initial"))
    }

    @Test func aGitOlderThan230IsRefused() async throws {
        let (repository, _) = try await seeded()
        let git = try StandIn(
            "git",
            script: #"""
                if ARGS == ["--version"]:
                    print("git version 2.29.2"); sys.exit(0)
                os.execv("/usr/bin/git", ["git"] + ARGS)
                """#)
        let stage = PathsFilterStage(services: Self.services, sharedPaths: Self.shared, git: git.path)
        let context = StageContext(
            node: "paths-filter", log: NodeLog(path: nil), runner: ProcessRunner(),
            paths: RunPaths(root: repository.root, runDirectory: repository.root + "/.stockops/runs/x"))
        let failure = await #expect(throws: StageFailure.self) { try await stage.run(context) }
        #expect(failure?.kind == .infrastructure)
        #expect(failure?.message.hasPrefix("git 2.29.2 is older than 2.30, the minimum (--end-of-options)") == true, "\(failure?.message ?? "")")
        let current = PathsFilterStage(services: Self.services, sharedPaths: Self.shared, git: "git")
        #expect(try await current.run(context).base != nil)
    }

    @Test func aOneServiceChangeSelectsThatService() async throws {
        let (repository, base) = try await seeded()
        try await repository.git("checkout", "-q", "-b", "feature")
        try repository.write("services/trade/Sources/TradeService/Order.swift")
        _ = try await repository.commit("order")
        let changes = try await filter(repository)
        #expect(changes.services == ["trade"])
        #expect(changes.base == base)
        #expect(changes.baseSource == "merge-base with main")
        #expect(changes.files == ["services/trade/Sources/TradeService/Order.swift"])
        #expect(!changes.sharedChanged)
    }

    @Test func aSharedChangeSelectsEveryService() async throws {
        let (repository, base) = try await seeded()
        try repository.write("Sources/ServiceKit/ServiceKit.swift", "changed")
        _ = try await repository.commit("shared")
        let changes = try await filter(repository, since: base)
        #expect(changes.services == ["stock-listing", "trade"])
        #expect(changes.sharedChanged)
        #expect(changes.baseSource == "--since \(base)")
    }

    @Test func unrelatedAndUncommittedChanges() async throws {
        let (repository, base) = try await seeded()
        try repository.write("README.md", "docs only")
        let docs = try await filter(repository, since: base)
        #expect(docs.services.isEmpty)
        try repository.write("services/stock-listing/new-untracked.swift")
        let untracked = try await filter(repository, since: "HEAD")
        #expect(untracked.services == ["stock-listing"])
    }

    @Test func thePushEventBeforeIsTheBase() async throws {
        let (repository, first) = try await seeded()
        try repository.write("services/stock-listing/Sources/StockListingService/Quote.swift")
        _ = try await repository.commit("quote")
        try repository.write("services/trade/Sources/TradeService/Order.swift")
        let second = try await repository.commit("order")
        let event = temporaryDirectory("event") + "/event.json"
        try Data(#"{"before": "\#(first)", "after": "\#(second)"}"#.utf8).write(to: URL(fileURLWithPath: event))
        let changes = try await filter(repository, eventPath: event)
        #expect(changes.baseSource == "push event before")
        #expect(changes.base == first)
        #expect(changes.services == ["stock-listing", "trade"])
        #expect(!changes.sharedChanged)

        try Data(#"{"before": "0000000000000000000000000000000000000000"}"#.utf8).write(to: URL(fileURLWithPath: event))
        let newBranch = try await filter(repository, eventPath: event)
        #expect(newBranch.baseSource == "merge-base with main")
    }

    @Test func thePullRequestBaseBranchIsPreferred() async throws {
        let (repository, _) = try await seeded()
        try await repository.git("checkout", "-q", "-b", "release")
        try repository.write("services/stock-listing/Sources/StockListingService/Quote.swift")
        let releaseHead = try await repository.commit("quote")
        try await repository.git("checkout", "-q", "-b", "feature")
        try repository.write("services/trade/Sources/TradeService/Order.swift")
        _ = try await repository.commit("order")
        let stage = PathsFilterStage(services: Self.services, sharedPaths: Self.shared, pullRequestBase: "release")
        let context = StageContext(
            node: "paths-filter", log: NodeLog(path: nil), runner: ProcessRunner(),
            paths: RunPaths(root: repository.root, runDirectory: repository.root + "/.stockops/runs/x"))
        let changes = try await stage.run(context)
        #expect(changes.base == releaseHead)
        #expect(changes.baseSource == "merge-base with release")
        #expect(changes.services == ["trade"])
    }

    @Test func theRunDirectoryIsNeverAChange() async throws {
        let (repository, _) = try await seeded()
        try repository.write(".stockops/runs/r/logs/services/trade/x.log")
        #expect(try await filter(repository, since: "HEAD").files.isEmpty)
    }

    @Test func withoutABaseEverythingChanged() async throws {
        let repository = try await Repository()
        try repository.write("README.md")
        let changes = try await filter(repository)
        #expect(changes.base == nil)
        #expect(changes.services == ["stock-listing", "trade"])
    }

    @Test func anUnknownSinceIsAnError() async throws {
        let (repository, _) = try await seeded()
        await #expect {
            try await filter(repository, since: "no-such-branch")
        } throws: { error in
            "\(error)".contains("--since no-such-branch")
        }
    }

    @Test func allSelectsEveryServiceWithoutDiffing() async throws {
        let (repository, _) = try await seeded()
        #expect(try await filter(repository, since: "HEAD", all: true).services == ["stock-listing", "trade"])
    }

    @Test func theFingerprintFollowsContentIncludingUncommittedChanges() async throws {
        let (repository, _) = try await seeded()
        let git = Git(repository: repository.root)
        let runner = ProcessRunner()
        let clean = try await git.fingerprint(["services/trade/"], runner: runner)
        #expect(try await git.fingerprint(["services/trade/"], runner: runner) == clean)
        try repository.write("services/stock-listing/Sources/StockListingService/Listing.swift", "other service")
        #expect(try await git.fingerprint(["services/trade/"], runner: runner) == clean)
        try repository.write("services/trade/Sources/TradeService/Trade.swift", "edited")
        let dirty = try await git.fingerprint(["services/trade/"], runner: runner)
        #expect(dirty != clean)
        try FileManager.default.removeItem(atPath: repository.root + "/services/trade/Sources/TradeService/Trade.swift")
        #expect(try await git.fingerprint(["services/trade/"], runner: runner) != dirty)
    }
}
