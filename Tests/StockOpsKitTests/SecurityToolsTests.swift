import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// The argv and request shapes of the security tools and APIs, against their documentation.
@Suite struct SecurityToolsTests {
    @Test func gitleaksScansTheRootWithV8Flags() {
        // gitleaks v8 cmd/root.go: --config/-c, --report-format/-f, --report-path/-r, --redact, --exit-code, --no-banner;
        // cmd/directory.go: `dir [flags] [path]`, exactly one path.
        let command = GitleaksCommand().scanDirectory(root: "/repo", config: "/run/gitleaks.toml", report: "/run/reports/secret-scan-gitleaks.json")
        #expect(command.executable == "gitleaks")
        #expect(
            command.arguments == [
                "dir", "--config", "/run/gitleaks.toml", "--report-format", "json", "--report-path", "/run/reports/secret-scan-gitleaks.json",
                "--redact", "--exit-code", "0", "--no-banner", ".",
            ])
        #expect(command.workingDirectory == "/repo")
        #expect(GitleaksCommand().version().arguments == ["version"])
    }

    @Test func gitleaksConfigurationKeepsTheDefaultRulesAndLeavesOutIgnoredPaths() {
        let text = GitleaksCommand.configuration(ignoring: [".build", "Package.resolved", "out.d/"])
        #expect(text.contains("[extend]\nuseDefault = true\n"))
        #expect(text.contains("'''^\\.build(/|$)'''"))
        #expect(text.contains("'''^Package\\.resolved(/|$)'''"))
        #expect(text.contains("'''^out\\.d(/|$)'''"))
        #expect(!GitleaksCommand.configuration(ignoring: []).contains("[allowlist]"))
    }

    @Test func aGitleaksReportIsReadWithoutItsSecretFields() throws {
        // The report shape of gitleaks v8 (report/finding.go): one object per finding.
        let report = #"""
            [{"Description":"AWS Access Key","StartLine":3,"EndLine":3,"StartColumn":7,"EndColumn":26,"Match":"key = AKIAREDACTED","Secret":"REDACTED",
              "File":"./services/trade/Config.swift","SymlinkFile":"","Commit":"","Entropy":3.6,"Author":"","Email":"","Date":"","Message":"",
              "Tags":[],"RuleID":"aws-access-token","Fingerprint":"services/trade/Config.swift:aws-access-token:3"}]
            """#
        let findings = try GitleaksCommand.parseReport(Data(report.utf8))
        #expect(findings == [SecretFinding(rule: "aws-access-token", file: "services/trade/Config.swift", line: 3, title: "AWS Access Key", severity: nil)])
        #expect(try GitleaksCommand.parseReport(Data("[]".utf8)).isEmpty)
        #expect(throws: ToolOutputError.self) { try GitleaksCommand.parseReport(Data("{}".utf8)) }
    }

    @Test func trivySkipPathsMatchOnlyThemselves() {
        #expect(TrivyFilesystemCommand.literalSkipPattern("app/[id]/config.env") == #"app/\[id\]/config.env"#)
        #expect(TrivyFilesystemCommand.literalSkipPattern("notes*?.txt") == #"notes\*\?.txt"#)
        #expect(TrivyFilesystemCommand.literalSkipPattern(#"a\b{c}"#) == #"a\\b\{c\}"#)
        #expect(TrivyFilesystemCommand.literalSkipPattern("b,c") == #""b,c""#)
        #expect(TrivyFilesystemCommand.literalSkipPattern(#"say "hi""#) == #""say ""hi""""#)
        #expect(TrivyFilesystemCommand.literalSkipPattern(".build") == ".build")
        let argv = TrivyFilesystemCommand(cacheDirectory: "/cache").secretScan("/repo", skipDirectories: ["web/[slug]"], skipFiles: ["a*.env"], output: "/o")
            .arguments
        #expect(argv.suffix(5) == ["--skip-dirs", #"web/\[slug\]"#, "--skip-files", #"a\*.env"#, "/repo"])
    }

    @Test func trivyFilesystemScans() {
        let trivy = TrivyFilesystemCommand(cacheDirectory: "/cache")
        #expect(
            trivy.secretScan("/repo", skipDirectories: [".git", ".build"], skipFiles: ["Package.resolved"], output: "/r/s.json").arguments == [
                "fs", "--scanners", "secret", "--format", "json", "--output", "/r/s.json", "--exit-code", "0", "--cache-dir", "/cache",
                "--skip-dirs", ".git", "--skip-dirs", ".build", "--skip-files", "Package.resolved", "/repo",
            ])
        #expect(
            trivy.dependencyScan("/in", output: "/r/sca.json", skipDatabaseUpdate: false, databaseRepository: nil).arguments == [
                "fs", "--scanners", "vuln", "--format", "json", "--output", "/r/sca.json", "--exit-code", "0", "--cache-dir", "/cache", "/in",
            ])
        #expect(
            trivy.dependencyScan("/in", output: "/o", skipDatabaseUpdate: true, databaseRepository: "mirror.local/trivy-db", ignoreFile: "/repo/.trivyignore")
                .arguments.suffix(6) == [
                    "--skip-db-update", "--db-repository", "mirror.local/trivy-db", "--ignorefile", "/repo/.trivyignore", "/in",
                ])
        let cache = temporaryDirectory()
        #expect(!TrivyFilesystemCommand.hasDatabase(in: cache))
        try? FileManager.default.createDirectory(atPath: cache + "/db", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: cache + "/db/trivy.db", contents: Data())
        #expect(!TrivyFilesystemCommand.hasDatabase(in: cache))
        _ = FileManager.default.createFile(atPath: cache + "/db/metadata.json", contents: Data("{}".utf8))
        #expect(TrivyFilesystemCommand.hasDatabase(in: cache))
    }

    @Test func semgrepRunsOfflineWithBothReports() {
        let command = SemgrepCommand().scan(
            root: "/repo", rules: "pipelines/semgrep", targets: ["Sources/", "services/"], sarifOutput: "/r/s.sarif", jsonOutput: "/r/s.json")
        #expect(
            command.arguments == [
                "scan", "--config", "pipelines/semgrep", "--metrics=off", "--disable-version-check", "--quiet",
                "--sarif-output=/r/s.sarif", "--json-output=/r/s.json", "--", "Sources/", "services/",
            ])
        #expect(command.workingDirectory == "/repo")
        #expect(command.environment["SEMGREP_SEND_METRICS"] == "off")
        #expect(command.environment["SEMGREP_ENABLE_VERSION_CHECK"] == "0")
        #expect(!command.arguments.contains("--error"))
    }

    @Test func zapBaselineIsTheDocumentedDockerCommand() {
        // https://www.zaproxy.org/docs/docker/baseline-scan/:
        // docker run -v $(pwd):/zap/wrk/:rw -t ghcr.io/zaproxy/zaproxy:stable zap-baseline.py -t https://www.example.com -g gen.conf -r testreport.html
        let command = ZAPBaselineCommand().baseline(
            target: "http://127.0.0.1:8011", workDirectory: "/run/reports/dast-stage", reports: .init(name: "zap-trade"), minutes: 2, rulesFile: "rules.tsv")
        #expect(command.executable == "docker")
        #expect(
            command.arguments == [
                "run", "--rm", "--network", "host", "-v", "/run/reports/dast-stage:/zap/wrk/:rw", "-t", "ghcr.io/zaproxy/zaproxy:stable",
                "zap-baseline.py", "-t", "http://127.0.0.1:8011", "-m", "2", "-J", "zap-trade.json", "-r", "zap-trade.html", "-x", "zap-trade.xml",
                "-c", "rules.tsv",
            ])
        // "The script will exit with: 0 Success, 1 At least 1 FAIL, 2 At least one WARN and no FAILs, 3 Any other failure".
        #expect([0, 1, 2, 3, 125, nil].map(ZAPBaselineCommand.Outcome.init(exitStatus:)) == [.pass, .fail, .warn, .error, .error, .error])
    }

    @Test func aZAPJSONReportIsRead() throws {
        let alerts = try ZAPBaselineCommand.parseReport(Data(SecurityFixtures.zapJSON.utf8))
        #expect(
            alerts == [
                .init(site: "http://127.0.0.1:8011", pluginID: "10021", name: "X-Content-Type-Options Header Missing", risk: 1, instances: 2),
                .init(
                    site: "http://127.0.0.1:8011", pluginID: "10036", name: "Server Leaks Version Information via \"Server\" HTTP Response Header Field",
                    risk: 1, instances: 1),
            ])
        #expect(throws: ToolOutputError.self) { try ZAPBaselineCommand.parseReport(Data("{\"@programName\": \"ZAP\"}".utf8)) }
    }

    @Test func gitOpsGitCommandsCarryTheTokenOnlyInTheEnvironment() {
        let token = Secret("ghs_gitopsTokenValue123")
        var environment = Command.baseEnvironment()
        environment.merge(GitWorkspace.authenticationEnvironment(token: token)) { _, new in new }
        let workspace = GitWorkspace(directory: "/tmp/clone", environment: environment)
        let commands = [
            workspace.clone("https://git.example.com/infra.git", branch: "main"), workspace.add("overlays/stage/kustomization.yaml"),
            workspace.commit(messageFile: "/tmp/msg"), workspace.push(branch: "main"), workspace.fetch(branch: "main"), workspace.resetToFetched(),
        ]
        #expect(commands[0].arguments == ["clone", "--quiet", "--branch", "main", "--single-branch", "--", "https://git.example.com/infra.git", "/tmp/clone"])
        #expect(commands[3].arguments == ["-C", "/tmp/clone", "push", "--quiet", "--porcelain", "origin", "HEAD:refs/heads/main"])
        #expect(commands[2].arguments == ["-C", "/tmp/clone", "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "--file", "/tmp/msg"])
        let basic = Data("x-access-token:ghs_gitopsTokenValue123".utf8).base64EncodedString()
        for command in commands {
            #expect(!command.arguments.joined(separator: " ").contains("ghs_gitopsTokenValue123"))
            #expect(!command.arguments.joined(separator: " ").contains(basic))
            #expect(command.environment["GIT_TERMINAL_PROMPT"] == "0")
            #expect(command.environment["GIT_CONFIG_KEY_0"] == "http.extraHeader")
            #expect(command.environment["GIT_CONFIG_VALUE_0"] == "Authorization: Basic \(basic)")
        }
        #expect(SecretMasker.shared.mask("header \(basic)") == "header ***")
        #expect(GitWorkspace.isRejectedAsStale(" ! [rejected]        HEAD -> main (fetch first)"))
        #expect(!GitWorkspace.isRejectedAsStale(" ! [remote rejected] HEAD -> main (pre-receive hook declined)"))
    }

    @Test func defectDojoImportIsAMultipartPostWithTheTokenHeader() throws {
        let client = DefectDojoClient(baseURL: "https://dojo.example.com/", token: Secret("dojo-api-key-1234"))
        let item = DefectDojoImport(
            scanType: "Trivy Scan", file: "/run/reports/sca-trivy.json", productType: "stockops", product: "stockapp", engagement: "repository",
            testTitle: "sca-trivy.json", scanDate: "2026-11-22", commitHash: "abc123", branchTag: "release/1.2", buildID: "run-1")
        let request = client.request(item, content: Data("{\"SchemaVersion\": 2}".utf8), boundary: "BOUNDARY")
        #expect(request.method == .post)
        #expect(request.url == "https://dojo.example.com/api/v2/import-scan/")
        #expect(request.headers["Authorization"] == "Token dojo-api-key-1234")
        #expect(request.headers["Content-Type"] == "multipart/form-data; boundary=BOUNDARY")
        let body = String(decoding: try #require(request.body), as: UTF8.self)
        for (name, value) in [
            ("scan_type", "Trivy Scan"), ("product_type_name", "stockops"), ("product_name", "stockapp"), ("engagement_name", "repository"),
            ("auto_create_context", "true"), ("test_title", "sca-trivy.json"), ("scan_date", "2026-11-22"), ("commit_hash", "abc123"),
            ("branch_tag", "release/1.2"), ("build_id", "run-1"),
        ] {
            #expect(body.contains("--BOUNDARY\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"), "\(name)")
        }
        #expect(
            body.contains(
                "Content-Disposition: form-data; name=\"file\"; filename=\"sca-trivy.json\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"SchemaVersion\": 2}\r\n--BOUNDARY--\r\n"
            ))
    }

    @Test func reportsAreMatchedToDefectDojoParsersByContent() {
        func detect(_ name: String, _ text: String) -> DefectDojoScanType? {
            DefectDojoScanType.detect(fileName: name, content: Data(text.utf8))
        }
        #expect(detect("sca-trivy.json", DocumentedFixtures.trivyVulnerabilities) == .trivy)
        #expect(detect("secret-scan-trivy.json", TrivyFixtures.secretScan) == .trivy)
        #expect(detect("sast-semgrep.json", #"{"version": "1.182.0", "results": [], "errors": [], "paths": {"scanned": []}}"#) == .semgrep)
        #expect(detect("sast-semgrep.sarif", #"{"version": "2.1.0", "runs": []}"#) == nil)
        #expect(detect("secret-scan-gitleaks.json", "[]") == .gitleaks)
        #expect(detect("secret-scan-gitleaks.json", #"[{"RuleID": "aws-access-token", "File": "a"}]"#) == .gitleaks)
        #expect(detect("zap-trade.xml", SecurityFixtures.zapXML) == .zap)
        #expect(detect("zap-trade.json", SecurityFixtures.zapJSON) == nil)
        #expect(detect("sbom-trade.cdx.json", #"{"bomFormat": "CycloneDX", "specVersion": "1.6"}"#) == .cycloneDX)
        #expect(detect("junit-trade.xml", "<?xml version=\"1.0\"?><testsuites/>") == nil)
        #expect(detect("zap-trade.html", "<html></html>") == nil)
        #expect(DefectDojoScanType.allCases.map(\.rawValue) == ["Trivy Scan", "Semgrep JSON Report", "Gitleaks Scan", "ZAP Scan", "CycloneDX Scan"])
    }

    @Test func defectDojoEngagementsFollowTheServiceInTheFileName() {
        let stage = DefectDojoStage(
            config: DefectDojoConfig(url: "https://dojo", product: "stockapp"), services: ["stock-listing", "trade", "listing"],
            fetched: StockOpsPipeline.fetchSecrets, processEnvironment: [:])
        #expect(stage.engagement(for: "scan-trade.json") == "trade")
        #expect(stage.engagement(for: "sbom-stock-listing.cdx.json") == "stock-listing")
        #expect(stage.engagement(for: "zap-listing.xml") == "listing")
        #expect(stage.engagement(for: "dast-stage/zap-trade.xml") == "trade")
        #expect(stage.engagement(for: "tradeoff.json") == "repository")
        #expect(stage.engagement(for: "sast-semgrep.json") == "repository")
    }

    @Test func argoCDApplicationRequestAndStatus() throws {
        // Argo CD API docs (docs/developer-guide/api-docs.md): `Authorization: Bearer $ARGOCD_TOKEN`;
        // swagger ApplicationService_Get: GET /api/v1/applications/{name}, query `refresh`.
        let client = ArgoCDClient(baseURL: "https://argocd.example.com/", token: Secret("argo-token-5678"))
        let request = client.request(application: "stockapp-stage", refresh: true)
        #expect(request.method == .get)
        #expect(request.url == "https://argocd.example.com/api/v1/applications/stockapp-stage?refresh=normal")
        #expect(request.headers["Authorization"] == "Bearer argo-token-5678")
        #expect(client.request(application: "a/b", refresh: false).url == "https://argocd.example.com/api/v1/applications/a%2Fb")

        let status = try ArgoCDApplicationStatus.parse(Data(SecurityFixtures.argoApplication(sync: "Synced", health: "Healthy", revision: "abc").utf8))
        #expect(status == ArgoCDApplicationStatus(sync: "Synced", revision: "abc", health: "Healthy", healthMessage: nil, operationPhase: "Succeeded"))
        #expect(status.isDeployed("abc") && !status.isDeployed("def"))
        #expect(try ArgoCDApplicationStatus.parse(Data("{}".utf8)) == ArgoCDApplicationStatus(sync: "Unknown", revision: nil, health: "Unknown"))
    }

    @Test func kustomizationImagesAreEditedStructurally() throws {
        var kustomization = try Kustomization(
            yaml: """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources:
                  - ../../base
                images:
                  - name: trade
                    newName: localhost:5000/stockapp/trade
                    newTag: "1.0"
                  - name: stock-listing
                    newTag: old
                """)
        #expect(kustomization.image(named: "trade") == KustomizeImage(name: "trade", newName: "localhost:5000/stockapp/trade", newTag: "1.0"))
        try kustomization.setImage(
            KustomizeImage(name: "trade", newName: "localhost:5000/stockapp/trade", digest: "sha256:" + String(repeating: "a", count: 64)))
        try kustomization.setImage(KustomizeImage(name: "billing", newTag: "2.0"))
        let text = try kustomization.yaml()
        let reread = try Kustomization(yaml: text)
        #expect(reread.images.map(\.name) == ["trade", "stock-listing", "billing"])
        #expect(reread.image(named: "trade")?.newTag == nil)
        #expect(reread.image(named: "trade")?.description == "localhost:5000/stockapp/trade@sha256:" + String(repeating: "a", count: 64))
        #expect(reread.image(named: "stock-listing") == KustomizeImage(name: "stock-listing", newTag: "old"))
        #expect(reread.image(named: "billing")?.newTag == "2.0")
        #expect(text.hasPrefix("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"))
        #expect(text.contains("newTag: \"2.0\""))
        #expect(throws: KustomizationError.self) { try Kustomization(yaml: "- a list") }
        var broken = try Kustomization(yaml: "images: trade")
        #expect(throws: KustomizationError.self) { try broken.setImage(KustomizeImage(name: "trade", newTag: "1")) }
    }
}
