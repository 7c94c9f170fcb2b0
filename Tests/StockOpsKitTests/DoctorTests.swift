import Foundation
import Testing

@testable import StockOpsKit

/// Version output of the real tools, as their sources print it.
enum ToolOutput {
    static let git = "git version 2.39.5"
    static let swift = "Swift version 6.2.1 (swift-6.2.1-RELEASE)\nTarget: x86_64-unknown-linux-gnu"
    static let docker = "Docker version 27.3.1, build ce12230"
    static let compose = "Docker Compose version v2.29.7"
    static let trivy = "Version: 0.56.2"
    static let semgrep = "1.97.0"
    static let gitleaks = "8.21.2"
    static let cosign = """
          ______   ______        _______. __    _______ .__   __.
         /      | /  __  \\      /       ||  |  /  _____||  \\ |  |
        |  ,----'|  |  |  |    |   (----`|  | |  |  __  |   \\|  |
        |  |     |  |  |  |     \\   \\    |  | |  | |_ | |  . `  |
        |  `----.|  `--'  | .----)   |   |  | |  |__| | |  |\\   |
         \\______| \\______/  |_______/    |__|  \\______| |__| \\__|
        cosign: A tool for Container Signing, Verification and Storage in an OCI registry.

        GitVersion:    v2.4.1
        GitCommit:     9a6cb4f2a0a5c2d5f3b7e5f0c1d3a1b2c3d4e5f6
        GitTreeState:  clean
        BuildDate:     2024-10-03T16:12:53Z
        GoVersion:     go1.23.2
        Compiler:      gc
        Platform:      linux/amd64
        """
}

/// A pipeline like the repository's: what the sandbox runs.
let sandboxPipeline = """
    version: 1
    services:
      - name: trade
        paths: [services/trade/]
        product: trade
        test-target: TradeServiceTests
        ports: {dev: 8001, stage: 8011, prod: 8021}
    registry:
      host: localhost:5000
      project: stockapp
    images:
      sign:
        required: false
    sonarqube:
      required: false
    vault:
      - path: secret/data/ci/pipeline
        keys: [SIGNING_KEY]
      - path: secret/data/harbor/robot
        keys: [HARBOR_USERNAME, HARBOR_PASSWORD]
    security:
      secret-scan:
        scanner: auto
      sast:
        blocking: false
      sca:
        blocking: true
    """

/// A directory of shell scripts standing in for tools, each printing a real tool's version output.
struct FakeTools {
    let directory = temporaryDirectory("faketools")

    /// A script `name` printing `output` and exiting with `status`.
    func add(_ name: String, output: String, status: Int32 = 0) throws {
        try addScript(name, "/bin/cat <<'OUTPUT'\n\(output)\nOUTPUT\nexit \(status)\n")
    }

    /// A `docker` answering `--version`, `compose version` and `version --format` (the engine), and `buildx version`
    /// and `buildx inspect` when given the inspect output (refusing `buildx` as an unknown command otherwise).
    func addDocker(engineUp: Bool, buildxInspect: String? = nil) throws {
        let engine =
            engineUp
            ? "echo 27.3.1"
            : "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1"
        let buildx =
            buildxInspect.map { inspect in
                """
                  "buildx version") echo 'github.com/docker/buildx v0.17.1 257815a6fb95ae1a4fc5e2e3e1d8c4ab3e2e6f3a' ;;
                  "buildx inspect") /bin/cat <<'INSPECT'
                \(inspect)
                INSPECT
                    ;;
                """
            } ?? ""
        try addScript(
            "docker",
            """
            if [ "$1" = --config ]; then shift 2; fi
            case "$1 $2" in
              "--version "*) echo '\(ToolOutput.docker)' ;;
              "compose version") echo '\(ToolOutput.compose)' ;;
              "version --format") \(engine) ;;
            \(buildx)
              *) echo "docker: unknown command: docker $1" >&2; echo "Run 'docker --help' for more information" >&2; exit 1 ;;
            esac

            """)
    }

    /// Every tool of the repository's pipeline but cosign, sonar-scanner, act and PostgreSQL.
    static func pipeline(engineUp: Bool = true) throws -> FakeTools {
        let tools = FakeTools()
        try tools.add("git", output: ToolOutput.git)
        try tools.add("swift", output: ToolOutput.swift)
        try tools.add("trivy", output: ToolOutput.trivy)
        try tools.add("semgrep", output: ToolOutput.semgrep)
        try tools.add("gitleaks", output: ToolOutput.gitleaks)
        try tools.addDocker(engineUp: engineUp)
        return tools
    }

