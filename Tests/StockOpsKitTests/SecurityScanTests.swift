import Foundation
import Testing

@testable import StockOpsKit

/// secret-scan, sast, sca and dast run with the real trivy and semgrep (offline), and with stand-ins that check the
/// documented argv for what cannot run here (gitleaks, trivy's vulnerability DB, ZAP's image).
@Suite struct SecurityScanTests {
    static let root = OpenBaoDevServer.repositoryRoot.path

    /// A git repository with a service source holding `key` on line 2, and the same key in a git-ignored directory.
    func repositoryWithPlantedKey(_ key: String) async throws -> Repository {
        let repository = try await Repository()
        try repository.write(".gitignore", ".build/\n")
        try repository.write("services/trade/Sources/TradeService/Credentials.swift", "// Connection settings\nlet awsAccessKeyID = \"\(key)\"\n")
        try repository.write(".build/cache/leak.env", "AWS_ACCESS_KEY_ID=\(key)\n")
        try repository.write("Sources/App/main.swift", "print(\"hello\")\n")
        _ = try await repository.commit("service with a key")
        return repository
    }

    @Test func trivyFindsAPlantedKeyAndNeverPrintsIt() async throws {
        let key = plantedAWSKey()
        let repository = try await repositoryWithPlantedKey(key)
        let context = stageContext("secret-scan", root: repository.root)
        let stage = SecretScanStage(config: SecretScanConfig(scanner: .trivy))
        let failure = await #expect(throws: StageFailure.self) { try await stage.run(context) }
        #expect(failure?.kind == .failed)
        #expect(
            failure?.message.contains("1 secret in the work tree (trivy): services/trade/Sources/TradeService/Credentials.swift:2: aws-access-key-id") == true,
            "\(failure?.message ?? "")")
        #expect(failure?.message.contains("rotate it") == true)
        let log = context.log.contents()
        #expect(log.contains("secret: services/trade/Sources/TradeService/Credentials.swift:2: aws-access-key-id"))
        #expect(log.contains("git-ignored paths skipped"))
        #expect(FileManager.default.fileExists(atPath: context.paths.reportsDirectory + "/secret-scan-trivy.json"))
        for file in filesUnder(context.paths.runDirectory) {
            #expect(!file.text.contains(key), "\(file.path) holds the secret")
        }
        #expect(!(failure?.message.contains(key) ?? true))
    }

    @Test func theAllowlistAcceptsAFindingAndTheResultSaysWhichScannerRan() async throws {
        let key = plantedAWSKey()
        let repository = try await repositoryWithPlantedKey(key)
        try repository.write(
            "pipelines/secrets-allowed.yml",
            """
            allow:
              - rule: aws-access-key-id
                path: services/trade/Sources/TradeService/
                reason: a test double of a deployment key
            """)
        let context = stageContext("secret-scan", root: repository.root)
        let result = try await SecretScanStage(
            config: SecretScanConfig(scanner: .auto, allowlist: "pipelines/secrets-allowed.yml"), gitleaks: "/nonexistent/gitleaks"
        ).run(context)
        #expect(result.scanner == "trivy")
        #expect(result.version.hasPrefix("Version: 0."))
        #expect(result.findings.isEmpty)
        #expect(
            result.allowed == [
                SecretFinding(
                    rule: "aws-access-key-id", file: "services/trade/Sources/TradeService/Credentials.swift", line: 2, title: "AWS Access Key ID",
                    severity: "CRITICAL")
            ])
        #expect(result.skippedPaths == 1)
        #expect(context.log.contents().contains("gitleaks is not installed: scanning with trivy's secret scanner"))
        #expect(
            context.log.contents().contains(
                "allowed: services/trade/Sources/TradeService/Credentials.swift:2: aws-access-key-id (AWS Access Key ID), CRITICAL — a test double of a deployment key"
            ))

        let missing = await #expect(throws: StageFailure.self) {
            try await SecretScanStage(config: SecretScanConfig(scanner: .trivy, allowlist: "pipelines/none.yml")).run(
                stageContext("secret-scan", root: repository.root))
        }
        #expect(missing?.message.contains("pipelines/none.yml: cannot read the allowlist") == true)
        let forced = await #expect(throws: StageFailure.self) {
            try await SecretScanStage(config: SecretScanConfig(scanner: .gitleaks), gitleaks: "/nonexistent/gitleaks").run(
                stageContext("secret-scan", root: repository.root))
        }
        #expect(forced?.kind == .infrastructure)
        #expect(forced?.message.contains("security.secret-scan.scanner is gitleaks") == true)
    }

    @Test func gitleaksRunsWhenInstalled() async throws {
        // gitleaks is not installable here: a stand-in checks the v8 argv and writes a report shaped like
        // gitleaks' JSON report (report/finding.go), with the secret redacted as --redact does.
        let gitleaks = try StandIn(
            "gitleaks",
            script: #"""
                if ARGS == ["version"]:
                    print("8.28.0"); sys.exit(0)
                expected = ["dir", "--config", None, "--report-format", "json", "--report-path", None, "--redact", "--exit-code", "0", "--no-banner", "."]
                if len(ARGS) != len(expected) or any(e is not None and e != a for e, a in zip(expected, ARGS)):
                    fail("argv " + json.dumps(ARGS))
                config = open(ARGS[2]).read()
                if "useDefault = true" not in config or "'''^\\.build(/|$)'''" not in config:
                    fail("config " + config)
                if not os.path.exists("services/trade/Sources/TradeService/Credentials.swift"):
                    fail("not run in the repository root: " + os.getcwd())
                json.dump([{"Description": "AWS Access Key", "StartLine": 2, "EndLine": 2, "StartColumn": 22, "EndColumn": 41,
                            "Match": "awsAccessKeyID = \"REDACTED\"", "Secret": "REDACTED", "File": "services/trade/Sources/TradeService/Credentials.swift",
                            "SymlinkFile": "", "Commit": "", "Entropy": 3.7, "Author": "", "Email": "", "Date": "", "Message": "", "Tags": [],
                            "RuleID": "aws-access-token", "Fingerprint": "services/trade/Sources/TradeService/Credentials.swift:aws-access-token:2"}],
                          open(ARGS[6], "w"))
                """#)
        let repository = try await repositoryWithPlantedKey(plantedAWSKey())
        let context = stageContext("secret-scan", root: repository.root)
        let failure = await #expect(throws: StageFailure.self) {
            try await SecretScanStage(config: SecretScanConfig(scanner: .auto), gitleaks: gitleaks.path).run(context)
        }
        #expect(
            failure?.message.contains(
                "1 secret in the work tree (gitleaks): services/trade/Sources/TradeService/Credentials.swift:2: aws-access-token (AWS Access Key)") == true,
            "\(failure?.message ?? "")")
        let calls = try gitleaks.calls()
        #expect(calls.map(\.args.first) == ["version", "dir"])
        #expect(calls.last?.cwd == (repository.root as NSString).standardizingPath)
        #expect(context.log.contents().contains("gitleaks (8.28.0): 1 findings"))
    }

    @Test func semgrepFindsTheCodebasesOwnRisks() async throws {
        let repository = try await Repository()
        try FileManager.default.createDirectory(atPath: repository.root + "/pipelines", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.root + "/pipelines/semgrep", toPath: repository.root + "/pipelines/semgrep")
        try repository.write(
            "services/trade/Sources/TradeService/Risky.swift",
            """
            func handle(_ request: Request, user: String, token: Secret) throws -> Response {
                let trade = try! JSONDecoder().decode(Trade.self, from: request.body)
                let lookup = Command("/bin/sh", ["-c", "grep \\(user) /etc/passwd"])
                let login = ["docker", "login", "--password", token.reveal()]
                let scanner = Command("sonar-scanner", ["-Dsonar.token=" + token.reveal()])
                process.arguments = ["-c", user]
                system(user)
                return Response(trade)
            }
            """)
        try repository.write(
            "Sources/Tool/Safe.swift",
            """
            func safe(_ token: Secret, user: String) throws -> [Command] {
                let headers = ["Authorization": "Bearer " + token.reveal()]
                let config = try! JSONDecoder().decode(Config.self, from: data)
                return [Command("/bin/sh", ["-c", "exit 0"]), Command("git", ["-c", "commit.gpgsign=false", "log", user])]
            }
            """)
        _ = try await repository.commit("fixtures")
        let context = stageContext("sast", root: repository.root)
        let failure = await #expect(throws: StageFailure.self) { try await SASTStage(config: SASTConfig()).run(context) }
        #expect(failure?.kind == .failed)
        #expect(failure?.message.hasPrefix("semgrep: 7 findings:") == true, "\(failure?.message ?? "")")

        let report = try SemgrepCommand.parseReport(Data(contentsOf: URL(fileURLWithPath: context.paths.reportsDirectory + "/sast-semgrep.json")))
        let found = Set(report.findings.map { "\($0.line) \(SASTStage.shortRule($0.rule))" })
        #expect(
            found == [
                "2 stockops-try-bang-in-request-path", "3 stockops-shell-string-from-input", "4 stockops-secret-in-argv",
                "5 stockops-secret-in-argv", "6 stockops-shell-string-from-input", "7 stockops-shell-call",
            ])
        #expect(report.findings.allSatisfy { $0.path == "services/trade/Sources/TradeService/Risky.swift" && $0.severity == "ERROR" })
        let sarif =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: context.paths.reportsDirectory + "/sast-semgrep.sarif")))
            as? [String: Any]
        #expect(sarif?["version"] as? String == "2.1.0")
        let runs = sarif?["runs"] as? [[String: Any]]
        #expect((runs?.first?["results"] as? [Any])?.count == report.findings.count)
    }

    @Test func ourOwnSourcesPassTheRules() async throws {
        let directory = temporaryDirectory()
        let paths = RunPaths(root: Self.root, runDirectory: directory)
        let context = StageContext(node: "sast", log: NodeLog(path: paths.logPath(for: "sast")), runner: ProcessRunner(), paths: paths)
        let result = try await SASTStage(config: SASTConfig()).run(context)
        #expect(result.findings.isEmpty)
        #expect(result.semgrepVersion.hasPrefix("1."))
        let report = try SemgrepCommand.parseReport(Data(contentsOf: URL(fileURLWithPath: directory + "/reports/sast-semgrep.json")))
        #expect(report.findings.isEmpty)
        let scanned = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/reports/sast-semgrep.json"))) as? [String: Any]
        let files = ((scanned?["paths"] as? [String: Any])?["scanned"] as? [String]) ?? []
        #expect(files.contains("services/trade/Sources/TradeService/TradeHandlers.swift"))
        #expect(files.contains("Sources/StockOpsKit/Tools/ProcessRunner.swift"))
    }

    @Test func rulesSemgrepRejectsFailTheNodeNamingThem() async throws {
        let repository = try await Repository()
        try repository.write("rules/broken.yml", "rules: [\n  - id: broken\n")
        try repository.write("Sources/A.swift", "let a = 1\n")
        _ = try await repository.commit("broken rules")
        let failure = await #expect(throws: StageFailure.self) {
            try await SASTStage(config: SASTConfig(rules: "rules", paths: ["Sources/"])).run(stageContext("sast", root: repository.root))
        }
        #expect(failure?.kind == .failed)
        #expect(failure?.message.contains("given the rules in rules (fix them)") == true, "\(failure?.message ?? "")")
        let missing = await #expect(throws: StageFailure.self) {
            try await SASTStage(config: SASTConfig(rules: "nowhere")).run(stageContext("sast", root: repository.root))
        }
        #expect(missing?.message == "the semgrep rules nowhere do not exist; add them or fix security.sast.rules")
    }

    @Test func aSemgrepOlderThan170IsRefusedBeforeItRuns() async throws {
        let semgrep = try StandIn(
            "semgrep",
            script: #"""
                if ARGS == ["--version"]:
                    print("1.69.0"); sys.exit(0)
                fail("ran although too old: " + json.dumps(ARGS))
                """#)
        let repository = try await Repository()
        try repository.write("rules/rule.yml", "rules: []\n")
        try repository.write("Sources/A.swift", "let a = 1\n")
        _ = try await repository.commit("sources")
        let failure = await #expect(throws: StageFailure.self) {
            try await SASTStage(config: SASTConfig(rules: "rules", paths: ["Sources/"]), semgrep: semgrep.path).run(stageContext("sast", root: repository.root))
        }
        #expect(failure?.kind == .infrastructure)
        #expect(failure?.message.hasPrefix("semgrep 1.69.0 is older than 1.70, the minimum (--sarif-output)") == true, "\(failure?.message ?? "")")
        #expect(try semgrep.calls().map(\.args) == [["--version"]])
    }

    @Test func aGitleaksOlderThan819IsRefusedBeforeItRuns() async throws {
        let gitleaks = try StandIn(
            "gitleaks",
            script: #"""
                if ARGS == ["version"]:
                    print("v8.18.4"); sys.exit(0)
                fail("ran although too old: " + json.dumps(ARGS))
                """#)
        let repository = try await repositoryWithPlantedKey(plantedAWSKey())
        let failure = await #expect(throws: StageFailure.self) {
            try await SecretScanStage(config: SecretScanConfig(scanner: .gitleaks), gitleaks: gitleaks.path).run(
                stageContext("secret-scan", root: repository.root))
        }
        #expect(failure?.kind == .infrastructure)
        #expect(failure?.message.hasPrefix("gitleaks 8.18.4 is older than 8.19, the minimum (gitleaks dir)") == true, "\(failure?.message ?? "")")
        #expect(try gitleaks.calls().map(\.args) == [["version"]])
    }

    static let packageResolved = #"""
        {
          "originHash" : "0c9f4f3c1d7a4b0e8f6e2d5c3b1a09f8e7d6c5b4a3928170f6e5d4c3b2a19080",
          "pins" : [
            {
              "identity" : "swift-nio",
              "kind" : "remoteSourceControl",
              "location" : "https://github.com/apple/swift-nio.git",
              "state" : {
                "revision" : "a16e2f54a25b2af217044e5168997009a505930f",
                "version" : "2.41.0"
              }
            }
          ],
          "version" : 3
        }
        """#

    @Test func withoutTheVulnerabilityDBTheScanIsAnInfrastructureErrorNotAPass() async throws {
        let root = temporaryDirectory()
        try Self.packageResolved.write(toFile: root + "/Package.resolved", atomically: true, encoding: .utf8)
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        let unreachable = "127.0.0.1:\(refusing.port)/trivy-db"
        let context = stageContext("sca", root: root)
        let failure = await #expect(throws: StageFailure.self) {
            try await SCAStage(config: SCAConfig(databaseRepository: unreachable), failOn: [.critical, .high]).run(context)
        }
        #expect(failure?.kind == .infrastructure)
        #expect(failure?.message.hasPrefix("the vulnerability DB is unavailable, so the dependencies were not scanned") == true, "\(failure?.message ?? "")")
        #expect(context.log.contents().contains("no vulnerability DB in .stockops/trivy-cache: trivy downloads it"))
        #expect(!context.log.contents().contains("--skip-db-update"))

        // Through the CLI: exit 3, the node failed as infrastructure.
        let repository = try await Repository()
        try repository.write("Package.resolved", Self.packageResolved)
        try repository.write(
            "pipelines/stockops.yml",
            """
            version: 1
            services:
              - {name: trade, paths: [services/trade/], product: trade, test-target: TradeServiceTests, ports: {dev: 8001}}
            registry: {host: localhost:5000, project: stockapp}
            security:
              sca: {db-repository: "\(unreachable)"}
            """)
        _ = try await repository.commit("sca only")
        var request = RunRequest(root: repository.root, environment: .dev, processEnvironment: [:])
        request.only = ["sca"]
        #expect(await request.attemptRun().exitStatus == .infrastructure)
    }

    @Test func aCachedDBIsNotUpdatedAndFailingSeveritiesFailTheNode() async throws {
        // trivy's DB cannot be downloaded here: a stand-in checks the argv and writes a report in trivy's JSON shape
        // (schema version 2, as TrivyFixtures captures it) for a Swift lock file, as `trivy fs` reports Package.resolved.
        let trivy = try StandIn(
            "trivy",
            script: #"""
                if ARGS == ["--version"]:
                    print("Version: 0.76.0"); sys.exit(0)
                if ARGS[:3] != ["fs", "--scanners", "vuln"] or "--skip-db-update" not in ARGS or ARGS[ARGS.index("--exit-code") + 1] != "0":
                    fail("argv " + json.dumps(ARGS))
                target = ARGS[-1]
                if sorted(os.listdir(target)) != ["Package.resolved"]:
                    fail("scanned directory holds " + json.dumps(os.listdir(target)))
                report = {"SchemaVersion": 2, "ArtifactName": target, "ArtifactType": "filesystem", "Results": [
                    {"Target": "Package.resolved", "Class": "lang-pkgs", "Type": "swift", "Vulnerabilities": [
                        {"VulnerabilityID": "CVE-2022-3215", "PkgName": "github.com/apple/swift-nio", "InstalledVersion": "2.41.0",
                         "FixedVersion": "2.42.0", "Title": "NIOHTTP1: CRLF injection in header values", "Severity": "HIGH"},
                        {"VulnerabilityID": "CVE-2023-0001", "PkgName": "github.com/apple/swift-nio", "InstalledVersion": "2.41.0",
                         "FixedVersion": "2.43.0", "Title": "a low one", "Severity": "LOW"}]}]}
                json.dump(report, open(ARGS[ARGS.index("--output") + 1], "w"))
                """#)
        let root = temporaryDirectory()
        try Self.packageResolved.write(toFile: root + "/Package.resolved", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/.stockops/trivy-cache/db", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/.stockops/trivy-cache/db/trivy.db", contents: Data("db".utf8))
        _ = FileManager.default.createFile(atPath: root + "/.stockops/trivy-cache/db/metadata.json", contents: Data("{}".utf8))

        let failure = await #expect(throws: StageFailure.self) {
            try await SCAStage(config: SCAConfig(), failOn: [.critical, .high], trivy: trivy.path).run(stageContext("sca", root: root))
        }
        #expect(failure?.kind == .failed)
        #expect(
            failure?.message
                == "1 vulnerable dependency at CRITICAL/HIGH: github.com/apple/swift-nio 2.41.0 CVE-2022-3215 (HIGH, fixed in 2.42.0). Update them (swift package update) or accept them in .trivyignore"
        )
        let passed = try await SCAStage(config: SCAConfig(), failOn: [.critical], trivy: trivy.path).run(stageContext("sca", root: root))
        #expect(passed.databaseUpdateSkipped)
        #expect(passed.vulnerabilities.map(\.id) == ["CVE-2022-3215", "CVE-2023-0001"])
        #expect(passed.report == "reports/sca-trivy.json")
    }

    /// A stand-in `docker` for `docker run … ghcr.io/zaproxy/zaproxy:stable zap-baseline.py …` (the image cannot be
    /// pulled here): checks the documented shape, writes the JSON, HTML and XML reports into the mounted work
    /// directory and exits as zap-baseline.py does, with the status given per target port.
    func zapStandIn(statuses: [Int: Int], jsonReport: String? = nil) throws -> StandIn {
        try StandIn(
            "docker",
            script: #"""
                STATUSES = \#(String(decoding: try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), $0.value) }), options: [.withoutEscapingSlashes]), as: UTF8.self))
                head = ARGS[:8]
                if head[:5] != ["run", "--rm", "--network", "host", "-v"] or not head[5].endswith(":/zap/wrk/:rw") or head[6] != "-t":
                    fail("docker argv " + json.dumps(ARGS))
                if head[7] != "ghcr.io/zaproxy/zaproxy:stable" or ARGS[8] != "zap-baseline.py":
                    fail("image or script " + json.dumps(ARGS))
                options = dict(zip(ARGS[9::2], ARGS[10::2]))
                if set(options) != {"-t", "-m", "-J", "-r", "-x"} or not options["-t"].startswith("http://"):
                    fail("zap-baseline.py options " + json.dumps(ARGS[9:]))
                work = head[5][:-len(":/zap/wrk/:rw")]
                if not os.access(work, os.W_OK):
                    fail("work directory not writable")
                port = options["-t"].rsplit(":", 1)[1]
                site = {"@name": options["-t"], "@host": "127.0.0.1", "@port": port, "@ssl": "false", "alerts": [
                    {"pluginid": "10021", "alertRef": "10021", "alert": "X-Content-Type-Options Header Missing", "name": "X-Content-Type-Options Header Missing",
                     "riskcode": "1", "confidence": "2", "riskdesc": "Low (Medium)", "desc": "", "instances": [{"uri": options["-t"] + "/health", "method": "GET"}],
                     "count": "1", "solution": "", "otherinfo": "", "reference": "", "cweid": "693", "wascid": "15", "sourceid": "3"}]}
                REPORT = \#(jsonReport.map { "\"\"\"" + $0 + "\"\"\"" } ?? "None")
                if REPORT is None:
                    json.dump({"@programName": "ZAP", "@version": "2.16.1", "@generated": "now", "site": [site]}, open(os.path.join(work, options["-J"]), "w"))
                else:
                    open(os.path.join(work, options["-J"]), "w").write(REPORT)
                open(os.path.join(work, options["-r"]), "w").write("<html><body>ZAP Scanning Report</body></html>")
                open(os.path.join(work, options["-x"]), "w").write('<?xml version="1.0"?><OWASPZAPReport programName="ZAP" version="2.16.1"></OWASPZAPReport>')
                print("WARN-NEW: X-Content-Type-Options Header Missing [10021] x 1")
                sys.exit(STATUSES.get(port, 0))
                """#)
    }

    static let services = [
        ServiceConfig(
            name: "stock-listing", paths: ["services/stock-listing/"], product: "stock-listing", testTarget: "StockListingServiceTests", healthPath: "/health",
            ports: [.stage: 8010]),
        ServiceConfig(
            name: "trade", paths: ["services/trade/"], product: "trade", testTarget: "TradeServiceTests", healthPath: "/health", ports: [.stage: 8011]),
    ]

    @Test func zapWarningsPassFailuresFailAndAScanThatCannotRunIsInfrastructure() async throws {
        let root = temporaryDirectory()
        let warn = try zapStandIn(statuses: [8011: 2])
        let context = stageContext(NodeID("dast", key: "stage"), root: root)
        let result = try await DASTStage(environment: .stage, config: DASTConfig(), services: Self.services, docker: warn.path).run(context)
        #expect(result.targets.map(\.url) == ["http://127.0.0.1:8010", "http://127.0.0.1:8011"])
        #expect(result.targets.map(\.outcome) == [.pass, .warn])
        #expect(result.targets[1].alerts.map(\.name) == ["X-Content-Type-Options Header Missing"])
        #expect(
            result.targets[1].reports
                == .init(json: "reports/dast-stage/zap-trade.json", html: "reports/dast-stage/zap-trade.html", xml: "reports/dast-stage/zap-trade.xml"))
        for report in ["json", "html", "xml"] {
            #expect(FileManager.default.fileExists(atPath: context.paths.reportsDirectory + "/dast-stage/zap-trade." + report))
        }
        #expect(try warn.calls().map { $0.args[10] } == ["http://127.0.0.1:8010", "http://127.0.0.1:8011"])

        let strict = await #expect(throws: StageFailure.self) {
            try await DASTStage(environment: .stage, config: DASTConfig(failOnWarnings: true), services: Self.services, docker: warn.path).run(
                stageContext(NodeID("dast", key: "stage"), root: root))
        }
        #expect(strict?.kind == .failed)
        let failing = try zapStandIn(statuses: [8010: 1])
        let failed = await #expect(throws: StageFailure.self) {
            try await DASTStage(environment: .stage, config: DASTConfig(), services: Self.services, docker: failing.path).run(
                stageContext(NodeID("dast", key: "stage"), root: root))
        }
        #expect(failed?.kind == .failed)
        #expect(
            failed?.message.hasPrefix("ZAP baseline of stage: stock-listing: fail, X-Content-Type-Options Header Missing") == true, "\(failed?.message ?? "")")
        let broken = try zapStandIn(statuses: [8010: 3])
        let error = await #expect(throws: StageFailure.self) {
            try await DASTStage(environment: .stage, config: DASTConfig(), services: Self.services, docker: broken.path).run(
                stageContext(NodeID("dast", key: "stage"), root: root))
        }
        #expect(error?.kind == .infrastructure)
        #expect(error?.message.contains("ZAP could not scan stock-listing at http://127.0.0.1:8010 (exit 3)") == true)
    }

    /// A report that is not ZAP's JSON is not "no alerts": the node fails as infrastructure and names the report.
    @Test func anUnreadableZapReportIsInfrastructureNotAPass() async throws {
        let root = temporaryDirectory()
        let truncated = try zapStandIn(statuses: [:], jsonReport: #"{"@programName": "ZAP", "site": [{"alerts": ["#)
        let error = await #expect(throws: StageFailure.self) {
            try await DASTStage(environment: .stage, config: DASTConfig(), services: Self.services, docker: truncated.path).run(
                stageContext(NodeID("dast", key: "stage"), root: root))
        }
        #expect(error?.kind == .infrastructure)
        #expect(error?.message.contains("stock-listing: zap-baseline.py's report zap-stock-listing.json cannot be read") == true, "\(error?.message ?? "")")
    }
}
