import Foundation
import Testing

@testable import StockOpsKit

@Suite("TrivyCommand argv, report and failure classification")
struct TrivyCommandTests {
    let trivy = TrivyCommand(cacheDirectory: "/var/cache/stockops/trivy")
    let image = try! ImageReference.parse("harbor.example.com/stocks/trade:git-abc1234")
        .pinned(to: ImageDigest.parse("sha256:" + String(repeating: "0123456789abcdef", count: 4)))

    @Test func imageScanByDigest() {
        #expect(
            trivy.image(image)
                == [
                    "trivy", "image", "--format", "json", "--severity", "HIGH,CRITICAL", "--exit-code", "0",
                    "--ignorefile", ".trivyignore", "--cache-dir", "/var/cache/stockops/trivy",
                    "harbor.example.com/stocks/trade@sha256:" + String(repeating: "0123456789abcdef", count: 4),
                ])
    }

    @Test func archiveScanSarifAndTimeout() {
        let custom = TrivyCommand(
            cacheDirectory: "/c", severities: [.medium, .high, .critical], ignoreFile: nil, timeout: "10m")
        #expect(
            custom.archive("/run/42/trade.tar", format: .sarif, output: "/run/42/trade.sarif")
                == [
                    "trivy", "image", "--format", "sarif", "--severity", "MEDIUM,HIGH,CRITICAL", "--exit-code", "0",
                    "--output", "/run/42/trade.sarif", "--cache-dir", "/c", "--timeout", "10m", "--input", "/run/42/trade.tar",
                ])
    }

    @Test func scannersAndDatabaseRepository() {
        let custom = TrivyCommand(
            cacheDirectory: "/c", ignoreFile: nil, scanners: [.vuln, .secret],
            databaseRepository: "harbor.example.com/proxy/aquasecurity/trivy-db")
        #expect(
            custom.image(image)
                == [
                    "trivy", "image", "--scanners", "vuln,secret", "--format", "json", "--severity", "HIGH,CRITICAL",
                    "--exit-code", "0", "--db-repository", "harbor.example.com/proxy/aquasecurity/trivy-db",
                    "--cache-dir", "/c", image.description,
                ])
    }

    @Test func sboms() {
        #expect(
            trivy.sbom(image, format: .cycloneDX, output: "/run/42/trade.cdx.json")
                == [
                    "trivy", "image", "--format", "cyclonedx", "--output", "/run/42/trade.cdx.json",
                    "--cache-dir", "/var/cache/stockops/trivy", image.description,
                ])
        #expect(
            trivy.sbom(archive: "/run/42/oci", format: .spdxJSON, output: "/run/42/trade.spdx.json")
                == [
                    "trivy", "image", "--format", "spdx-json", "--output", "/run/42/trade.spdx.json",
                    "--cache-dir", "/var/cache/stockops/trivy", "--input", "/run/42/oci",
                ])
    }

    @Test func secretScan() {
        #expect(
            trivy.secretScan(".")
                == [
                    "trivy", "fs", "--scanners", "secret", "--format", "json", "--severity", "HIGH,CRITICAL",
                    "--exit-code", "0", "--ignorefile", ".trivyignore", "--cache-dir", "/var/cache/stockops/trivy", ".",
                ])
    }

    @Test func readsRealSecretScanWithoutSecretValues() throws {
        let report = try TrivyReport.parse(Data(TrivyFixtures.secretScan.utf8))
        #expect(report.artifactName == "src")
        #expect(report.findings.map(\.id) == ["aws-access-key-id", "aws-secret-access-key", "private-key"])
        #expect(report.findings.map(\.severity) == [.critical, .critical, .high])
        #expect(report.findings.allSatisfy { $0.kind == .secret })
        #expect(report.findings[0].package == "config.env")
        #expect(report.findings[0].line == 1)
        #expect(report.findings[2].package == "id_rsa")
        #expect(report.findings(atLeast: .critical).count == 2)
        #expect(report.counts == [.critical: 2, .high: 1])
        let printed = report.findings.map(\.description).joined(separator: "\n")
        #expect(printed.contains("CRITICAL aws-access-key-id in config.env line 1: AWS Access Key ID"))
        #expect(!printed.contains("AWS_ACCESS_KEY_ID="))
        #expect(!printed.contains("****"))
    }

    @Test func readsDocumentedVulnerabilities() throws {
        let report = try TrivyReport.parse(Data(DocumentedFixtures.trivyVulnerabilities.utf8))
        #expect(report.findings.count == 4)
        let lodash = try #require(report.findings.first)
        #expect(lodash.id == "CVE-2018-16487")
        #expect(lodash.package == "lodash")
        #expect(lodash.installedVersion == "4.17.4")
        #expect(lodash.fixedVersion == ">=4.17.11")
        #expect(lodash.severity == .high)
        #expect(lodash.title == "lodash: Prototype pollution in utilities function")
        #expect(report.findings(atLeast: .critical).map(\.id) == ["CVE-2019-3822"])
        #expect(report.findings(atLeast: .high).count == 3)
        #expect(report.findings.last?.description == "LOW CVE-2018-20685 in openssh 7.5_p1-r9: openssh: scp client improper directory name validation")
    }

    @Test func cleanAndBrokenReports() throws {
        #expect(try TrivyReport.parse(Data(#"{"SchemaVersion":2,"ArtifactName":"x"}"#.utf8)).findings.isEmpty)
        #expect(throws: ToolOutputError.self) { try TrivyReport.parse(Data("FATAL".utf8)) }
    }

    @Test func databaseDownloadFailureIsInfrastructure() {
        let failure = TrivyFailure.classify(TrivyFixtures.databaseDownloadFailure)
        #expect(failure.kind == .databaseDownload)
        #expect(failure.isRetryable)
        #expect(failure.evidence.contains("failed to download vulnerability DB"))
    }

    @Test func rateLimitIsInfrastructure() {
        let failure = TrivyFailure.classify(DocumentedFixtures.trivyRateLimited)
        #expect(failure.kind == .rateLimited)
        #expect(failure.isRetryable)
        #expect(failure.evidence.contains("TOOMANYREQUESTS"))
    }

    @Test func otherFailuresAreNotRetryable() {
        let failure = TrivyFailure.classify("2026-11-22T18:30:58Z\tFATAL\tFatal error\tflag error: unknown flag --bogus\n")
        #expect(failure.kind == .other)
        #expect(!failure.isRetryable)
        #expect(failure.evidence.contains("unknown flag"))
        #expect(TrivyFailure.classify("unable to find the specified image \"x\"").kind == .imageUnavailable)
    }
}
