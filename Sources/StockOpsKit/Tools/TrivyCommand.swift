import Foundation

/// Argv builders for `trivy`. Pure values: nothing is executed here.
///
/// Scans always exit 0 on findings (`--exit-code 0`): the decision to fail is taken on the parsed
/// ``TrivyReport``, so that a non-zero exit means trivy itself failed (see ``TrivyFailure``).
public struct TrivyCommand: Sendable, Equatable {
    public enum Severity: String, Sendable, CaseIterable, Comparable, Codable {
        case unknown = "UNKNOWN"
        case low = "LOW"
        case medium = "MEDIUM"
        case high = "HIGH"
        case critical = "CRITICAL"

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    public enum SBOMFormat: String, Sendable {
        case cycloneDX = "cyclonedx"
        case spdxJSON = "spdx-json"
    }

    public enum ReportFormat: String, Sendable {
        case json
        case sarif
    }

    /// What an image scan looks for, `--scanners`.
    public enum Scanner: String, Sendable {
        case vuln
        case secret
        case misconfig
        case license
    }

    public var executable: String
    /// Trivy's cache (vulnerability DB and layers), `--cache-dir`.
    public var cacheDirectory: String
    /// Severities reported, `--severity`.
    public var severities: [Severity]
    /// `--ignorefile`, such as `.trivyignore`; nil to pass none.
    public var ignoreFile: String?
    /// `--timeout`, such as `10m`.
    public var timeout: String?
    /// `--scanners` of image scans; nil for trivy's default (vulnerabilities and secrets). Vulnerability scanning
    /// needs the vulnerability DB; secret scanning works offline.
    public var scanners: [Scanner]?
    /// `--db-repository`: where the vulnerability DB is pulled from, such as a Harbor proxy of `trivy-db`.
    public var databaseRepository: String?

    public init(
        executable: String = "trivy", cacheDirectory: String, severities: [Severity] = [.high, .critical],
        ignoreFile: String? = ".trivyignore", timeout: String? = nil, scanners: [Scanner]? = nil,
        databaseRepository: String? = nil
    ) {
        self.executable = executable
        self.cacheDirectory = cacheDirectory
        self.severities = severities
        self.ignoreFile = ignoreFile
        self.timeout = timeout
        self.scanners = scanners
        self.databaseRepository = databaseRepository
    }

    private var common: [String] {
        var arguments = ["--cache-dir", cacheDirectory]
        if let timeout { arguments += ["--timeout", timeout] }
        return arguments
    }

    private var imageScanners: [String] {
        scanners.map { ["--scanners", $0.map(\.rawValue).joined(separator: ",")] } ?? []
    }

    private func scanOptions(format: ReportFormat, output: String?) -> [String] {
        var arguments = [
            "--format", format.rawValue, "--severity", severities.map(\.rawValue).joined(separator: ","), "--exit-code", "0",
        ]
        if let ignoreFile { arguments += ["--ignorefile", ignoreFile] }
        if let output { arguments += ["--output", output] }
        if let databaseRepository { arguments += ["--db-repository", databaseRepository] }
        return arguments + common
    }

    /// `trivy image` of an image in a registry, by digest only.
    public func image(_ image: PinnedImageReference, format: ReportFormat = .json, output: String? = nil) -> [String] {
        [executable, "image"] + imageScanners + scanOptions(format: format, output: output) + [image.description]
    }

    /// `trivy image --input` of a docker-archive tarball or OCI layout directory.
    public func archive(_ path: String, format: ReportFormat = .json, output: String? = nil) -> [String] {
        [executable, "image"] + imageScanners + scanOptions(format: format, output: output) + ["--input", path]
    }

    /// An SBOM of an image in a registry: `trivy image --format cyclonedx|spdx-json --output FILE`.
    public func sbom(_ image: PinnedImageReference, format: SBOMFormat, output: String) -> [String] {
        [executable, "image", "--format", format.rawValue, "--output", output] + common + [image.description]
    }

    /// An SBOM of a docker-archive or OCI layout.
    public func sbom(archive path: String, format: SBOMFormat, output: String) -> [String] {
        [executable, "image", "--format", format.rawValue, "--output", output] + common + ["--input", path]
    }

