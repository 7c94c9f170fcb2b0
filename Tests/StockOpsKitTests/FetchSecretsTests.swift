import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// A Vault dev server with the repository's `ci` policy, its AppRole and the secrets of the tests.
struct CIVault {
    let server: OpenBaoDevServer
    let roleID: Secret
    let secretID: Secret
    let signingKey = Secret("signing-\(UUID().uuidString)")
    /// A multi-line value, like a PEM key.
    let harborPassword = Secret("-----BEGIN KEY-----\nline-\(UUID().uuidString)\nend-\(UUID().uuidString)\n-----END KEY-----")

    init() async throws {
        server = try await OpenBaoDevServer.start()
        let policy = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("vault/policies/ci.hcl"), encoding: .utf8)
        (roleID, secretID) = try await server.createAppRole("ci", policy: policy)
        let root = server.rootClient()
        try await root.write("ci/pipeline", data: ["SIGNING_KEY": signingKey.reveal(), "SLACK_WEBHOOK_URL": ""])
        try await root.write("harbor/robot", data: ["HARBOR_USERNAME": "robot$ci", "HARBOR_PASSWORD": harborPassword.reveal()])
        try await root.write("db/stockops", data: ["password": "not-for-ci"])
    }

    /// The variables fetch-secrets reads; the secret id through a file.
    func environment(directory: String) throws -> [String: String] {
        let file = directory + "/secret_id"
        try secretID.reveal().write(toFile: file, atomically: true, encoding: .utf8)
        return ["VAULT_ADDR": server.address, "VAULT_ROLE_ID": roleID.reveal(), "VAULT_SECRET_ID_FILE": file]
    }

    static let declared = [
        VaultSecret(path: "secret/data/ci/pipeline", keys: ["SIGNING_KEY"]),
        VaultSecret(path: "secret/data/harbor/robot", keys: ["HARBOR_USERNAME", "HARBOR_PASSWORD"]),
    ]
}

/// Prints every fetched value to its log, through a child process, and in its failure.
struct LeakStage: Stage {
    var secrets: StageRef<FetchedSecrets>
    var dependencies: [NodeID] { [secrets.id] }

    func run(_ context: StageContext) async throws -> Done {
        let fetched = try context.value(secrets)
        for (key, value) in fetched.values {
            context.log.write("\(key)=\(value.reveal())\n")
        }
        var environment = Command.baseEnvironment()
        environment["LEAK"] = try fetched.require("HARBOR_PASSWORD").reveal()
        _ = try await context.run(Command("/bin/sh", ["-c", "printf 'child: %s\\n' \"$LEAK\"; printf '%s' \"$LEAK\""], environment: environment))
        throw StageFailure.failed("leaked \(try fetched.require("SIGNING_KEY").reveal())")
    }
}

func allFiles(under directory: String) -> [String] {
    let enumerator = FileManager.default.enumerator(atPath: directory)
    var files: [String] = []
    while let item = enumerator?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory + "/" + item, isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(directory + "/" + item)
        }
    }
    return files
}

@Suite("fetch-secrets against OpenBao", .serialized)
struct FetchSecretsTests {
    func graph(_ declared: [VaultSecret], environment: [String: String], leak: Bool = false) throws -> PipelineGraph {
        var builder = GraphBuilder()
        let fetch = FetchSecretsStage(
            secrets: declared, settings: VaultSettings(environment: RunEnvironment(environment)), http: OpenBaoDevServer.httpConfiguration)
        let secrets = builder.add(StockOpsPipeline.fetchSecrets.id, fetch, when: { _ in fetch.skipReason })
        if leak { builder.add("leak", LeakStage(secrets: secrets)) }
        builder.add(
            "revoke-vault-token", RevokeVaultTokenStage(fetched: secrets, http: OpenBaoDevServer.httpConfiguration), policy: .finally, after: builder.ids,
            when: RevokeVaultTokenStage.skipReason(secrets))
        return try builder.build()
    }

