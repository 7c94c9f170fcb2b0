import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// cosign and sonar-scanner cannot be installed here. These stand-ins check the argv and environment that
/// the tools' documentation gives, record each call, and fail loudly on any drift:
/// - cosign: "Signing Containers" / "Verifying Signatures" (docs.sigstore.dev): `cosign sign --yes --key
///   env://VAR IMAGE@DIGEST`, `cosign public-key --key env://VAR`, `cosign verify --key env://VAR --output json`;
///   verify prints what cosign 3 prints for a Sigstore-bundle signature (`critical.type`
///   `https://sigstore.dev/cosign/sign/v1`, sigstore/cosign `cmd/cosign/cli/verify/verify.go` `transformOutput`).
/// - sonar-scanner: "SonarScanner CLI" (docs.sonarsource.com): `-Dsonar.*` properties, the token in
///   `SONAR_TOKEN`, `sonar.qualitygate.wait`; `.scannerwork/report-task.txt` holds `ceTaskId`. Without branch
///   support (the Community Edition) it refuses branch and pull request properties as SonarSource/sonarqube
///   `sonar-scanner-engine/.../scan/ProjectReactorValidator.java` does.
/// - SonarQube's Web API takes the token as SonarQube 9.9 does: HTTP Basic with the token as login and an empty
///   password (`server/sonar-webserver-auth/.../BasicAuthentication.java`); a `Bearer` header is not a login there.
struct SignSonarContractTests {
    static let cosignScript = #"""
        #!/usr/bin/env python3
        import json, os, sys
        here = os.path.dirname(os.path.abspath(__file__))
        expect = json.load(open(os.path.join(here, "expect.json")))
        args = sys.argv[1:]
        with open(os.path.join(here, "calls.jsonl"), "a") as log:
            log.write(json.dumps({"argv": args, "env": sorted(k for k in os.environ if k.startswith(("COSIGN_", "DOCKER_")))}) + "\n")
        def fail(message):
            print("cosign stand-in: " + message, file=sys.stderr); sys.exit(2)
        for secret in expect["secrets"]:
            if any(secret in a for a in args): fail("a secret is in argv")
        image = expect["image"]
        if args == ["public-key", "--key", "env://COSIGN_PRIVATE_KEY"]:
            if os.environ.get("COSIGN_PRIVATE_KEY") != expect["key"]: fail("COSIGN_PRIVATE_KEY is not the key")
            print("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"); sys.exit(0)
        if args == ["sign", "--yes", "--key", "env://COSIGN_PRIVATE_KEY", image]:
            if os.environ.get("COSIGN_PRIVATE_KEY") != expect["key"]: fail("COSIGN_PRIVATE_KEY is not the key")
            if "COSIGN_PASSWORD" not in os.environ: fail("COSIGN_PASSWORD is unset: cosign would prompt")
            if "@sha256:" not in image: fail("signing by tag")
            open(os.path.join(here, "signed"), "w").write(image); sys.exit(0)
        if args == ["verify", "--key", "env://COSIGN_PUBLIC_KEY", "--output", "json", image]:
            if not os.environ.get("COSIGN_PUBLIC_KEY", "").startswith("-----BEGIN PUBLIC KEY-----"): fail("COSIGN_PUBLIC_KEY is not a PEM public key")
            if not os.path.exists(os.path.join(here, "signed")): sys.stderr.write("Error: no matching signatures\n"); sys.exit(1)
            digest = image.split("@")[1]
            print("Verification for " + image + " --\nThe following checks were performed on each of these signatures:\n  - The cosign claims were validated\n  - The signatures were verified against the specified public key", file=sys.stderr)
            print(json.dumps([{"critical": {"identity": {"docker-reference": image}, "image": {"docker-manifest-digest": digest}, "type": "https://sigstore.dev/cosign/sign/v1"}, "optional": {}}]))
            sys.exit(0)
        fail("undocumented invocation: " + " ".join(args))
        """#

    static let sonarScannerScript = #"""
        #!/usr/bin/env python3
        import json, os, sys
        here = os.path.dirname(os.path.abspath(__file__))
        expect = json.load(open(os.path.join(here, "expect.json")))
        args = sys.argv[1:]
        with open(os.path.join(here, "calls.jsonl"), "a") as log:
            log.write(json.dumps({"argv": args, "cwd": os.getcwd()}) + "\n")
        def fail(message):
            print("sonar-scanner stand-in: " + message, file=sys.stderr); sys.exit(2)
        if any(expect["token"] in a for a in args): fail("the token is in argv")
        if os.environ.get("SONAR_TOKEN") != expect["token"]: fail("SONAR_TOKEN is not the token")
        if any(a.split("=")[0] in ("-Dsonar.token", "-Dsonar.login", "-Dsonar.password") for a in args): fail("a credential property is in argv")
        if not all(a.startswith("-Dsonar.") and "=" in a for a in args): fail("not -Dsonar.key=value: " + " ".join(args))
        properties = dict(a[2:].split("=", 1) for a in args)
        if not expect.get("branches"):
            refused = ["To use the property \"%s\" and analyze %s, Developer Edition or above is required. See https://docs.sonarsource.com/sonarqube/9.9/analyzing-source-code/branches/branch-analysis/ for more information." % (key, "branches" if key.startswith("sonar.branch.") else "pull requests")
                       for key in ("sonar.branch.name", "sonar.pullrequest.key", "sonar.pullrequest.branch", "sonar.pullrequest.base") if key in properties]
            if refused:
                print("ERROR: Error during SonarScanner execution\nERROR: Validation of project failed:\n  o " + "\n  o ".join(refused), file=sys.stderr); sys.exit(2)
        for key, value in expect["properties"].items():
            if properties.get(key) != value: fail("%s is %r, expected %r" % (key, properties.get(key), value))
        if not os.path.exists("sonar-project.properties"): fail("not run in the service directory")
        if expect["gate"] == "OK": sys.exit(0)
        os.makedirs(".scannerwork", exist_ok=True)
        with open(".scannerwork/report-task.txt", "w") as report:
            report.write("projectKey=%s\nserverUrl=%s\nceTaskId=AVAn5RKqYwETbXvgas-I\nceTaskUrl=%s/api/ce/task?id=AVAn5RKqYwETbXvgas-I\n" % (properties["sonar.projectKey"], properties["sonar.host.url"], properties["sonar.host.url"]))
        print("ERROR: QUALITY GATE STATUS: FAILED - View details on %s/dashboard?id=%s" % (properties["sonar.host.url"], properties["sonar.projectKey"]))
        sys.exit(1)
        """#

    /// SonarQube's Web API as documented in its `api/ce/task` and `api/qualitygates/project_status` examples.
    static let sonarServerScript = #"""
        import base64, http.server, json, sys, urllib.parse
        token = sys.argv[1]
        def login(header):
            if not header.lower().startswith("basic "): return None
            try: decoded = base64.b64decode(header[6:], validate=True).decode()
            except Exception: return None
            user, colon, password = decoded.partition(":")
            return user if colon and user and not password else None
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
            def do_GET(self):
                url = urllib.parse.urlparse(self.path); query = urllib.parse.parse_qs(url.query)
                if login(self.headers.get("Authorization", "")) != token:
                    return self.answer(401, {"errors": [{"msg": "Authentication required"}]})
                if url.path == "/api/ce/task" and query.get("id") == ["AVAn5RKqYwETbXvgas-I"]:
                    return self.answer(200, {"task": {"id": "AVAn5RKqYwETbXvgas-I", "type": "REPORT", "componentKey": "stockops-trade", "status": "SUCCESS", "analysisId": "AU-TpxcA-iU5OvuD2FLz"}})
                if url.path == "/api/qualitygates/project_status" and query.get("analysisId") == ["AU-TpxcA-iU5OvuD2FLz"]:
                    return self.answer(200, {"projectStatus": {"status": "ERROR", "conditions": [
                        {"status": "ERROR", "metricKey": "new_coverage", "comparator": "LT", "errorThreshold": "85", "actualValue": "82.5"},
                        {"status": "OK", "metricKey": "new_blocker_violations", "comparator": "GT", "errorThreshold": "0", "actualValue": "0"}],
                        "ignoredConditions": False}})
                return self.answer(404, {"errors": [{"msg": "not found"}]})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Writes `script` as an executable named `name` in a fresh directory with `expect.json`; returns its path.
    static func standIn(_ name: String, script: String, expect: [String: Any]) throws -> String {
        let directory = temporaryDirectory("stand-in-" + name)
        let path = directory + "/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        try JSONSerialization.data(withJSONObject: expect).write(to: URL(fileURLWithPath: directory + "/expect.json"))
        return path
    }

