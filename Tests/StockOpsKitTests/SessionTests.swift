import Foundation
import Testing

@testable import StockOpsKit

@Suite struct SessionTests {
    func captureSession() -> (Session, String) {
        let directory = temporaryDirectory("session")
        let out = open(directory + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let err = open(directory + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        return (
            Session(
                output: Console(fd: out, isTTY: false, colors: false, githubActions: false),
                errors: Console(fd: err, isTTY: false, colors: false, githubActions: false)), directory
        )
    }

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
        let (session, directory) = captureSession()
        let status = await session.run(RunRequest(root: repository.root, environment: .dev, processEnvironment: .process))
        #expect(status == .usage)
        #expect(read(directory + "/err").contains("pipelines/stockops.yml:2: services: expected a list"))
    }

    @Test func anEnvironmentContradictingTheRefIsRefused() async throws {
        let repository = try await repository()
        let (session, directory) = captureSession()
        var request = RunRequest(root: repository.root, environment: .prod, processEnvironment: ["GITHUB_REF": "refs/heads/develop"])
        #expect(await session.run(request) == .usage)
        #expect(read(directory + "/err").contains("--force"))
        request.only = ["nonexistent"]
        request.force = true
        #expect(await session.run(request) == .usage)
        #expect(read(directory + "/err").contains("no node matches 'nonexistent'"))
    }

    @Test func anUnknownSinceIsAUsageError() async throws {
        let repository = try await repository()
        let (session, directory) = captureSession()
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: [:])
        request.since = "no-such-ref"
        #expect(await session.run(request) == .usage)
        #expect(await session.plan(request) == .usage)
        #expect(read(directory + "/err").contains("--since no-such-ref: no such commit"))
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aRunLeavesItsRecordAndGitHubFiles() async throws {
        let repository = try await repository()
        let (session, directory) = captureSession()
        var request = RunRequest(
            root: repository.root,
            processEnvironment: [
                "GITHUB_REF": "refs/heads/develop",
                "GITHUB_STEP_SUMMARY": directory + "/summary.md",
                "GITHUB_OUTPUT": directory + "/output",
            ])
        // secret-scan, sast and sca read files this small repository does not have (allowlist, rules, Package.resolved).
        request.skip = ["test", "secret-scan", "sast", "sca"]
        request.json = true
        let status = await session.run(request)
        #expect(status == .success)
        let runs = try FileManager.default.contentsOfDirectory(atPath: repository.root + "/.stockops/runs")
        #expect(runs.count == 1)
        let run = repository.root + "/.stockops/runs/" + runs[0]
        #expect(FileManager.default.fileExists(atPath: run + "/run.json"))
        #expect(FileManager.default.fileExists(atPath: run + "/logs/paths-filter.log"))
        #expect(FileManager.default.fileExists(atPath: run + "/reports/pipeline-junit.xml"))
        let record = try JSONDecoder.stockops.decode(RunRecord.self, from: Data(read(directory + "/out").utf8))
        #expect(record.environment == "dev")
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
        let (session, directory) = captureSession()
        var request = RunRequest(root: repository.root, processEnvironment: [:])
        request.since = "HEAD"
        #expect(await session.plan(request) == .success)
        let text = read(directory + "/out")
        #expect(text.contains("test[trade]"))
        #expect(text.contains("would-run"))
        #expect(text.contains("unchanged: no change under the paths of stock-listing"))
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
        let (session, _) = captureSession()
        #expect(session.pruneCache(root: root, keep: 0, processEnvironment: .process) == .success)
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
