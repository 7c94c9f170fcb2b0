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
        let environment = [
            "VAULT_ADDR": "http://127.0.0.1:\(try freeLoopbackPort())", "VAULT_ROLE_ID": "role-\(UUID().uuidString)",
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
    func session(_ directory: String) -> Session {
        let out = open(directory + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let err = open(directory + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        return Session(
            output: Console(fd: out, isTTY: false, colors: false, githubActions: false),
            errors: Console(fd: err, isTTY: false, colors: false, githubActions: false))
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
        #expect(
            await session(directory).checkSecrets(root: directory, processEnvironment: RunEnvironment(environment), http: OpenBaoDevServer.httpConfiguration)
                == .success)
        var out = try String(contentsOfFile: directory + "/out", encoding: .utf8)
        #expect(rows(out).contains(["secret/data/harbor/robot", "HARBOR_PASSWORD", "ok"]))
        #expect(out.contains("all 3 secrets readable"))
        #expect(!out.contains(vault.signingKey.reveal()) && !out.contains("robot$ci"))
        #expect(
            await session(directory).checkSecrets(
                root: directory, json: true, processEnvironment: RunEnvironment(environment), http: OpenBaoDevServer.httpConfiguration)
                == .success)
        let json = try String(contentsOfFile: directory + "/out", encoding: .utf8)
        #expect(try await JSONSchemaCheck.problems(json, command: "secrets-check").isEmpty, "\(json)")
        #expect(json.contains(#""readable" : true"#) && !json.contains(vault.signingKey.reveal()))

        try config(
            directory, vault: "  - path: secret/data/ci/pipeline\n    keys: [SIGNING_KEY, NOPE]\n  - path: secret/data/db/stockops\n    keys: [password]\n")
        #expect(
            await session(directory).checkSecrets(root: directory, processEnvironment: RunEnvironment(environment), http: OpenBaoDevServer.httpConfiguration)
                == .gateFailed)
        out = try String(contentsOfFile: directory + "/out", encoding: .utf8)
        #expect(rows(out).contains(["secret/data/ci/pipeline", "NOPE", "missing"]))
        #expect(rows(out).contains(["secret/data/db/stockops", "password", "denied"]))
        #expect(rows(out).contains(["secret/data/ci/pipeline", "SIGNING_KEY", "ok"]))
        #expect(!out.contains(vault.signingKey.reveal()) && !out.contains("not-for-ci"))
        #expect(try String(contentsOfFile: directory + "/err", encoding: .utf8).contains("vault/policies/ci.hcl"))

        var unreachable = environment
        unreachable["VAULT_ADDR"] = "http://127.0.0.1:\(try freeLoopbackPort())"
        #expect(
            await session(directory).checkSecrets(root: directory, processEnvironment: RunEnvironment(unreachable), http: OpenBaoDevServer.httpConfiguration)
                == .infrastructure
        )
        #expect(await session(directory).checkSecrets(root: directory, processEnvironment: [:]) == .usage)
        try "version: 1\nvault: 3\n".write(toFile: directory + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
        #expect(await session(directory).checkSecrets(root: directory, processEnvironment: RunEnvironment(environment)) == .usage)
    }
}
