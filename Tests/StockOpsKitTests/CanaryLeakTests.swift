import Foundation
import Testing

@testable import StockOpsKit

/// Hands the fetched SIGNING_KEY to a child process through its environment; the child prints its
/// own command line in hex and the value reversed (which masking does not hide: the test sees the
/// real argv, and proof that the value arrived), and the value on standard output and error.
struct CanaryChildStage: Stage {
    var secrets: StageRef<FetchedSecrets>
    var dependencies: [NodeID] { [secrets.id] }

    func run(_ context: StageContext) async throws -> Done {
        let fetched = try context.value(secrets)
        let canary = try fetched.require("SIGNING_KEY")
        context.log.write("stage sees SIGNING_KEY=\(canary.reveal())\n")
        var environment = Command.baseEnvironment()
        environment["CANARY"] = canary.reveal()
        let script = """
            printf 'argv-hex:'; od -An -v -tx1 < /proc/$$/cmdline | tr -d ' \\n'; printf '\\n'
            printf 'stdout %s\\n' "$CANARY"
            printf 'stderr %s\\n' "$CANARY" >&2
            printf 'reversed '; printf '%s' "$CANARY" | rev; printf '\\n'
            """
        let result = try await context.run(Command("/bin/sh", ["-c", script], environment: environment))
        guard result.exitStatus == 0 else { throw StageFailure.failed("the child exited with \(String(describing: result.exitStatus))") }
        return Done()
    }
}

@Suite("a canary served by OpenBao leaks nowhere in a run", .serialized)
struct CanaryLeakTests {
    @Test func theCanaryIsInNoOutputFileRecordSummaryOrChildArgv() async throws {
        let vault = try await CIVault()
        let canary = vault.signingKey.reveal()
        let root = temporaryDirectory()
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/canary")
        let stdoutPath = root + "/stdout"
        let stderrPath = root + "/stderr"
        let summaryPath = root + "/summary.md"
        let githubOutputPath = root + "/github-output"
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let console = Console(fd: out, isTTY: false, colors: false, githubActions: true)
        let errors = Console(fd: err, isTTY: false, colors: false, githubActions: true)

        var builder = GraphBuilder()
        let fetch = FetchSecretsStage(
            secrets: CIVault.declared, settings: VaultSettings(environment: RunEnvironment(try vault.environment(directory: root))),
            http: OpenBaoDevServer.httpConfiguration)
        let secrets = builder.add(StockOpsPipeline.fetchSecrets.id, fetch, when: { _ in fetch.skipReason })
        builder.add("canary-child", CanaryChildStage(secrets: secrets))
        builder.add(
            "revoke-vault-token", RevokeVaultTokenStage(fetched: secrets, http: OpenBaoDevServer.httpConfiguration), policy: .finally, after: builder.ids,
            when: RevokeVaultTokenStage.skipReason(secrets))
        let scheduler = Scheduler(jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: paths, observer: BlockReporter(console: console))
        let result = await scheduler.run(try builder.build())

        let record = RunRecord(runID: "canary", environment: "dev", exitCode: 0, result: result, paths: paths)
        try record.write(to: paths)
        try FileManager.default.createDirectory(atPath: paths.reportsDirectory, withIntermediateDirectories: true)
        try Data(JUnitReport.render(result).utf8).write(to: URL(fileURLWithPath: paths.reportsDirectory + "/pipeline-junit.xml"))
        let github = ["GITHUB_STEP_SUMMARY": summaryPath, "GITHUB_OUTPUT": githubOutputPath]
        try GitHubActions.append(GitHubActions.summary(result, title: "stockops dev"), toFileIn: .summary, environment: RunEnvironment(github))
        try GitHubActions.append(
            GitHubActions.outputs([("status", result.status.rawValue), ("record", paths.runDirectory + "/run.json")]), toFileIn: .output,
            environment: RunEnvironment(github))
        console.write(console.table(result))
        console.write(String(decoding: try record.encoded(), as: UTF8.self) + "\n")
        errors.write("record: \(paths.runDirectory)/run.json\n")
        close(out)
        close(err)

        #expect(result.status == .passed, "\(result)")
        #expect(result["canary-child"]?.status == .passed)
        #expect(result["revoke-vault-token"]?.status == .passed)

        let log = try String(contentsOfFile: paths.logPath(for: "canary-child"), encoding: .utf8)
        let hexLine = try #require(log.split(separator: "\n").first { $0.hasPrefix("argv-hex:") }, "no command line in:\n\(log)")
        let hex = Array(hexLine.dropFirst("argv-hex:".count))
        let bytes = stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
        let argv = bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        #expect(argv.count == 3 && argv.first == "/bin/sh" && argv.dropFirst().first == "-c", "\(argv)")
        #expect(!argv.contains { $0.contains(canary) }, "the canary is in the child's argv")
        #expect(log.contains("reversed \(String(canary.reversed()))"), "the canary did not reach the child")
        #expect(log.contains("stdout ***") && log.contains("stderr ***") && log.contains("SIGNING_KEY=***"))

        let files = allFiles(under: paths.runDirectory) + [stdoutPath, stderrPath, summaryPath, githubOutputPath]
        #expect(files.contains(paths.runDirectory + "/run.json"))
        #expect(files.contains(paths.logPath(for: "canary-child")))
        let needles = [canary, String(canary.dropFirst("signing-".count))].map { Data($0.utf8) }
        for file in files {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            for needle in needles {
                #expect(bytes.range(of: needle) == nil, "\(file) contains the canary")
            }
        }
        #expect(!ProcessInfo.processInfo.arguments.joined(separator: " ").contains(canary))
    }
}