    @Test func secretsAreTypedMaskedEverywhereAndTheTokenIsRevoked() async throws {
        let vault = try await CIVault()
        let root = temporaryDirectory()
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/r1")
        let stdout = root + "/stdout"
        let fd = open(stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let console = Console(fd: fd, isTTY: false, colors: false, githubActions: true)
        let scheduler = Scheduler(jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: paths, observer: BlockReporter(console: console))
        let result = await scheduler.run(try graph(CIVault.declared, environment: try vault.environment(directory: root), leak: true))

        #expect(result[StockOpsPipeline.fetchSecrets.id]?.status == .passed)
        #expect(result["leak"]?.status == .failed)
        #expect(result["revoke-vault-token"]?.status == .passed)
        let fetched = try #require(result.outputs[StockOpsPipeline.fetchSecrets])
        #expect(fetched["SIGNING_KEY"] == vault.signingKey)
        #expect(fetched["HARBOR_PASSWORD"] == vault.harborPassword)
        #expect(fetched.paths["secret/data/harbor/robot"] == ["HARBOR_USERNAME", "HARBOR_PASSWORD"])

        let record = RunRecord(runID: "r1", environment: "dev", exitCode: 1, result: result, paths: paths)
        try record.write(to: paths)
        try FileManager.default.createDirectory(atPath: paths.reportsDirectory, withIntermediateDirectories: true)
        try Data(JUnitReport.render(result).utf8).write(to: URL(fileURLWithPath: paths.reportsDirectory + "/pipeline-junit.xml"))
        try GitHubActions.append(
            GitHubActions.summary(result, title: "stockops dev"), toFileIn: .summary,
            environment: ["GITHUB_STEP_SUMMARY": paths.runDirectory + "/summary.md"])
        console.write(console.table(result))
        close(fd)

        let values = [vault.signingKey.reveal(), vault.harborPassword.reveal()] + vault.harborPassword.reveal().split(separator: "\n").map(String.init)
        let files = allFiles(under: paths.runDirectory) + [stdout]
        #expect(files.count >= 5)
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for value in values {
                #expect(!text.contains(value), "\(file) contains a secret")
            }
        }
        let log = try String(contentsOfFile: paths.logPath(for: "leak"), encoding: .utf8)
        #expect(log.contains("SIGNING_KEY=***"))
        #expect(log.contains("child: ***"))
        let json = try String(contentsOfFile: paths.runDirectory + "/run.json", encoding: .utf8)
        #expect(json.contains("\"HARBOR_PASSWORD\""), "the record keeps key names")
        #expect(!json.contains("\"token\""))
        #expect(try String(contentsOfFile: stdout, encoding: .utf8).contains("::error title=leak failed::leaked ***"))

        let token = try #require(fetched.token)
        let reused = VaultClient(address: vault.server.address, token: token, http: OpenBaoDevServer.httpConfiguration)
        let error = await #expect(throws: VaultError.self) { try await reused.lookupSelf() }
        #expect(error?.code == .permissionDenied)
    }

    @Test func theTokenIsRevokedWhenTheRunIsCancelled() async throws {
        let vault = try await CIVault()
        let root = temporaryDirectory()
        var builder = GraphBuilder()
        let fetch = FetchSecretsStage(
            secrets: CIVault.declared, settings: VaultSettings(environment: RunEnvironment(try vault.environment(directory: root))),
            http: OpenBaoDevServer.httpConfiguration)
        let secrets = builder.add(StockOpsPipeline.fetchSecrets.id, fetch)
        let started = Recorder<Bool>()
        builder.add(
            "slow",
            Probe(dependencies: [secrets.id]) { _ in
                started.append(true)
                try await Task.sleep(for: .seconds(30))
            })
        builder.add(
            "revoke-vault-token", RevokeVaultTokenStage(fetched: secrets, http: OpenBaoDevServer.httpConfiguration), policy: .finally, after: builder.ids,
            when: RevokeVaultTokenStage.skipReason(secrets))
        let graph = try builder.build()
        let run = Task { await scheduler(root: root).run(graph) }
        while started.values.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        run.cancel()
        let result = await run.value
        #expect(result["slow"]?.status == .cancelled)
        #expect(result["revoke-vault-token"]?.status == .passed)
        let token = try #require(result.outputs[StockOpsPipeline.fetchSecrets]?.token)
        let reused = VaultClient(address: vault.server.address, token: token, http: OpenBaoDevServer.httpConfiguration)
        await #expect(throws: VaultError.self) { try await reused.lookupSelf() }
    }

