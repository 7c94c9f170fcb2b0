import Foundation
import Testing

@testable import StockOpsKit

@Suite struct RunOperationTests {
    func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    func repository() async throws -> Repository {
        let repository = try await Repository()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try repository.write("pipelines/stockops.yml", try String(contentsOfFile: root + "/pipelines/stockops.yml", encoding: .utf8))
        try repository.write("services/trade/Sources/TradeService/Trade.swift")
        try repository.write("services/stock-listing/Sources/StockListingService/Listing.swift")
        _ = try await repository.commit("initial")
        try await repository.git("checkout", "-q", "-b", "develop")
        return repository
    }

    @Test func configErrorsExitWithTwoAndNameTheLine() async throws {
        let repository = try await repository()
        try repository.write("pipelines/stockops.yml", "version: 1\nservices: 3\n")
        let run = await RunRequest(root: repository.root, environment: .dev, processEnvironment: .process).attemptRun()
        #expect(run.exitStatus == .usage)
        #expect(run.message.contains("pipelines/stockops.yml:2: services: expected a list"))
    }

    @Test func anEnvironmentContradictingTheRefIsRefused() async throws {
        let repository = try await repository()
        var request = RunRequest(root: repository.root, environment: .prod, processEnvironment: ["GITHUB_REF": "refs/heads/develop"])
        let contradicting = await request.attemptRun()
        #expect(contradicting.exitStatus == .usage)
        #expect(contradicting.message.contains("--force"))
        request.only = ["nonexistent"]
        request.force = true
        let unknown = await request.attemptRun()
        #expect(unknown.exitStatus == .usage)
        #expect(unknown.message.contains("no node matches 'nonexistent'"))
    }

    @Test func anUnknownSinceIsAUsageError() async throws {
        let repository = try await repository()
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: [:])
        request.since = "no-such-ref"
        let run = await request.attemptRun()
        let plan = await request.attemptPlan()
        #expect(run.exitStatus == .usage && plan.exitStatus == .usage)
        #expect(run.message.contains("--since no-such-ref: no such commit") && plan.message == run.message)
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aRunLeavesItsRecordAndGitHubFiles() async throws {
        let repository = try await repository()
        let directory = temporaryDirectory()
        var request = RunRequest(
            root: repository.root,
            processEnvironment: [
                "GITHUB_REF": "refs/heads/develop",
                "GITHUB_STEP_SUMMARY": directory + "/summary.md",
                "GITHUB_OUTPUT": directory + "/output",
            ])
        // secret-scan, sast and sca read files this small repository does not have (allowlist, rules, Package.resolved).
        request.skip = ["test", "secret-scan", "sast", "sca"]
        let outcome = try await request.run(progress: .discarding)
        #expect(outcome.exitStatus == .success)
        let runs = try FileManager.default.contentsOfDirectory(atPath: repository.root + "/.stockops/runs")
        #expect(runs.count == 1)
        let run = repository.root + "/.stockops/runs/" + runs[0]
        #expect(FileManager.default.fileExists(atPath: run + "/run.json"))
        #expect(FileManager.default.fileExists(atPath: run + "/logs/paths-filter.log"))
        #expect(FileManager.default.fileExists(atPath: run + "/reports/pipeline-junit.xml"))
        let record = try JSONDecoder.stockops.decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: run + "/run.json")))
        #expect(record.environment == "dev" && record.runID == outcome.runID)
        let statuses = Dictionary(uniqueKeysWithValues: record.nodes.map { ($0.id.description, $0.status) })
        #expect(Array(record.nodes.map(\.id.description).prefix(2)) == ["fetch-secrets", "paths-filter"])
        #expect(statuses["paths-filter"] == .passed)
        #expect(statuses["notify"] == .passed)
        #expect(statuses["revoke-vault-token"] == .skipped)
        for node in ["secret-scan", "sast", "sca"] {
            #expect(statuses[node] == .skipped, "\(node)")
        }
        for service in ["stock-listing", "trade"] {
            for stage in ["test", "build", "scan", "sbom"] {
                #expect(statuses["\(stage)[\(service)]"] == .skipped, "\(stage)[\(service)]")
            }
        }
        #expect(!record.nodes.contains { $0.status.isFailure })
        #expect(record.nodes.first?.reason == "VAULT_ADDR not set")
        #expect(read(directory + "/summary.md").contains("| `paths-filter` | passed |"))
        #expect(read(directory + "/output").contains("status=passed\n"))
    }

    @Test func planShowsUnchangedServices() async throws {
        let repository = try await repository()
        try repository.write("services/trade/Sources/TradeService/Order.swift")
        var request = RunRequest(root: repository.root, processEnvironment: [:])
        request.since = "HEAD"
        let plan = try await request.plan()
        #expect(plan.exitStatus == .success)
        #expect(plan.result[NodeID("test", key: "trade")]?.status == .wouldRun)
        #expect(plan.result[NodeID("test", key: "stock-listing")]?.reason?.hasPrefix("unchanged: no change under the paths of stock-listing") == true)
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func cachePruneEmptiesTheCache() throws {
        let root = temporaryDirectory()
        let cache = OutputCache(directory: root + "/.stockops/cache")
        cache.store(node: "a", key: "k1", output: Data("1".utf8))
        cache.store(node: "a", key: "k2", output: Data("2".utf8))
        // The tool versions remembered beside the nodes' directories are not an entry, and do not stop a prune.
        try "{}".write(toFile: root + "/.stockops/cache/tool-versions.json", atomically: true, encoding: .utf8)
        #expect(try cache.prune(keep: 1) == OutputCache.PruneReport(removed: 1, kept: 1))
        #expect(try cache.prune(keep: 0) == OutputCache.PruneReport(removed: 1, kept: 0))
        #expect(cache.lookup(node: "a", key: "k1") == nil && cache.lookup(node: "a", key: "k2") == nil)
    }
}

extension JSONDecoder {
    static var stockops: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
