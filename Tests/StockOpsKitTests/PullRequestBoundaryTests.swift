import Foundation
import Testing

@testable import StockOpsKit

/// A pull request's run tests and scans; it never reads a secret, signs, promotes or deploys, whatever the flags.
@Suite struct PullRequestBoundaryTests {
    let sessions = SessionTests()

    @Test func aPullRequestPlanSkipsEveryNodeThatReadsSecretsOrShips() async throws {
        let repository = try await sessions.repository()
        let (session, directory) = sessions.captureSession()
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "pull_request", "VAULT_ADDR": "http://127.0.0.1:1"])
        request.json = true
        request.selectAll = true
        #expect(await session.plan(request) == .success)
        let record = try JSONDecoder.stockops.decode(RunRecord.self, from: Data(sessions.read(directory + "/out").utf8))
        let refused = record.nodes.filter { PullRequestBoundary.isRefused($0.id) }
        #expect(Set(refused.map(\.id.name)) == ["fetch-secrets", "sign", "promote", "deploy"])
        for node in refused {
            #expect(node.status == .skipped, "\(node.id)")
            #expect(node.reason?.contains("refused for a pull_request event") == true, "\(node.id): \(node.reason ?? "")")
        }
        #expect(record.nodes.contains { $0.id == NodeID("test", key: "trade") && $0.status == .wouldRun })
    }

    @Test func askingForThemInAPullRequestIsAUsageError() async throws {
        let repository = try await sessions.repository()
        for flags in [(only: ["deploy"], approvals: [String]()), (only: [], approvals: ["deploy"]), (only: ["fetch-secrets"], approvals: [])] {
            let (session, directory) = sessions.captureSession()
            var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "pull_request_target"])
            request.only = flags.only
            request.approvals = flags.approvals
            #expect(await session.run(request) == .usage)
            #expect(sessions.read(directory + "/err").contains("refused for a pull_request_target event"), "\(flags)")
        }
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aPushIsNotRestricted() async throws {
        let repository = try await sessions.repository()
        let (session, directory) = sessions.captureSession()
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "push"])
        request.json = true
        #expect(await session.plan(request) == .success)
        #expect(!sessions.read(directory + "/out").contains("refused for a"))
    }
}
