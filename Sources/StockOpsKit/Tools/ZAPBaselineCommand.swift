import Foundation

/// Argv builder for an OWASP ZAP baseline scan in ZAP's container image, and a reader of its reports. Pure values.
///
/// The shape is the one of https://www.zaproxy.org/docs/docker/baseline-scan/:
/// `docker run -v DIR:/zap/wrk/:rw -t ghcr.io/zaproxy/zaproxy:stable zap-baseline.py -t URL -J report.json -r report.html`,
/// plus `--rm`, `--network host` (the targets listen on the host's loopback), `-m` (spider minutes), `-x`
/// (the XML report DefectDojo's "ZAP Scan" parser reads) and `-c` (a rules file in the work directory).
public struct ZAPBaselineCommand: Sendable, Equatable {
    /// The `docker` executable.
    public var docker: String
    public var image: String
    public var environment: [String: String]

    public init(
        docker: String = "docker", image: String = "ghcr.io/zaproxy/zaproxy:stable",
        environment: [String: String] = Command.baseEnvironment(adding: ["DOCKER_HOST", "DOCKER_CONFIG"])
    ) {
        self.docker = docker
        self.image = image
        self.environment = environment
    }

    /// The files a scan of one target writes into the work directory, `<name>.json|html|xml`.
    public struct Reports: Sendable, Equatable, Codable {
        public var json: String
        public var html: String
        public var xml: String

        public init(json: String, html: String, xml: String) {
            self.json = json
            self.html = html
            self.xml = xml
        }

        public init(name: String) {
            self.init(json: name + ".json", html: name + ".html", xml: name + ".xml")
        }
    }

    /// `docker run --rm --network host -v WORK:/zap/wrk/:rw -t IMAGE zap-baseline.py -t TARGET -m MINUTES -J … -r … -x … [-c RULES]`.
    ///
    /// - Parameters:
    ///   - workDirectory: the host directory mounted as `/zap/wrk`, writable by the image's `zap` user.
    ///   - rulesFile: a file name inside `workDirectory`.
    public func baseline(target: String, workDirectory: String, reports: Reports, minutes: Int, rulesFile: String?) -> Command {
        var arguments = [
            "run", "--rm", "--network", "host", "-v", "\(workDirectory):/zap/wrk/:rw", "-t", image,
            "zap-baseline.py", "-t", target, "-m", String(minutes), "-J", reports.json, "-r", reports.html, "-x", reports.xml,
        ]
        if let rulesFile { arguments += ["-c", rulesFile] }
        return Command(docker, arguments, environment: environment)
    }

    /// What an exit status of `zap-baseline.py` means, as its documentation gives it.
    public enum Outcome: String, Sendable, Codable, Equatable {
        /// 0: no WARN and no FAIL.
        case pass
        /// 1: at least one FAIL.
        case fail
        /// 2: at least one WARN and no FAIL.
        case warn
        /// 3 or anything else: the scan itself failed.
        case error

        public init(exitStatus: Int32?) {
            switch exitStatus {
            case 0: self = .pass
            case 1: self = .fail
            case 2: self = .warn
            default: self = .error
            }
        }
    }

    /// One alert of ZAP's traditional JSON report (`site[].alerts[]`, as the report template
    /// `addOns/reports/.../traditional-json/report.json` of zaproxy/zap-extensions writes it).
    public struct Alert: Codable, Sendable, Equatable, CustomStringConvertible {
        public var site: String
        public var pluginID: String
        public var name: String
        /// 0 informational, 1 low, 2 medium, 3 high.
        public var risk: Int
        public var instances: Int

        public var description: String { "\(Self.riskName(risk)) \(name) (plugin \(pluginID), \(instances) instances) on \(site)" }

        static func riskName(_ risk: Int) -> String {
            ["Informational", "Low", "Medium", "High"].indices.contains(risk) ? ["Informational", "Low", "Medium", "High"][risk] : "Unknown"
        }
    }

    /// Reads a traditional JSON report: `{"@programName": "ZAP", "site": [{"@name", "alerts": [{"pluginid", "name", "riskcode", "count", "instances"}]}]}`.
    public static func parseReport(_ data: Data) throws -> [Alert] {
        struct Raw: Decodable {
            struct Site: Decodable {
                var name: String
                var alerts: [RawAlert]?
                enum CodingKeys: String, CodingKey {
                    case name = "@name"
                    case alerts
                }
            }
            struct RawAlert: Decodable {
                var pluginid: String?
                var name: String?
                var alert: String?
                var riskcode: String?
                var count: String?
                var instances: [Instance]?
            }
            struct Instance: Decodable {}
            var programName: String?
            var site: [Site]?
            enum CodingKeys: String, CodingKey {
                case programName = "@programName"
                case site
            }
        }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the ZAP JSON report is not as expected: \(error)")
        }
        guard raw.site != nil else { throw ToolOutputError(.unparsable, "the ZAP JSON report has no site list") }
        return (raw.site ?? []).flatMap { site in
            (site.alerts ?? []).map { alert in
                Alert(
                    site: site.name, pluginID: alert.pluginid ?? "", name: alert.name ?? alert.alert ?? "",
                    risk: Int(alert.riskcode ?? "") ?? 0,
                    instances: Int(alert.count ?? "") ?? alert.instances?.count ?? 0)
            }
        }
    }
}
