import Foundation
import Testing

@testable import StockOpsKit

/// `security:`, `gates.coverage.environments` and `kind: gitops` in `pipelines/stockops.yml`.
@Suite struct SecurityConfigTests {
    static let base = """
        version: 1
        services:
          - name: trade
            paths: [services/trade/]
            product: trade
            test-target: TradeServiceTests
            ports: {dev: 8001, stage: 8011, prod: 8021}
        registry: {host: localhost:5000, project: stockapp}
        vault:
          - path: secret/data/ci/pipeline
            keys: [DEFECTDOJO_API_KEY, ARGOCD_TOKEN, INFRA_TOKEN]

        """

    func parse(_ extra: String) throws(ConfigError) -> PipelineConfig {
        try PipelineConfig.parse(Self.base + extra, file: "pipelines/stockops.yml")
    }

    func error(_ extra: String) -> ConfigError? {
        do {
            _ = try parse(extra)
            return nil
        } catch {
            return error
        }
    }

    @Test func nodesAreOffUntilListedAndEmptyKeysTakeTheDefaults() throws {
        #expect(try parse("").security == SecurityConfig())
        let config = try parse("security:\n  secret-scan:\n  sast: {}\n  sca:\n    enabled: false\n  dast: {}\n")
        #expect(config.security.secretScan == SecretScanConfig())
        #expect(config.security.sast == SASTConfig(rules: "pipelines/semgrep", paths: ["Sources/", "services/"], blocking: false))
        #expect(config.security.sca == nil)
        #expect(config.security.dast?.environments == [.stage])
        #expect(config.security.dast?.image == "ghcr.io/zaproxy/zaproxy:stable")
    }