    /// `trivy fs --scanners secret`: secrets in a directory; needs no vulnerability DB.
    public func secretScan(_ directory: String, format: ReportFormat = .json, output: String? = nil) -> [String] {
        [executable, "fs", "--scanners", "secret"] + scanOptions(format: format, output: output) + [directory]
    }
}

/// A trivy JSON report (`--format json`, schema version 2), reduced to findings.
public struct TrivyReport: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case vulnerability
        case secret
        case misconfiguration
    }

    /// One finding. A secret's matched text is never kept, only where it is and which rule matched.
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public var kind: Kind
        public var severity: TrivyCommand.Severity
        /// `CVE-…`, a secret rule id such as `aws-access-key-id`, or a check id.
        public var id: String
        /// The package, or the file for a secret.
        public var package: String
        public var installedVersion: String?
        public var fixedVersion: String?
        public var title: String
        /// The scanned target (`alpine 3.19`, `config.env`).
        public var target: String
        /// The line of a secret.
        public var line: Int?

        public var description: String {
            var text = "\(severity.rawValue) \(id) in \(package)"
            if let installedVersion { text += " \(installedVersion)" }
            if let fixedVersion, !fixedVersion.isEmpty { text += " (fixed in \(fixedVersion))" }
            if let line { text += " line \(line)" }
            return text + ": " + title
        }
    }

    public var artifactName: String?
    public var findings: [Finding]

    /// The findings at `severity` or above.
    public func findings(atLeast severity: TrivyCommand.Severity) -> [Finding] {
        findings.filter { $0.severity >= severity }
    }

    /// Counts per severity.
    public var counts: [TrivyCommand.Severity: Int] {
        findings.reduce(into: [:]) { $0[$1.severity, default: 0] += 1 }
    }

    /// Parses trivy's JSON report.
    public static func parse(_ data: Data) throws -> TrivyReport {
        let raw: RawReport
        do {
            raw = try JSONDecoder().decode(RawReport.self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the trivy report is not JSON as expected: \(error)")
        }
        var findings: [Finding] = []
        for result in raw.Results ?? [] {
            for vulnerability in result.Vulnerabilities ?? [] {
                findings.append(
                    Finding(
                        kind: .vulnerability, severity: severity(vulnerability.Severity), id: vulnerability.VulnerabilityID,
                        package: vulnerability.PkgName ?? "", installedVersion: vulnerability.InstalledVersion,
                        fixedVersion: vulnerability.FixedVersion,
                        title: vulnerability.Title ?? vulnerability.VulnerabilityID, target: result.Target, line: nil))
            }
            for secret in result.Secrets ?? [] {
                findings.append(
                    Finding(
                        kind: .secret, severity: severity(secret.Severity), id: secret.RuleID, package: result.Target,
                        installedVersion: nil, fixedVersion: nil, title: secret.Title ?? secret.RuleID,
                        target: result.Target, line: secret.StartLine))
            }
            for misconfiguration in result.Misconfigurations ?? [] where misconfiguration.Status != "PASS" {
                findings.append(
                    Finding(
                        kind: .misconfiguration, severity: severity(misconfiguration.Severity),
                        id: misconfiguration.AVDID ?? misconfiguration.ID ?? "", package: result.Target,
                        installedVersion: nil, fixedVersion: nil, title: misconfiguration.Title ?? "",
                        target: result.Target, line: nil))
            }
        }
        return TrivyReport(artifactName: raw.ArtifactName, findings: findings)
    }

    private static func severity(_ text: String?) -> TrivyCommand.Severity {
        text.flatMap { TrivyCommand.Severity(rawValue: $0.uppercased()) } ?? .unknown
    }

    // Field names as trivy writes them.
    private struct RawReport: Decodable {
        var ArtifactName: String?
        var Results: [RawResult]?
    }

    private struct RawResult: Decodable {
        var Target: String
        var Vulnerabilities: [RawVulnerability]?
        var Secrets: [RawSecret]?
        var Misconfigurations: [RawMisconfiguration]?
    }

    private struct RawVulnerability: Decodable {
        var VulnerabilityID: String
        var PkgName: String?
        var InstalledVersion: String?
        var FixedVersion: String?
        var Title: String?
        var Severity: String?
    }

    private struct RawSecret: Decodable {
        var RuleID: String
        var Severity: String?
        var Title: String?
        var StartLine: Int?
    }

    private struct RawMisconfiguration: Decodable {
        var ID: String?
        var AVDID: String?
        var Title: String?
        var Severity: String?
        var Status: String?
    }
}

/// Why a trivy run that exited non-zero failed: its infrastructure (retry later) or something else.
///
/// With `--exit-code 0`, findings never make trivy fail, so a failure is never "vulnerabilities found".
public struct TrivyFailure: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The vulnerability DB could not be downloaded (offline, DNS, mirror down).
        case databaseDownload = "database-download"
        /// The registry or DB mirror rate-limited the download (`TOOMANYREQUESTS`, 429).
        case rateLimited = "rate-limited"
        /// The image could not be pulled or read.
        case imageUnavailable = "image-unavailable"
        /// Anything else.
        case other
    }

    public var kind: Kind
    /// The line of output that decided the kind.
    public var evidence: String

    /// Whether retrying later may succeed: an infrastructure failure, not a verdict on the image.
    public var isRetryable: Bool { kind != .other }

    public var description: String { "\(kind.rawValue): \(evidence)" }

    /// Classifies trivy's combined output of a failed run.
    public static func classify(_ output: String) -> TrivyFailure {
        let lines = output.split(whereSeparator: \.isNewline).map(String.init)
        func line(containing needles: [String]) -> String? {
            lines.first { line in needles.contains { line.localizedCaseInsensitiveContains($0) } }
        }
        if let evidence = line(containing: ["TOOMANYREQUESTS", "429 Too Many Requests", "rate limit"]) {
            return TrivyFailure(kind: .rateLimited, evidence: evidence.trimmingCharacters(in: .whitespaces))
        }
        if let evidence = line(containing: ["failed to download vulnerability DB", "DB error", "failed to download artifact"]) {
            return TrivyFailure(kind: .databaseDownload, evidence: evidence.trimmingCharacters(in: .whitespaces))
        }
        if let evidence = line(containing: ["unable to find the specified image", "unable to inspect the image", "MANIFEST_UNKNOWN"]) {
            return TrivyFailure(kind: .imageUnavailable, evidence: evidence.trimmingCharacters(in: .whitespaces))
        }
        let last = lines.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        return TrivyFailure(kind: .other, evidence: last.trimmingCharacters(in: .whitespaces))
    }
}
