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
            tests: ["Tests"], branch: "main", properties: ["sonar.swift.coverage.reportPaths": "coverage.xml"])
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