    @Test func everySettingIsRead() throws {
        let config = try parse(
            """
            security:
              secret-scan: {scanner: trivy, allowlist: pipelines/allow.yml}
              sast: {rules: rules/semgrep.yml, paths: [Sources/], blocking: true}
              sca: {blocking: false, fail-on: [critical], cache-dir: cache/trivy, db-repository: registry.local/trivy-db}
              dast: {environments: [stage, prod], image: zap:local, host: stage.internal, minutes: 3, rules: zap/rules.tsv, fail-on-warnings: true}
              defectdojo: {url: "https://dojo.example.com/", product: stocks, product-type: apps, repository-engagement: repo}
            """)
        #expect(config.security.secretScan == SecretScanConfig(scanner: .trivy, allowlist: "pipelines/allow.yml"))
        #expect(config.security.sast == SASTConfig(rules: "rules/semgrep.yml", paths: ["Sources/"], blocking: true))
        #expect(
            config.security.sca == SCAConfig(blocking: false, failOn: [.critical], cacheDirectory: "cache/trivy", databaseRepository: "registry.local/trivy-db")
        )
        #expect(
            config.security.dast
                == DASTConfig(
                    environments: [.stage, .prod], image: "zap:local", host: "stage.internal", minutes: 3, rulesFile: "zap/rules.tsv", failOnWarnings: true))
        #expect(
            config.security.defectDojo
                == DefectDojoConfig(
                    url: "https://dojo.example.com", tokenKey: "DEFECTDOJO_API_KEY", product: "stocks", productType: "apps", repositoryEngagement: "repo"))
    }

    @Test func badValuesNameTheKeyAndWhatToDo() {
        let cases: [(String, String, String)] = [
            ("security:\n  secret-scan: {scanner: detect-secrets}\n", "security.secret-scan.scanner", "use auto, gitleaks or trivy"),
            ("security:\n  sast: {rules: /etc/semgrep}\n", "security.sast.rules", "relative to the repository root"),
            ("security:\n  sast: {blocking: sometimes}\n", "security.sast.blocking", "expected true or false"),
            ("security:\n  sca: {fail-on: [SEVERE]}\n", "security.sca.fail-on[0]", "unknown severity 'SEVERE'"),
            (
                "security:\n  dast: {environments: [qa]}\n", "security.dast.environments[0]",
                "no environment 'qa' under environments:; add it there or use dev, stage, prod"
            ),
            ("security:\n  dast: {minutes: 0}\n", "security.dast.minutes", "between 1 and 60"),
            ("security:\n  defectdojo: {url: dojo.example.com}\n", "security.defectdojo.url", "is not an http(s) URL"),
            ("security:\n  defectdojo: {url: \"https://u:p@dojo.example.com\"}\n", "security.defectdojo.url", "must not hold credentials"),
            (
                "security:\n  defectdojo: {url: \"https://dojo\", token-key: DOJO}\n", "security.defectdojo.token-key",
                "add DOJO to the keys of a path under vault:"
            ),
            ("security:\n  iast: {}\n", "security.iast", "unknown key"),
            ("gates:\n  coverage: {minimum: 60, environments: {stage: 170}}\n", "gates.coverage.environments.stage", "between 0 and 100"),
        ]
        for (yaml, keyPath, message) in cases {
            let error = error(yaml)
            #expect(error?.keyPath == keyPath, "\(yaml)")
            #expect(error?.message.contains(message) == true, "\(error?.description ?? "no error") for \(yaml)")
        }
    }

    @Test func stageNeedsSeventyPercentUnlessConfigured() throws {
        let plain = try parse("gates:\n  coverage: {minimum: 60}\n")
        #expect(plain.gates.minimumCoverage(for: .dev) == 60)
        #expect(plain.gates.minimumCoverage(for: .stage) == 70)
        #expect(plain.gates.minimumCoverage(for: .prod) == 60)
        let overridden = try parse("gates:\n  coverage: {minimum: 50, environments: {stage: 80, prod: 90}}\n")
        #expect(overridden.gates.minimumCoverage(for: .dev) == 50)
        #expect(overridden.gates.minimumCoverage(for: .stage) == 80)
        #expect(overridden.gates.minimumCoverage(for: .prod) == 90)

        let graph = try StockOpsPipeline.graph(config: overridden, options: .init(environment: .stage))
        #expect(graph.node(NodeID("test", key: "trade"))?.summary.hasSuffix("coverage ≥ 80.0%") == true)
    }

    @Test func gitOpsEnvironments() throws {
        let config = try parse(
            """
            environments:
              stage:
                ref: refs/heads/release/**
                tag: stage-{sha7}
                kind: gitops
                gitops:
                  repository: https://git.example.com/infra.git
                  branch: deploy
                  pin: tag
                  author: {name: Release Bot, email: release@example.com}
                  token-key: INFRA_TOKEN
                  images: {trade: stockapp/trade}
                  argocd: {url: "https://argocd.example.com", application: stockapp-stage, timeout: 120}
              prod: {ref: "refs/tags/v*.*.*", tag: "{ref}", kind: compose}
            """)
        let target = try #require(config.gitOps[.stage])
        #expect(
            target
                == GitOpsTarget(
                    repository: "https://git.example.com/infra.git", branch: "deploy", overlay: "overlays/stage", pin: .tag,
                    authorName: "Release Bot", authorEmail: "release@example.com", tokenKey: "INFRA_TOKEN", imageNames: ["trade": "stockapp/trade"],
                    argoCD: ArgoCDTarget(url: "https://argocd.example.com", application: "stockapp-stage", tokenKey: "ARGOCD_TOKEN", timeout: 120)))
        #expect(target.kustomizationPath == "overlays/stage/kustomization.yaml")
        #expect(config.gitOps[.prod] == nil)
        #expect(config.environments[.stage]?.tag == "stage-{sha7}")

        let cases: [(String, String, String)] = [
            ("  dev: {ref: r, tag: t, kind: helm}\n", "environments.dev.kind", "use compose or gitops"),
            ("  dev: {ref: r, tag: t, kind: gitops}\n", "environments.dev.gitops", "needs a gitops: mapping"),
            ("  dev: {ref: r, tag: t, gitops: {repository: x}}\n", "environments.dev.gitops", "only with kind: gitops"),
            ("  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: x, pin: latest}}\n", "environments.dev.gitops.pin", "use tag or digest"),
            ("  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: x, branch: \"a..b\"}}\n", "environments.dev.gitops.branch", "not a valid branch name"),
            (
                "  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: \"https://bot:s3cr3t@git.example.com/infra.git\"}}\n",
                "environments.dev.gitops.repository", "must not hold credentials"
            ),
            (
                "  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: x, author: {name: a, email: nobody}}}\n", "environments.dev.gitops.author.email",
                "not an e-mail address"
            ),
            (
                "  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: x, images: {billing: b}}}\n", "environments.dev.gitops.images.billing",
                "not a declared service"
            ),
            (
                "  dev: {ref: r, tag: t, kind: gitops, gitops: {repository: x, argocd: {url: \"http://argo\", application: a, token-key: NOPE}}}\n",
                "environments.dev.gitops.argocd.token-key", "fetch-secrets does not read"
            ),
        ]
        for (yaml, keyPath, message) in cases {
            let error = error("environments:\n" + yaml)
            #expect(error?.keyPath == keyPath, "\(yaml)")
            #expect(error?.message.contains(message) == true, "\(error?.description ?? "no error") for \(yaml)")
        }
    }

    @Test func theRepositoryPipelineSwitchesOnTheSecurityNodes() throws {
        let config = try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        #expect(config.security.secretScan?.allowlist == "pipelines/secret-scan-allowlist.yml")
        #expect(config.security.sast?.rules == "pipelines/semgrep")
        #expect(config.security.sast?.blocking == false)
        #expect(config.security.sca?.blocking == true)
        #expect(config.security.dast?.environments == [.stage])
        #expect(config.gates.minimumCoverage(for: .stage) == 70)
        let allowlist = try SecretAllowlist.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/secret-scan-allowlist.yml", displayPath: "allowlist")
        #expect(!allowlist.entries.isEmpty && allowlist.entries.allSatisfy { !$0.reason.isEmpty })
    }

    @Test func allowlistEntriesMatchRulePathAndLine() throws {
        let allowlist = try SecretAllowlist.parse(
            """
            allow:
              - {rule: aws-access-key-id, path: Tests/Fixtures/, reason: fake keys}
              - {rule: "*", path: "docs/**/*.md", reason: examples}
              - {rule: github-pat, path: scripts/setup.sh, line: 4, reason: revoked token}
            """, file: "allow.yml")
        func finding(_ rule: String, _ file: String, _ line: Int? = 1) -> SecretFinding {
            SecretFinding(rule: rule, file: file, line: line, title: rule, severity: nil)
        }
        #expect(allowlist.entry(accepting: finding("aws-access-key-id", "Tests/Fixtures/keys.swift"))?.reason == "fake keys")
        #expect(allowlist.entry(accepting: finding("aws-access-key-id", "Tests/FixturesOther/keys.swift")) == nil)
        #expect(allowlist.entry(accepting: finding("private-key", "Tests/Fixtures/keys.swift")) == nil)
        #expect(allowlist.entry(accepting: finding("private-key", "docs/guide/setup.md"))?.reason == "examples")
        #expect(allowlist.entry(accepting: finding("github-pat", "scripts/setup.sh", 4)) != nil)
        #expect(allowlist.entry(accepting: finding("github-pat", "scripts/setup.sh", 5)) == nil)

        for (yaml, keyPath, message) in [
            ("allow:\n  - {rule: x, path: a}\n", "allow[0].reason", "required key is missing"),
            ("allow:\n  - {rule: x, path: ../a, reason: r}\n", "allow[0].path", "relative to the repository root"),
            ("allow:\n  - {rule: x, path: a, line: 0, reason: r}\n", "allow[0].line", "start at 1"),
            ("deny: []\n", "deny", "unknown key"),
        ] {
            #expect(throws: ConfigError.self) { try SecretAllowlist.parse(yaml, file: "allow.yml") }
            do {
                _ = try SecretAllowlist.parse(yaml, file: "allow.yml")
            } catch {
                #expect(error.keyPath == keyPath && error.message.contains(message), "\(error)")
            }
        }
    }
}