    static func calls(of standIn: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: (standIn as NSString).deletingLastPathComponent + "/calls.jsonl", encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    static let image = BuiltImage(
        service: "trade", repository: "harbor.example.com/stockapp/trade", tag: "git-1a2b3c4",
        digest: "sha256:" + String(repeating: "ab", count: 32), reused: false)

    @Test func signSignsByDigestWithTheKeyInTheEnvironmentAndVerifies() async throws {
        let key = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-\(UUID().uuidString)\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"
        let keyPassword = "pw-\(UUID().uuidString)"
        let cosign = try Self.standIn(
            "cosign", script: Self.cosignScript, expect: ["key": key, "secrets": [key, keyPassword], "image": Self.image.pinnedReference])
        let root = temporaryDirectory()
        var graph = GraphBuilder()
        let secrets = graph.add("fetch-secrets", ProvideSecrets(values: [SignImageStage.keyKey: key, SignImageStage.passwordKey: keyPassword]))
        let image = graph.add("build[trade]", Fixed(value: Self.image))
        let settings = ImageSettings(registry: RegistryConfig(host: "harbor.example.com", project: "stockapp"), images: ImagesConfig(), secrets: secrets)
        graph.add("sign[trade]", SignImageStage(image: image, settings: settings, cosign: cosign))
        let result = await scheduler(root: root).run(try graph.build())

        #expect(result["sign[trade]"]?.status == .passed, "\(result["sign[trade]"]?.reason ?? "")")
        #expect(result.outputs[StageRef<SignatureReport>("sign[trade]")]?.digest == Self.image.digest)
        let argvs = try Self.calls(of: cosign).map { $0["argv"] as! [String] }
        #expect(argvs.map(\.first) == ["public-key", "sign", "verify"])
        let log = try String(contentsOfFile: RunPaths(root: root, runDirectory: root + "/.stockops/runs/test").logPath(for: "sign[trade]"), encoding: .utf8)
        #expect(!log.contains(key) && !log.contains(keyPassword))
    }

    @Test func signFailsWhenVerificationFindsNoSignature() async throws {
        let key = "key-\(UUID().uuidString)"
        // The stand-in refuses `sign --yes` by tag, so a verify never finds the signature.
        let cosign = try Self.standIn(
            "cosign", script: Self.cosignScript, expect: ["key": key, "secrets": [key], "image": Self.image.repository + ":git-1a2b3c4"])
        var graph = GraphBuilder()
        let secrets = graph.add("fetch-secrets", ProvideSecrets(values: [SignImageStage.keyKey: key]))
        let image = graph.add("build[trade]", Fixed(value: Self.image))
        let settings = ImageSettings(registry: RegistryConfig(host: "harbor.example.com", project: "stockapp"), images: ImagesConfig(), secrets: secrets)
        graph.add("sign[trade]", SignImageStage(image: image, settings: settings, cosign: cosign))
        let result = await scheduler().run(try graph.build())
        #expect(result["sign[trade]"]?.status == .failed)
        #expect(result["sign[trade]"]?.reason?.contains("cosign sign") == true, "\(result["sign[trade]"]?.reason ?? "")")
    }

    @Test func missingToolsAreSkippedWithTheirInstallHintUnlessRequired() throws {
        let reason = ToolAvailability.skipReason(tool: "cosign-\(UUID().uuidString)", required: false, hint: "install it")
        #expect(reason?.hasSuffix("not installed; install it") == true)
        #expect(ToolAvailability.skipReason(tool: "cosign-\(UUID().uuidString)", required: true, hint: "install it") == nil)
        #expect(ToolAvailability.skipReason(tool: "sh", required: false, hint: "") == nil)
    }

    @Test func sonarPassesTheDocumentedArgvAndTokenOnlyInTheEnvironment() async throws {
        let token = "squ_\(UUID().uuidString)"
        let result = try await runSonar(token: token, gate: "OK", serverURL: "https://sonarqube.example.com")
        #expect(result.run["sonar[trade]"]?.status == .passed, "\(result.run["sonar[trade]"]?.reason ?? "")")
        let call = try #require(try Self.calls(of: result.scanner).first)
        #expect((call["cwd"] as? String)?.hasSuffix("/services/trade") == true)
    }

    @Test func failedQualityGateNamesTheFailingConditionsFromTheWebAPI() async throws {
        let token = "squ_\(UUID().uuidString)"
        let server = try await FakeAPIServer.start(Self.sonarServerScript, arguments: [token])
        defer { server.stop() }
        let port = server.port

        let result = try await runSonar(token: token, gate: "ERROR", serverURL: "http://127.0.0.1:\(port)")
        let sonar = try #require(result.run["sonar[trade]"])
        #expect(sonar.status == .failed)
        #expect(sonar.failureKind == .failed)
        #expect(sonar.reason == "the SonarQube quality gate of stockops-trade is ERROR: new_coverage = 82.5 (fails when < 85)")
    }

    @Test func withoutBranchSupportThePushedBranchIsNotPassed() async throws {
        let token = "squ_\(UUID().uuidString)"
        let push = ["GITHUB_REF": "refs/heads/develop", "GITHUB_REF_NAME": "develop"]
        let community = try await runSonar(
            token: token, gate: "OK", serverURL: "https://sonarqube.example.com",
            subject: SonarStage.subject(branchSupport: false, environment: RunEnvironment(push)))
        #expect(community.run["sonar[trade]"]?.status == .passed, "\(community.run["sonar[trade]"]?.reason ?? "")")
        let refused = try await runSonar(token: token, gate: "OK", serverURL: "https://sonarqube.example.com", subject: .branch("develop"))
        #expect(refused.run["sonar[trade]"]?.status == .failed)
        #expect(refused.run["sonar[trade]"]?.reason?.contains("Developer Edition or above is required") == true, "\(refused.run["sonar[trade]"]?.reason ?? "")")
    }

    @Test func withBranchSupportBranchesAndPullRequestsAreNamed() async throws {
        let token = "squ_\(UUID().uuidString)"
        let pullRequest = ["GITHUB_REF": "refs/pull/42/merge", "GITHUB_HEAD_REF": "feature/quotes", "GITHUB_BASE_REF": "develop"]
        let result = try await runSonar(
            token: token, gate: "OK", serverURL: "https://sonarqube.example.com",
            subject: SonarStage.subject(branchSupport: true, environment: RunEnvironment(pullRequest)), branches: true)
        #expect(result.run["sonar[trade]"]?.status == .passed, "\(result.run["sonar[trade]"]?.reason ?? "")")
        let argv = try #require(try Self.calls(of: result.scanner).first?["argv"] as? [String])
        #expect(argv.contains("-Dsonar.pullrequest.key=42"))
        #expect(argv.contains("-Dsonar.pullrequest.branch=feature/quotes"))
        #expect(argv.contains("-Dsonar.pullrequest.base=develop"))
    }

    @Test func theWebAPIStandInTakesOnlyWhatSonarQube99Takes() async throws {
        let token = "squ_\(UUID().uuidString)"
        let server = try await FakeAPIServer.start(Self.sonarServerScript, arguments: [token])
        defer { server.stop() }
        let client = HTTPClient(configuration: HTTPClientConfiguration())
        let url = "http://127.0.0.1:\(server.port)/api/ce/task?id=AVAn5RKqYwETbXvgas-I"
        for (header, status) in [
            (SonarScannerCommand.webAPIAuthorization(token: Secret(token)), 200),
            ("Bearer " + token, 401),
            ("Basic " + Data(token.utf8).base64EncodedString(), 401),
            ("Basic " + Data((token + ":x").utf8).base64EncodedString(), 401),
        ] {
            let response = try await client.send(HTTPRequest(method: .get, url: url, headers: ["Authorization": header]))
            #expect(response.status == status, "\(header)")
        }
    }

    private func runSonar(token: String, gate: String, serverURL: String, subject: SonarScannerCommand.Subject? = nil, branches: Bool = false) async throws -> (
        run: RunResult, scanner: String
    ) {
        let root = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: root + "/services/trade", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: ImageStagesTests.root + "/services/trade/sonar-project.properties", toPath: root + "/services/trade/sonar-project.properties")
        let properties = [
            "sonar.projectKey": "stockops-trade", "sonar.host.url": serverURL, "sonar.sources": "Sources", "sonar.tests": "Tests",
            "sonar.qualitygate.wait": "true", "sonar.qualitygate.timeout": "300",
        ]
        let scanner = try Self.standIn(
            "sonar-scanner", script: Self.sonarScannerScript, expect: ["token": token, "gate": gate, "properties": properties, "branches": branches])
        let config = try PipelineConfig.load(path: ImageStagesTests.root + "/pipelines/stockops.yml")
        var graph = GraphBuilder()
        let secrets = graph.add("fetch-secrets", ProvideSecrets(values: [SonarStage.tokenKey: token]))
        graph.add(
            "sonar[trade]",
            SonarStage(service: try #require(config.service(named: "trade")), hostURL: serverURL, secrets: secrets, scanner: scanner, subject: subject))
        return (await scheduler(root: root).run(try graph.build()), scanner)
    }
}