    /// A script `name` running `body`.
    func addScript(_ name: String, _ body: String) throws {
        let path = directory + "/" + name
        try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }
}

@Suite("stockops doctor")
struct DoctorTests {
    /// The sandbox's pipeline: signing and SonarQube optional, secret scan with gitleaks or trivy, non-blocking SAST.
    func repositoryPipeline() throws -> PipelineConfig {
        try PipelineConfig.parse(sandboxPipeline, file: "stockops.yml")
    }

    func doctor(_ tools: FakeTools, _ environment: [String: String] = [:]) -> Doctor {
        let state = temporaryDirectory("doctorstate")
        let base = ["PATH": tools.directory, "HOME": state, "STOCKOPS_STATE_DIR": state + "/state"]
        return Doctor(root: state, processEnvironment: RunEnvironment(base.merging(environment) { _, new in new }), postgresDirectories: [])
    }

    func check(_ report: DoctorReport, _ name: String) throws -> DoctorCheck {
        try #require(report.checks.first { $0.name == name }, "no check named \(name)")
    }

    @Test func missingOptionalToolsAreWarningsAndThePipelineCanRun() async throws {
        let tools = try FakeTools.pipeline()
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let report = await doctor(tools, ["STOCKOPS_REGISTRY": registry.host]).check(config: try repositoryPipeline(), environment: .dev)

        for name in ["cosign", "sonar-scanner"] {
            let missing = try check(report, name)
            #expect(missing.status == .warning)
            #expect(!missing.required)
            #expect(missing.found == nil)
            #expect(missing.fix?.contains(name) == true, "\(name): \(missing.fix ?? "no fix")")
        }
        let git = try check(report, "git")
        #expect(git.status == .ok)
        #expect(git.version == "2.39.5")
        #expect(git.found == tools.directory + "/git")
        #expect(try check(report, "docker compose").version == "2.29.7")
        #expect(try check(report, "docker buildx").status == .warning)
        #expect(try check(report, "docker engine").status == .ok)
        #expect(try check(report, "registry").status == .ok)
        #expect(try check(report, "state directory").status == .ok)
        #expect(report.problems.isEmpty, "\(report.problems.map(\.name))")
        #expect(report.ok)
        #expect(report.exitStatus == .success)
    }

    @Test func aRequiredSignatureByCosignMakesAMissingCosignAProblem() async throws {
        let tools = try FakeTools.pipeline()
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        var config = try repositoryPipeline()
        config.images.signRequired = true
        let native = await doctor(tools, ["STOCKOPS_REGISTRY": registry.host]).check(config: config, environment: .dev)
        #expect(try check(native, "cosign").status == .warning, "with tool: auto the native signer signs without cosign")
        #expect(native.exitStatus == .success)

        config.images.signTool = .cosign
        let report = await doctor(tools, ["STOCKOPS_REGISTRY": registry.host]).check(config: config, environment: .dev)

        let cosign = try check(report, "cosign")
        #expect(cosign.status == .missing)
        #expect(cosign.required)
        #expect(report.problems.map(\.name) == ["cosign"])
        #expect(!report.ok)
        #expect(report.exitStatus == .infrastructure)

        try tools.add("cosign", output: ToolOutput.cosign)
        let installed = await doctor(tools, ["STOCKOPS_REGISTRY": registry.host]).check(config: config, environment: .dev)
        #expect(try check(installed, "cosign").version == "2.4.1")
        #expect(installed.exitStatus == .success)
    }

    @Test func tooOldToolsNameTheMinimum() async throws {
        let tools = try FakeTools.pipeline()
        try tools.add("git", output: "git version 2.25.1")
        try tools.add("semgrep", output: "1.50.0")
        let doctor = doctor(tools)

        let git = try #require(await doctor.probe(Doctor.ToolNeed(tool: "git", required: true, usage: "paths-filter")).first)
        #expect(git.status == .tooOld)
        #expect(git.version == "2.25.1")
        #expect(git.minimum == "2.30")
        #expect(git.fix?.hasPrefix("upgrade: ") == true)

        let semgrep = try #require(await doctor.probe(Doctor.ToolNeed(tool: "semgrep", required: false, usage: "sast")).first)
        #expect(semgrep.status == .warning, "an optional tool that is too old is a warning")
        #expect(semgrep.version == "1.50.0")
        #expect(semgrep.minimum == "1.70")
    }

