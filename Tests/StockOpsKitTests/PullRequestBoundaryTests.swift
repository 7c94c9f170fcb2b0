import Foundation
import Testing

@testable import StockOpsKit

/// A pull request's run tests and scans; it never reads a secret, signs, promotes or deploys, whatever the flags.
@Suite struct PullRequestBoundaryTests {
    let runs = RunOperationTests()

    @Test func aPullRequestPlanSkipsEveryNodeThatReadsSecretsOrShips() async throws {
        let repository = try await runs.repository()
        var request = RunRequest(
            root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "pull_request", "VAULT_ADDR": "http://127.0.0.1:1"])
        request.selectAll = true
        let plan = try await request.plan()
        #expect(plan.exitStatus == .success)
        let record = plan.record
        let refused = record.nodes.filter { PullRequestBoundary.isRefused($0.id) }
        #expect(Set(refused.map(\.id.name)) == ["fetch-secrets", "sign", "attest", "promote", "deploy"])
        for node in refused {
            #expect(node.status == .skipped, "\(node.id)")
            #expect(node.reason?.contains("refused for a pull_request event") == true, "\(node.id): \(node.reason ?? "")")
        }
        #expect(record.nodes.contains { $0.id == NodeID("test", key: "trade") && $0.status == .wouldRun })
    }

    @Test func askingForThemInAPullRequestIsAUsageError() async throws {
        let repository = try await runs.repository()
        for flags in [(only: ["deploy"], approvals: [String]()), (only: [], approvals: ["deploy"]), (only: ["fetch-secrets"], approvals: [])] {
            var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "pull_request_target"])
            request.only = flags.only
            request.approvals = flags.approvals
            let run = await request.attemptRun()
            #expect(run.exitStatus == .usage)
            #expect(run.message.contains("refused for a pull_request_target event"), "\(flags)")
        }
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aPushIsNotRestricted() async throws {
        let repository = try await runs.repository()
        let request = RunRequest(root: repository.root, environment: .dev, processEnvironment: ["GITHUB_EVENT_NAME": "push"])
        let plan = try await request.plan()
        #expect(plan.exitStatus == .success)
        #expect(!plan.result.results.contains { $0.result.reason?.contains("refused for a") == true })
    }
}

/// What a run will need is checked before it starts working.
@Suite struct FailBeforeWorkingTests {
    let runs = RunOperationTests()

    @Test func aProdRunWithoutAVersionTagFailsBeforeAnythingRuns() async throws {
        let repository = try await runs.repository()
        for (ref, expected) in [(nil, "needs the Git ref"), ("refs/heads/main", "invalid")] as [(String?, String)] {
            var environment = ["STOCKOPS_STATE_DIR": temporaryDirectory()]
            environment["GITHUB_REF"] = ref
            var request = RunRequest(root: repository.root, environment: .prod, processEnvironment: RunEnvironment(environment))
            request.force = true
            let run = await request.attemptRun()
            let plan = await request.attemptPlan()
            #expect(run.exitStatus == .usage && plan.exitStatus == .usage)
            let errors = run.message + "\n" + plan.message
            #expect(errors.contains("promote could not tag the release"), "\(errors)")
            #expect(errors.contains(expected), "\(ref ?? "no ref"): \(errors)")
        }
        #expect(!FileManager.default.fileExists(atPath: repository.root + "/.stockops/runs"))
    }

    @Test func aProdRunOnAVersionTagIsPlanned() async throws {
        let repository = try await runs.repository()
        let request = RunRequest(
            root: repository.root, environment: .prod, processEnvironment: ["GITHUB_REF": "refs/tags/v1.2.3", "STOCKOPS_STATE_DIR": temporaryDirectory()])
        let plan = await request.attemptPlan()
        #expect(plan.exitStatus == .success, "\(plan.message)")
    }
}
