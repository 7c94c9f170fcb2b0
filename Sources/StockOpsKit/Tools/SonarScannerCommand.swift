import Foundation

/// Argv builder for `sonar-scanner`, and a reader of SonarQube's quality gate status. Pure values.
///
/// The token reaches the scanner as `SONAR_TOKEN` in its environment, never as `-Dsonar.token` in argv.
/// With `sonar.qualitygate.wait=true` the scanner waits for the server's verdict and exits non-zero on a failed gate.
public struct SonarScannerCommand: Sendable, Equatable {
    public static let tokenVariable = "SONAR_TOKEN"

    /// What an analysis is of. Only a server with branch support (Developer Edition or above) takes either: the
    /// Community Edition's scanner refuses these properties ("To use the property \"sonar.branch.name\" and analyze
    /// branches, Developer Edition or above is required"), and analyses the main branch without them.
    public enum Subject: Sendable, Equatable {
        /// `sonar.branch.name`.
        case branch(String)
        /// `sonar.pullrequest.key`, `sonar.pullrequest.branch` and `sonar.pullrequest.base`.
        case pullRequest(key: String, branch: String, base: String)
    }

    public var executable: String
    public var projectKey: String
    /// The server, such as `https://sonarqube.example.com`.
    public var hostURL: String
    /// Source directories, `sonar.sources`.
    public var sources: [String]
    /// Test directories, `sonar.tests`.
    public var tests: [String]
    /// Seconds the scanner waits for the quality gate, `sonar.qualitygate.timeout`.
    public var qualityGateTimeout: Int
    /// The branch or pull request analysed; nil for the main branch (and on servers without branch support).
    public var subject: Subject?
    /// More `-Dkey=value` properties, passed sorted by key; credential properties are dropped.
    public var properties: [String: String]

    public init(
        executable: String = "sonar-scanner", projectKey: String, hostURL: String, sources: [String] = ["Sources"],
        tests: [String] = [], qualityGateTimeout: Int = 300, subject: Subject? = nil, properties: [String: String] = [:]
    ) {
        self.executable = executable
        self.projectKey = projectKey
        self.hostURL = hostURL
        self.sources = sources
        self.tests = tests
        self.qualityGateTimeout = qualityGateTimeout
        self.subject = subject
        self.properties = properties
    }

    /// `sonar-scanner -Dsonar.projectKey=… -Dsonar.host.url=… -Dsonar.qualitygate.wait=true …`.
    public func scan() -> [String] {
        var arguments = [
            executable,
            "-Dsonar.projectKey=\(projectKey)",
            "-Dsonar.host.url=\(hostURL)",
            "-Dsonar.sources=\(sources.joined(separator: ","))",
        ]
        if !tests.isEmpty { arguments.append("-Dsonar.tests=\(tests.joined(separator: ","))") }
        switch subject {
        case .branch(let name):
            arguments.append("-Dsonar.branch.name=\(name)")
        case .pullRequest(let key, let branch, let base):
            arguments += ["-Dsonar.pullrequest.key=\(key)", "-Dsonar.pullrequest.branch=\(branch)", "-Dsonar.pullrequest.base=\(base)"]
        case nil:
            break
        }
        arguments += ["-Dsonar.qualitygate.wait=true", "-Dsonar.qualitygate.timeout=\(qualityGateTimeout)"]
        for key in properties.keys.sorted() where !Self.isTokenProperty(key) {
            arguments.append("-D\(key)=\(properties[key] ?? "")")
        }
        return arguments
    }

    /// The scanner's environment additions: the token.
    public static func environment(token: Secret) -> [String: Secret] {
        [tokenVariable: token]
    }

    /// The `Authorization` header of Web API calls: HTTP Basic with the token as login and an empty password,
    /// which every SonarQube version takes (9.9 does not take `Bearer`).
    public static func webAPIAuthorization(token: Secret) -> String {
        "Basic " + Data((token.reveal() + ":").utf8).base64EncodedString()
    }

    /// Properties that carry credentials are never put into argv.
    static func isTokenProperty(_ key: String) -> Bool {
        ["sonar.token", "sonar.login", "sonar.password"].contains(key.lowercased())
    }
}

/// SonarQube's `GET api/qualitygates/project_status` answer.
public struct SonarQualityGateStatus: Sendable, Equatable {
    public struct Condition: Sendable, Equatable, CustomStringConvertible {
        /// `OK`, `WARN` or `ERROR`.
        public var status: String
        public var metricKey: String
        /// `LT` or `GT`.
        public var comparator: String
        public var errorThreshold: String?
        public var actualValue: String?

        public var failed: Bool { status == "ERROR" }

        public var description: String {
            let relation = comparator == "LT" ? "<" : comparator == "GT" ? ">" : comparator
            return "\(metricKey) = \(actualValue ?? "?") (fails when \(relation) \(errorThreshold ?? "?"))"
        }
    }

    /// `OK`, `WARN`, `ERROR` or `NONE`.
    public var status: String
    public var conditions: [Condition]

    public var passed: Bool { status == "OK" }

    /// The conditions that made the gate fail.
    public var failedConditions: [Condition] { conditions.filter(\.failed) }

    public static func parse(_ data: Data) throws -> SonarQualityGateStatus {
        struct Body: Decodable {
            struct ProjectStatus: Decodable {
                struct RawCondition: Decodable {
                    var status: String
                    var metricKey: String
                    var comparator: String
                    var errorThreshold: String?
                    var actualValue: String?
                }
                var status: String
                var conditions: [RawCondition]?
            }
            var projectStatus: ProjectStatus
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the quality gate status is not JSON as documented: \(error)")
        }
        return SonarQualityGateStatus(
            status: body.projectStatus.status,
            conditions: (body.projectStatus.conditions ?? []).map {
                Condition(
                    status: $0.status, metricKey: $0.metricKey, comparator: $0.comparator,
                    errorThreshold: $0.errorThreshold, actualValue: $0.actualValue)
            })
    }
}
