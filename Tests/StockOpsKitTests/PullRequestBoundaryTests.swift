import Foundation
import Testing

@testable import StockOpsKit

/// A pull request's run tests and scans; it never reads a secret, signs, promotes or deploys, whatever the flags.
@Suite struct PullRequestBoundaryTests {
    let sessions = SessionTests()

    @Test func aPullRequestPlanSkipsEveryNodeThatReadsSecretsOrShips() async throws {
        let repository = try await sessions.repository()
        let (session, directory) = sessions.captureSession()
        var request = RunRequest(
            root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "pull_request", "VAULT_ADDR": "http://127.0.0.1:1"])
        request.json = true
        request.selectAll = true
        #expect(await session.plan(request) == .success)
        let record = try JSONDecoder.stockops.decode(RunRecord.self, from: Data(sessions.read(directory + "/out").utf8))
        let refused = record.nodes.filter { PullRequestBoundary.isRefused($0.id) }
        #expect(Set(refused.map(\.id.name)) == ["fetch-secrets", "sign", "attest", "promote", "deploy"])
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

/// What a run will need is checked before it starts working.
@Suite struct FailBeforeWorkingTests {
    let sessions = SessionTests()

    @Test func aProdRunWithoutAVersionTagFailsBeforeAnythingRuns() async throws {
        let repository = try await sessions.repository()
        for (ref, expected) in [(nil, "needs the Git ref"), ("refs/heads/main", "invalid")] as [(String?, String)] {
            let (session, directory) = sessions.captureSession()
            var environment = ["STOCKOPS_STATE_DIR": temporaryDirectory()]
            environment["GITHUB_REF"] = ref
            var request = RunRequest(root: repository.root, environment: .prod, processEnvironment: RunEnvironment(environment))
            request.force = true
            #expect(await session.run(request) == .usage)
            #expect(await session.plan(request) == .usage)
            let errors = sessions.read(directory + "/err")
            #expect(errors.contains("promote could not tag the release"), "\(errors)")
            #expect(errors.contains(expected), "\(ref ?? "no ref"): \(errors)")
        }
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aProdRunOnAVersionTagIsPlanned() async throws {
        let repository = try await sessions.repository()
        let (session, directory) = sessions.captureSession()
        let request = RunRequest(
            root: repository.root, environment: .prod, processEnvironment: ["GITHUB_REF": "refs/tags/v1.2.3", "STOCKOPS_STATE_DIR": temporaryDirectory()])
        #expect(await session.plan(request) == .success, "\(sessions.read(directory + "/err"))")
    }
}
