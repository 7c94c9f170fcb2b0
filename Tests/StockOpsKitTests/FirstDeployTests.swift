import Foundation
import Testing

@testable import StockOpsKit

/// An environment's first deploy happens even when nothing changed: with no good version in its ledger, every
/// service is selected; once one is there, unchanged services are skipped again.
@Suite struct FirstDeployTests {
    let runs = RunOperationTests()

    func plan(_ root: String, state: String) async throws -> RunRecord {
        let plan = try await RunRequest(root: root, environment: .dev, processEnvironment: ["STOCKOPS_STATE_DIR": state]).plan()
        #expect(plan.exitStatus == .success, "\(plan.failure?.message ?? "")")
        return plan.record
    }

    func status(_ record: RunRecord, _ id: NodeID) -> NodeStatus? { record.nodes.first { $0.id == id }?.status }

    @Test func anEnvironmentWithoutAGoodVersionGetsEveryServiceThenOnlyChangedOnes() async throws {
        let repository = try await runs.repository()
        // develop is main plus nothing: no service changed.
        try await repository.git("update-ref", "refs/remotes/origin/main", "HEAD")
        let state = temporaryDirectory()

        let first = try await plan(repository.root, state: state)
        for service in ["stock-listing", "trade"] {
            #expect(status(first, NodeID("build", key: service)) == .wouldRun, "build[\(service)] on a first deploy")
        }
        let changes = try #require(first.nodes.first { $0.id == StockOpsPipeline.pathsFilter.id })
        let baseSource = try JSONEncoder().encode(try #require(changes.output))
        #expect(String(decoding: baseSource, as: UTF8.self).contains("first deploy of dev: no good version in its ledger"))

        let ledger = Ledger(stateDirectory: state, environment: .dev)
        try ledger.append(LedgerEntry(environment: .dev, action: .deploy, tag: "dev-0000000", images: [:], outcome: .failed, actor: "test"))
        let afterFailure = try await plan(repository.root, state: state)
        #expect(status(afterFailure, NodeID("build", key: "trade")) == .wouldRun, "a failed deploy is not a good version")

        try ledger.append(LedgerEntry(environment: .dev, action: .deploy, tag: "dev-1111111", images: [:], outcome: .succeeded, actor: "test"))
        let later = try await plan(repository.root, state: state)
        for service in ["stock-listing", "trade"] {
            #expect(status(later, NodeID("build", key: service)) == .skipped, "build[\(service)] with nothing changed after a good deploy")
        }
    }
}