    @Test func aToolThatFailsIsMissingAndAnEngineDownIsUnreachable() async throws {
        let tools = try FakeTools.pipeline(engineUp: false)
        try tools.add("trivy", output: "trivy: error while loading shared libraries", status: 127)
        let report = await doctor(tools).check(config: try repositoryPipeline(), environment: .dev)

        let trivy = try check(report, "trivy")
        #expect(trivy.status == .missing)
        #expect(trivy.found == tools.directory + "/trivy")
        #expect(trivy.detail.contains("exited with 127"))
        let engine = try check(report, "docker engine")
        #expect(engine.status == .unreachable)
        #expect(engine.detail.contains("Cannot connect to the Docker daemon"))
        #expect(engine.fix?.contains("DOCKER_HOST") == true)
        #expect(Set(report.problems.map(\.name)).isSuperset(of: ["trivy", "docker engine", "registry"]))
        #expect(report.exitStatus == .infrastructure)
    }

    @Test func aToolThatHangsIsCutOffAtTheTimeout() async throws {
        let tools = FakeTools()
        try tools.addScript("act", "exec /bin/sleep 120\n")
        var doctor = doctor(tools)
        doctor.timeout = .milliseconds(300)
        let started = ContinuousClock.now
        let act = try #require(await doctor.probe(Doctor.ToolNeed(tool: "act", required: false, usage: "workflows")).first)
        #expect(act.status == .warning)
        #expect(act.found == tools.directory + "/act")
        #expect(act.detail.contains("did not answer within"))
        // A hang guard, not a time limit: a probe that waited for the tool would take its whole 120 s.
        #expect(started.secondsSinceNow < 60)
    }

    @Test func whatIsNeededFollowsTheEnvironmentAndTheEvent() throws {
        var config = try repositoryPipeline()
        #expect(Doctor.toolNeeds(config: config, environment: .stage).contains { $0.tool == "docker compose" && $0.required })
        config.gitOps[.stage] = GitOpsTarget(repository: "/srv/infra.git", overlay: "overlays/stage")
        #expect(!Doctor.toolNeeds(config: config, environment: .stage).contains { $0.tool == "docker compose" })
        config.security.secretScan = SecretScanConfig(scanner: .gitleaks)
        #expect(Doctor.toolNeeds(config: config, environment: .stage).first { $0.tool == "gitleaks" }?.required == true)
        var images = ImagesConfig()
        images.signRequired = true
        #expect(Doctor.cosignNeed(images)?.required == false)
        images.keylessIdentity = "https://github.com/example/stocks/.github/workflows/ci-cd.yml@refs/heads/main"
        #expect(Doctor.cosignNeed(images)?.required == true, "only cosign signs keyless")
        images.keylessIdentity = nil
        images.signTool = .native
        #expect(Doctor.cosignNeed(images) == nil)
        let pullRequest = Doctor.toolNeeds(config: try repositoryPipeline(), environment: .dev, pullRequest: true).map(\.tool)
        #expect(!pullRequest.contains("cosign") && !pullRequest.contains("docker compose"), "a pull-request run neither signs nor deploys")
    }

    @Test func theBuildxBuilderDecidesWhetherTheCacheIsExported() async throws {
        let tools = try FakeTools.pipeline()
        let need = Doctor.ToolNeed(tool: "docker buildx", required: false, usage: "build[*]")
        let missing = await doctor(tools).probe(need)
        #expect(missing.map(\.status) == [.warning])
        #expect(missing.first?.detail.contains("plugin is not installed") == true)

        try tools.addDocker(engineUp: true, buildxInspect: DocumentedFixtures.buildxInspectDockerDriver)
        let classic = await doctor(tools).probe(need)
        #expect(classic.map(\.name) == ["docker buildx", "docker buildx builder"])
        #expect(classic.first?.version == "0.17.1")
        #expect(classic.last?.status == .warning)
        #expect(classic.last?.found == "docker")
        #expect(classic.last?.fix?.contains("containerd") == true)

        try tools.addDocker(engineUp: true, buildxInspect: DocumentedFixtures.buildxInspectDockerDriverContainerd)
        #expect(await doctor(tools).probe(need).last?.status == .ok)
        try tools.addDocker(engineUp: true, buildxInspect: DocumentedFixtures.buildxInspectDockerContainer)
        let container = await doctor(tools).probe(need)
        #expect(container.last?.status == .ok)
        #expect(container.last?.found == "docker-container")
    }