    @Test func aPathOutsideThePolicyIsDeniedByName() async throws {
        let vault = try await CIVault()
        let root = temporaryDirectory()
        let declared = [VaultSecret(path: "secret/data/ci/pipeline", keys: ["SIGNING_KEY"]), VaultSecret(path: "secret/data/db/stockops", keys: ["password"])]
        let result = await scheduler(root: root).run(try graph(declared, environment: try vault.environment(directory: root)))
        let node = try #require(result[StockOpsPipeline.fetchSecrets.id])
        #expect(node.status == .failed)
        #expect(node.failureKind == .failed)
        #expect(node.reason?.contains("permission denied reading secret/data/db/stockops") == true)
        #expect(node.reason?.contains("vault/policies/ci.hcl") == true)
        #expect(result["revoke-vault-token"]?.status == .skipped)
    }

    @Test func aMissingKeyNamesPathAndKey() async throws {
        let vault = try await CIVault()
        let root = temporaryDirectory()
        let declared = [VaultSecret(path: "secret/data/ci/pipeline", keys: ["SIGNING_KEY", "NO_SUCH_KEY"])]
        let result = await scheduler(root: root).run(try graph(declared, environment: try vault.environment(directory: root)))
        let node = try #require(result[StockOpsPipeline.fetchSecrets.id])
        #expect(node.status == .failed)
        #expect(node.reason?.contains("secret/data/ci/pipeline has no key NO_SUCH_KEY") == true)
        #expect(node.reason?.contains(vault.signingKey.reveal()) == false)
    }

    @Test func anUnreachableVaultIsAnInfrastructureError() async throws {
        let root = temporaryDirectory()
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        let environment = [
            "VAULT_ADDR": "http://127.0.0.1:\(refusing.port)", "VAULT_ROLE_ID": "role-\(UUID().uuidString)",
            "VAULT_SECRET_ID": "secret-\(UUID().uuidString)",
        ]
        let result = await scheduler(root: root).run(try graph(CIVault.declared, environment: environment))
        #expect(result[StockOpsPipeline.fetchSecrets.id]?.failureKind == .infrastructure)
        #expect(result.hasInfrastructureFailure)
    }

    @Test func withoutVaultAddrTheNodeIsSkippedUnlessASecretIsRequired() async throws {
        let skipped = await scheduler().run(try graph(CIVault.declared, environment: [:]))
        #expect(skipped[StockOpsPipeline.fetchSecrets.id]?.status == .skipped)
        #expect(skipped[StockOpsPipeline.fetchSecrets.id]?.reason == "VAULT_ADDR not set")
        #expect(skipped["revoke-vault-token"]?.status == .skipped)

        var required = CIVault.declared
        required[0].required = true
        let failed = await scheduler().run(try graph(required, environment: [:]))
        #expect(failed[StockOpsPipeline.fetchSecrets.id]?.failureKind == .infrastructure)
        #expect(
            failed[StockOpsPipeline.fetchSecrets.id]?.reason?.contains("secret/data/ci/pipeline is required") == true,
            "\(String(describing: failed[StockOpsPipeline.fetchSecrets.id]))")
    }
}

@Suite("stockops secrets check", .serialized)
struct SecretsCheckTests {
    /// The built `stockops secrets check --root directory`, with `environment` only.
    func command(_ directory: String, _ environment: [String: String], json: Bool = false) async throws -> ToolResult {
        try await runTool(
            [EnvironmentLockTests.binary, "secrets", "check", "--root", directory] + (json ? ["--json"] : []),
            environment: environment.merging(["PATH": "/usr/bin:/bin"]) { $1 }, directory: directory)
    }

