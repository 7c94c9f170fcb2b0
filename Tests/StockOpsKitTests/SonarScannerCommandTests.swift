import Foundation
import Testing

@testable import StockOpsKit

/// Contract tests: the scanner's `-D` properties as SonarQube's scanner documentation names them, and the
/// `api/qualitygates/project_status` response as its Web API documentation shows it.
@Suite("SonarScannerCommand argv and quality gate status")
struct SonarScannerCommandTests {
    @Test func scanWaitsForTheQualityGate() {
        let scanner = SonarScannerCommand(
            projectKey: "stocks", hostURL: "https://sonarqube.example.com", sources: ["Sources", "services"],
            tests: ["Tests"], subject: .branch("main"), properties: ["sonar.swift.coverage.reportPaths": "coverage.xml"])
        #expect(
            scanner.scan()
                == [
                    "sonar-scanner",
                    "-Dsonar.projectKey=stocks",
                    "-Dsonar.host.url=https://sonarqube.example.com",
                    "-Dsonar.sources=Sources,services",
                    "-Dsonar.tests=Tests",
                    "-Dsonar.branch.name=main",
                    "-Dsonar.qualitygate.wait=true",
                    "-Dsonar.qualitygate.timeout=300",
                    "-Dsonar.swift.coverage.reportPaths=coverage.xml",
                ])
    }

    @Test func pullRequestsAreAnalysedWithThePullRequestProperties() {
        let scanner = SonarScannerCommand(
            projectKey: "stocks", hostURL: "https://sonarqube.example.com",
            subject: .pullRequest(key: "42", branch: "feature/quotes", base: "develop"))
        let argv = scanner.scan()
        #expect(argv.contains("-Dsonar.pullrequest.key=42"))
        #expect(argv.contains("-Dsonar.pullrequest.branch=feature/quotes"))
        #expect(argv.contains("-Dsonar.pullrequest.base=develop"))
        #expect(!argv.contains { $0.hasPrefix("-Dsonar.branch.") })
        #expect(
            !SonarScannerCommand(projectKey: "stocks", hostURL: "https://sonarqube.example.com").scan().contains {
                $0.hasPrefix("-Dsonar.branch.") || $0.hasPrefix("-Dsonar.pullrequest.")
            })
    }

    @Test func theSubjectComesFromGitHubActionsOnlyWithBranchSupport() {
        let push = ["GITHUB_REF": "refs/heads/release/1.4", "GITHUB_REF_NAME": "release/1.4", "GITHUB_EVENT_NAME": "push"]
        let pullRequest = [
            "GITHUB_REF": "refs/pull/42/merge", "GITHUB_REF_NAME": "42/merge", "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_HEAD_REF": "feature/quotes", "GITHUB_BASE_REF": "develop",
        ]
        let tag = ["GITHUB_REF": "refs/tags/v1.4.0", "GITHUB_REF_NAME": "v1.4.0"]
        #expect(SonarStage.subject(branchSupport: false, environment: RunEnvironment(push)) == nil)
        #expect(SonarStage.subject(branchSupport: false, environment: RunEnvironment(pullRequest)) == nil)
        #expect(SonarStage.subject(branchSupport: true, environment: RunEnvironment(push)) == .branch("release/1.4"))
        #expect(
            SonarStage.subject(branchSupport: true, environment: RunEnvironment(pullRequest))
                == .pullRequest(key: "42", branch: "feature/quotes", base: "develop"))
        #expect(SonarStage.subject(branchSupport: true, environment: RunEnvironment(tag)) == nil)
        #expect(SonarStage.subject(branchSupport: true, environment: [:]) == nil)
    }

    /// SonarQube 9.9 reads a token only from HTTP Basic (`BasicAuthentication`: the login, with no password).
    @Test func theWebAPITokenIsTheBasicLoginWithAnEmptyPassword() {
        let header = SonarScannerCommand.webAPIAuthorization(token: Secret("squ_0123456789abcdef"))
        #expect(header == "Basic c3F1XzAxMjM0NTY3ODlhYmNkZWY6")
        #expect(Data(base64Encoded: String(header.dropFirst("Basic ".count))).map { String(decoding: $0, as: UTF8.self) } == "squ_0123456789abcdef:")
    }

    @Test func tokenNeverInArgv() {
        let token = Secret("squ_0123456789abcdef")
        let scanner = SonarScannerCommand(
            projectKey: "stocks", hostURL: "https://sonarqube.example.com",
            properties: ["sonar.token": token.reveal(), "sonar.login": token.reveal(), "sonar.verbose": "true"])
        let argv = scanner.scan()
        #expect(!argv.contains { $0.contains(token.reveal()) })
        #expect(argv.contains("-Dsonar.verbose=true"))
        #expect(SonarScannerCommand.environment(token: token) == ["SONAR_TOKEN": token])
    }

    @Test func failedConditionsOfADocumentedStatus() throws {
        let status = try SonarQualityGateStatus.parse(Data(DocumentedFixtures.sonarProjectStatus.utf8))
        #expect(status.status == "ERROR")
        #expect(!status.passed)
        #expect(status.conditions.count == 7)
        #expect(status.failedConditions.map(\.metricKey) == ["new_coverage", "new_blocker_violations", "new_critical_violations", "open_issues"])
        #expect(status.failedConditions[0].description == "new_coverage = 82.50562381034781 (fails when < 85)")
        #expect(status.conditions[4].errorThreshold == nil)
    }

    @Test func passingGateAndBrokenJSON() throws {
        let status = try SonarQualityGateStatus.parse(Data(DocumentedFixtures.sonarProjectStatusOK.utf8))
        #expect(status.passed)
        #expect(status.failedConditions.isEmpty)
        #expect(throws: ToolOutputError.self) { try SonarQualityGateStatus.parse(Data(#"{"errors":[{"msg":"Project not found"}]}"#.utf8)) }
    }
}