    @Test func theJSONReportHasSchemaVersionOneAndEveryKey() throws {
        let report = DoctorReport(
            environment: "dev",
            checks: [
                DoctorCheck(
                    name: "git", kind: .tool, required: true, status: .ok, found: "/usr/bin/git", version: "2.39.5", minimum: "2.30", detail: "paths-filter"),
                DoctorCheck.problem(
                    .missing, name: "cosign", kind: .tool, required: false, detail: "not found in PATH", fix: "https://github.com/sigstore/cosign/releases"),
                DoctorCheck.problem(
                    .tooOld, name: "semgrep", kind: .tool, required: true, found: "/usr/bin/semgrep", version: "1.50.0", minimum: "1.70", detail: "too old",
                    fix: "pipx install semgrep"),
            ])
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1)
        #expect(object["ok"] as? Bool == false)
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.map { $0["status"] as? String } == ["ok", "warning", "too-old"])
        for check in checks {
            #expect(Set(check.keys) == ["name", "kind", "required", "status", "found", "version", "minimum", "detail", "fix"])
        }
        #expect(checks[1]["found"] is NSNull)
        #expect(try JSONDecoder().decode(DoctorReport.self, from: data) == report)
    }

    @Test func registryCredentialsFromTheEnvironmentAreChecked() async throws {
        let tools = try FakeTools.pipeline()
        let registry = try await LocalRegistry.start(.htpasswd(username: "robot", password: "right-\(UUID().uuidString)"))
        defer { registry.stop() }
        let wrong = "wrong-\(UUID().uuidString)"
        let doctor = doctor(tools, ["STOCKOPS_REGISTRY": registry.host, "STOCKOPS_REGISTRY_USERNAME": "robot", "STOCKOPS_REGISTRY_PASSWORD": wrong])
        let check = await doctor.registry(try repositoryPipeline(), fetched: nil)
        #expect(check.status == .unauthorised)
        #expect(check.detail.contains("as robot (STOCKOPS_REGISTRY_USERNAME)"))
        #expect(!check.detail.contains(wrong))
    }
}

