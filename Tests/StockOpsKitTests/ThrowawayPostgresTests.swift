import Foundation
import Testing

@testable import StockOpsKit

/// Test nodes bring their own PostgreSQL when `STOCKOPS_TEST_DATABASE_URL` is not set.
@Suite struct ThrowawayPostgresTests {
    func psql(_ url: String, _ query: String) async throws -> ProcessResult {
        try await ProcessRunner().run(Command("psql", [url, "-tAc", query]))
    }

    @Test func startsAServerTheTestsCanUseAndRemovesItWhenStopped() async throws {
        let log = NodeLog(path: nil)
        let server = try await ThrowawayPostgres.start(runner: ProcessRunner(), log: log)
        let answer = try await psql(server.url, "CREATE TABLE t (n int); INSERT INTO t VALUES (41); SELECT n + 1 FROM t")
        #expect(answer.succeeded, "\(answer.output)")
        #expect(answer.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("42"), "\(answer.output)")
        #expect(FileManager.default.fileExists(atPath: server.directory + "/data/postmaster.pid"))
        await server.stop()
        #expect(!FileManager.default.fileExists(atPath: server.directory))
        #expect(try await psql(server.url, "SELECT 1").succeeded == false, "the server still answers after stop")
    }

    @Test func withoutServerBinariesItIsAnInfrastructureErrorSayingWhatToDo() async throws {
        let empty = temporaryDirectory()
        do {
            _ = try await ThrowawayPostgres.start(runner: ProcessRunner(), log: NodeLog(path: nil), environment: ["STOCKOPS_PG_BIN": empty])
            Issue.record("a server started without binaries")
        } catch let failure as StageFailure {
            #expect(failure.kind == .infrastructure)
            #expect(failure.message.contains("STOCKOPS_TEST_DATABASE_URL"))
            #expect(failure.message.contains("apt-get install postgresql"))
        }
    }

    @Test func findsTheNewestInstalledServer() throws {
        let found = try #require(
            ThrowawayPostgres.findBinaries(environment: ["PATH": "/nonexistent"]), "no PostgreSQL server under /usr/lib/postgresql on this machine")
        #expect(FileManager.default.isExecutableFile(atPath: found + "/initdb"))
    }
}