    func check(_ directory: String, _ environment: [String: String]) async throws(StockOpsError) -> SecretsReport {
        try await SecretsReport.check(root: directory, environment: RunEnvironment(environment), http: OpenBaoDevServer.httpConfiguration)
    }

    func config(_ directory: String, vault: String) throws {
        let repositoryConfig = try String(contentsOf: OpenBaoDevServer.repositoryRoot.appendingPathComponent("pipelines/stockops.yml"), encoding: .utf8)
        let start = try #require(repositoryConfig.range(of: "\nvault:\n"))
        let end = try #require(repositoryConfig.range(of: "\nnotify:\n"))
        try FileManager.default.createDirectory(atPath: directory + "/pipelines", withIntermediateDirectories: true)
        try (String(repositoryConfig[..<start.lowerBound]) + "\nvault:\n" + vault + String(repositoryConfig[end.lowerBound...]))
            .write(toFile: directory + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
    }

    func rows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    @Test func exitCodesAndATableWithoutValues() async throws {
        let vault = try await CIVault()
        let directory = temporaryDirectory()
        let environment = try vault.environment(directory: directory)
        try config(
            directory,
            vault:
                "  - path: secret/data/ci/pipeline\n    keys: [SIGNING_KEY]\n  - path: secret/data/harbor/robot\n    keys: [HARBOR_USERNAME, HARBOR_PASSWORD]\n"
        )
        let readable = try await check(directory, environment)
        #expect(readable.readable && readable.secrets.count == 3)
        #expect(readable.secrets.contains(SecretCheck(path: "secret/data/harbor/robot", key: "HARBOR_PASSWORD", state: .ok)))
        let table = try await command(directory, environment)
        #expect(table.status == 0, "\(table.output)")
        #expect(rows(table.output).contains(["secret/data/harbor/robot", "HARBOR_PASSWORD", "ok"]))
        #expect(table.output.contains("all 3 secrets readable"))
        #expect(!table.output.contains(vault.signingKey.reveal()) && !table.output.contains("robot$ci"))
        let json = try await command(directory, environment, json: true)
        #expect(json.status == 0)
        #expect(try await JSONSchemaCheck.problems(json.output, command: "secrets-check").isEmpty, "\(json.output)")
        #expect(json.output.contains(#""readable" : true"#) && !json.output.contains(vault.signingKey.reveal()))

        try config(
            directory, vault: "  - path: secret/data/ci/pipeline\n    keys: [SIGNING_KEY, NOPE]\n  - path: secret/data/db/stockops\n    keys: [password]\n")
        let unreadable = try await check(directory, environment)
        #expect(!unreadable.readable)
        #expect(unreadable.secrets.contains(SecretCheck(path: "secret/data/ci/pipeline", key: "NOPE", state: .missing)))
        #expect(unreadable.secrets.contains(SecretCheck(path: "secret/data/db/stockops", key: "password", state: .denied)))
        #expect(unreadable.secrets.contains(SecretCheck(path: "secret/data/ci/pipeline", key: "SIGNING_KEY", state: .ok)))
        let refused = try await command(directory, environment)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(rows(refused.output).contains(["secret/data/db/stockops", "password", "denied"]))
        #expect(!refused.output.contains(vault.signingKey.reveal()) && !refused.output.contains("not-for-ci"))
        #expect(refused.output.contains("vault/policies/ci.hcl"))

        var unreachable = environment
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        unreachable["VAULT_ADDR"] = "http://127.0.0.1:\(refusing.port)"
        let down = await #expect(throws: StockOpsError.self) { try await check(directory, unreachable) }
        #expect(down?.exitStatus == .infrastructure)
        #expect(try await command(directory, unreachable).status == 3)
        let unset = await #expect(throws: StockOpsError.self) { try await check(directory, [:]) }
        #expect(unset?.exitStatus == .usage && unset?.message.contains("VAULT_ADDR is not set") == true)
        try "version: 1\nvault: 3\n".write(toFile: directory + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
        #expect(try await command(directory, environment).status == 2)
    }
}