/// SonarQube's `GET /api/system/status` (`{"id", "version", "status"}`, no authentication) and
/// `GET /api/authentication/validate` (`{"valid": bool}` for the token given as the HTTP Basic user with an empty
/// password), as its Web API documents them. Usage: server.py TOKEN STATUS.
let sonarQubeFake = #"""
    import base64, json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from stand_in import JSONHandler

    TOKEN, STATUS = sys.argv[1:3]

    class Handler(JSONHandler):
        def do_GET(self):
            if self.path == "/api/system/status":
                return self.reply(200, {"id": "243B8A4D-AZEPCMpfBfTXwD2FVAGm", "version": "10.7.0.96327", "status": STATUS})
            if self.path == "/api/authentication/validate":
                return self.reply(200, {"valid": self.headers.get("Authorization") == "Basic " + base64.b64encode((TOKEN + ":").encode()).decode()})
            self.reply(404, {"errors": [{"msg": "Unknown url : " + self.path}]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

/// DefectDojo's `GET /api/v2/user_profile/` (API v2, `Authorization: Token <key>`; 401 `{"detail": "Invalid token."}`).
/// Usage: server.py KEY.
let defectDojoProfileFake = #"""
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from stand_in import JSONHandler

    KEY = sys.argv[1]

    class Handler(JSONHandler):
        def do_GET(self):
            if self.headers.get("Authorization") != "Token " + KEY:
                return self.reply(401, {"detail": "Invalid token."})
            if self.path == "/api/v2/user_profile/":
                return self.reply(200, {"user": {"id": 1, "username": "stockops"}, "user_contact_info": None, "global_role": None,
                                        "dojo_group_member": [], "product_type_member": [], "product_member": []})
            self.reply(404, {"detail": "Not found."})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

@Suite("stockops doctor against SonarQube, DefectDojo and Argo CD stand-ins")
struct DoctorAPITests {
    @Test func sonarQubeIsUpAndTakesTheFetchedToken() async throws {
        let token = "squ_\(UUID().uuidString)"
        let launched = try await launchPythonServer(
            sonarQubeFake, directory: temporaryDirectory("sonarfake"), arguments: [token, "UP"], name: "the SonarQube stand-in")
        defer {
            kill(launched.process.processIdentifier, SIGKILL)
            launched.process.waitUntilExit()
        }
        var images = ImagesConfig()
        images.sonarHostURL = "http://127.0.0.1:\(launched.port)"
        images.sonarRequired = true
        let doctor = Doctor(root: temporaryDirectory(), processEnvironment: [:], postgresDirectories: [])

        let valid = try #require(await doctor.sonar(images, fetched: FetchedSecrets(values: ["SONAR_TOKEN": Secret(token)])).first)
        #expect(valid.status == .ok)
        #expect(valid.version == "10.7.0.96327")
        let refused = try #require(await doctor.sonar(images, fetched: FetchedSecrets(values: ["SONAR_TOKEN": Secret("squ_wrong")])).first)
        #expect(refused.status == .unauthorised)
        #expect(!refused.detail.contains("squ_wrong"))
        #expect(await doctor.sonar(images, fetched: nil).first?.status == .unauthorised)
        images.sonarRequired = false
        #expect(await doctor.sonar(images, fetched: nil).first?.status == .warning)
        images.sonarHostURL = nil
        #expect(await doctor.sonar(images, fetched: nil).isEmpty, "no server check without sonarqube.host-url")
    }

    @Test func defectDojoTakesTheFetchedAPIKey() async throws {
        let key = "dojo-\(UUID().uuidString)"
        let launched = try await launchPythonServer(
            defectDojoProfileFake, directory: temporaryDirectory("dojofake"), arguments: [key], name: "the DefectDojo stand-in")
        defer {
            kill(launched.process.processIdentifier, SIGKILL)
            launched.process.waitUntilExit()
        }
        let config = DefectDojoConfig(url: "http://127.0.0.1:\(launched.port)", product: "stockapp")
        let doctor = Doctor(root: temporaryDirectory(), processEnvironment: [:], postgresDirectories: [])

        let accepted = await doctor.defectDojo(config, fetched: FetchedSecrets(values: ["DEFECTDOJO_API_KEY": Secret(key)]), fetchesSecrets: true)
        #expect(accepted.map(\.status) == [.ok])
        let refused = await doctor.defectDojo(config, fetched: FetchedSecrets(values: ["DEFECTDOJO_API_KEY": Secret("wrong")]), fetchesSecrets: true)
        #expect(refused.map(\.status) == [.unauthorised])
        #expect(await doctor.defectDojo(config, fetched: nil, fetchesSecrets: false).map(\.status) == [.warning], "without Vault the import is skipped")
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        let down = DefectDojoConfig(url: "http://127.0.0.1:\(refusing.port)", product: "stockapp")
        #expect(
            await doctor.defectDojo(down, fetched: FetchedSecrets(values: ["DEFECTDOJO_API_KEY": Secret(key)]), fetchesSecrets: true).map(\.status) == [
                .unreachable
            ])
    }

    @Test func theArgoCDApplicationIsReadWithTheFetchedToken() async throws {
        let directory = temporaryDirectory()
        let work = directory + "/work"
        let bare = directory + "/infra.git"
        for argv in [
            ["git", "init", "-q", "-b", "main", work],
            ["git", "-C", work, "-c", "user.name=stockops", "-c", "user.email=stockops@localhost", "commit", "-q", "--allow-empty", "-m", "overlays"],
            ["git", "clone", "-q", "--bare", work, bare],
        ] {
            let result = try await runTool(argv)
            #expect(result.status == 0, "\(argv.joined(separator: " ")): \(result.output)")
        }
        let token = "argocd-\(UUID().uuidString)"
        let server = try await FakeAPIServer.start(FakeAPIServer.argoCD, arguments: [token, "stocks-stage", bare, "main", "healthy"])
        defer { server.stop() }
        let doctor = Doctor(root: directory, processEnvironment: [:], postgresDirectories: [])
        let target = ArgoCDTarget(url: server.baseURL, application: "stocks-stage")
        let fetched = FetchedSecrets(values: ["ARGOCD_TOKEN": Secret(token)])

        let ok = try #require(await doctor.argoCD(target, fetched: fetched).first)
        #expect(ok.status == .ok)
        #expect(ok.name == "argocd stocks-stage")
        #expect(ok.detail.contains("health Healthy"))
        #expect(await doctor.argoCD(target, fetched: FetchedSecrets(values: ["ARGOCD_TOKEN": Secret("wrong")])).first?.status == .unauthorised)
        #expect(await doctor.argoCD(ArgoCDTarget(url: server.baseURL, application: "stocks-prod"), fetched: fetched).first?.status == .unauthorised)
        #expect(await doctor.argoCD(target, fetched: nil).first?.status == .unauthorised)
        #expect(await doctor.argoCD(nil, fetched: fetched).isEmpty)
    }
}

@Suite("stockops doctor against OpenBao and docker-registry", .serialized)
struct DoctorServerTests {
    @Test func theAppRoleReadsEveryPathAndTheRegistryTakesTheVaultCredentials() async throws {
        let vault = try await CIVault()
        let password = Secret("robot-\(UUID().uuidString)")
        try await vault.server.rootClient().write("harbor/robot", data: ["HARBOR_USERNAME": "robot", "HARBOR_PASSWORD": password.reveal()])
        let registry = try await LocalRegistry.start(.htpasswd(username: "robot", password: password.reveal()))
        defer { registry.stop() }
        let directory = temporaryDirectory()
        var config = try PipelineConfig.parse(sandboxPipeline, file: "stockops.yml")
        config.vault =
            CIVault.declared + [
                VaultSecret(path: "secret/data/sonarqube/token", keys: ["SONAR_TOKEN"]),
                VaultSecret(path: "secret/data/db/stockops", keys: ["password"]),
            ]
        var environment = try vault.environment(directory: directory)
        environment["STOCKOPS_REGISTRY"] = registry.host
        let doctor = Doctor(root: directory, processEnvironment: RunEnvironment(environment), postgresDirectories: [])

        let checks = await doctor.servers(config: config, environment: .dev)
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
        #expect(byName["vault"]?.status == .ok)
        #expect(byName["vault"]?.detail.contains("policies: ci") == true)
        #expect(byName["vault secret/data/ci/pipeline"]?.status == .ok)
        #expect(byName["vault secret/data/harbor/robot"]?.detail == "readable: HARBOR_USERNAME, HARBOR_PASSWORD")
        #expect(byName["vault secret/data/sonarqube/token"]?.status == .missing)
        #expect(byName["vault secret/data/db/stockops"]?.status == .unauthorised)
        #expect(byName["vault secret/data/db/stockops"]?.fix?.contains("vault/policies/ci.hcl") == true)
        #expect(byName["registry"]?.status == .ok)
        #expect(byName["registry"]?.detail == "/v2/ answers with HARBOR_USERNAME/HARBOR_PASSWORD from Vault")
        let text = String(decoding: try JSONEncoder().encode(checks), as: UTF8.self)
        for value in [password.reveal(), vault.signingKey.reveal(), vault.secretID.reveal()] {
            #expect(!text.contains(value), "a secret value is reported")
        }
    }

    @Test func aWrongSecretIDIsUnauthorised() async throws {
        let vault = try await CIVault()
        let directory = temporaryDirectory()
        var environment = try vault.environment(directory: directory)
        environment["VAULT_SECRET_ID_FILE"] = nil
        environment["VAULT_SECRET_ID"] = UUID().uuidString
        var config = try PipelineConfig.parse(sandboxPipeline, file: "stockops.yml")
        config.vault = CIVault.declared
        let (checks, fetched, fetchesSecrets) = await Doctor(root: directory, processEnvironment: RunEnvironment(environment), postgresDirectories: []).vault(
            config)
        #expect(checks.map(\.name) == ["vault"])
        #expect(checks.first?.status == .unauthorised)
        #expect(checks.first?.fix?.contains("VAULT_SECRET_ID") == true)
        #expect(fetched == nil)
        #expect(fetchesSecrets)
    }
}
