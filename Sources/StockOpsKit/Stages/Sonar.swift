import CurlHTTP
import Foundation

/// The verdict of `sonar[<service>]`.
public struct SonarReport: Codable, Sendable, Equatable {
    public var service: String
    public var projectKey: String
    /// The quality gate status, `OK` when the node passed.
    public var status: String
}

/// `sonar[<service>]`: `sonar-scanner` in the service's directory with its `sonar-project.properties`, the
/// token in `SONAR_TOKEN`, and `sonar.qualitygate.wait=true`. On a failed gate the failing conditions are read
/// from the Web API (`api/ce/task`, then `api/qualitygates/project_status`) and named in the failure.
public struct SonarStage: Stage {
    public var service: ServiceConfig
    public var hostURL: String
    public var secrets: StageRef<FetchedSecrets>?
    public var scanner: String
    /// The branch or pull request analysed (``subject(branchSupport:environment:)``).
    public var subject: SonarScannerCommand.Subject?
    public var http: HTTPClientConfiguration
    public var dependencies: [NodeID] { secrets.map { [$0.id] } ?? [] }

    public static let tokenKey = "SONAR_TOKEN"
    public static let installHint =
        "install sonar-scanner (https://docs.sonarsource.com/sonarqube-server/latest/analyzing-source-code/scanners/sonarscanner/) to run the quality gate; sonarqube.required: true makes its absence fail the run"

    public init(
        service: ServiceConfig, hostURL: String, secrets: StageRef<FetchedSecrets>?, scanner: String = "sonar-scanner",
        subject: SonarScannerCommand.Subject? = nil, http: HTTPClientConfiguration = HTTPClientConfiguration()
    ) {
        self.service = service
        self.hostURL = hostURL.hasSuffix("/") ? String(hostURL.dropLast()) : hostURL
        self.secrets = secrets
        self.scanner = scanner
        self.subject = subject
        self.http = http
    }

    var directory: String {
        let first = service.paths.first ?? "services/\(service.name)"
        return first.hasSuffix("/") ? String(first.dropLast()) : first
    }

    public func run(_ context: StageContext) async throws -> SonarReport {
        // No token (fetch-secrets skipped or the key not read) fails below with where to add it.
        guard let secrets, let token = (try? context.value(secrets))?[Self.tokenKey] else {
            throw StageFailure.failed("no \(Self.tokenKey) was fetched from Vault: add it under vault: in pipelines/stockops.yml (secret/data/sonarqube/token)")
        }
        let workingDirectory = context.paths.root + "/" + directory
        // sonar-project.properties is optional: without a readable one the project key and sources fall back to the defaults.
        let properties = Self.parseProperties((try? String(contentsOfFile: workingDirectory + "/sonar-project.properties", encoding: .utf8)) ?? "")
        let projectKey = properties["sonar.projectKey"] ?? "stockops-\(service.name)"
        let command = SonarScannerCommand(
            executable: scanner, projectKey: projectKey, hostURL: hostURL,
            sources: (properties["sonar.sources"] ?? "Sources").split(separator: ",").map(String.init),
            tests: (properties["sonar.tests"] ?? "").split(separator: ",").map(String.init),
            subject: subject
        )
        var environment = Command.baseEnvironment(adding: ["JAVA_HOME", "SONAR_SCANNER_OPTS"])
        for (name, value) in SonarScannerCommand.environment(token: token) { environment[name] = value.reveal() }
        let result = try await context.run(Command(argv: command.scan(), environment: environment, workingDirectory: workingDirectory))
        if result.succeeded {
            return SonarReport(service: service.name, projectKey: projectKey, status: "OK")
        }
        let reportTask = workingDirectory + "/.scannerwork/report-task.txt"
        // No readable report-task.txt means the scanner submitted no analysis, which fails below.
        guard let text = try? String(contentsOfFile: reportTask, encoding: .utf8), let taskID = Self.parseProperties(text)["ceTaskId"] else {
            let last = Git.parseLines(result.output).last ?? ""
            throw StageFailure.infrastructure(
                "sonar-scanner exited with \(result.exitStatus.map(String.init) ?? "a signal") before submitting an analysis: \(last)")
        }
        let status = try await qualityGate(taskID: taskID, token: token)
        let conditions = status.failedConditions.map(\.description).joined(separator: "; ")
        context.log.write("quality gate \(status.status) for \(projectKey): \(conditions)\n")
        throw StageFailure.failed("the SonarQube quality gate of \(projectKey) is \(status.status)" + (conditions.isEmpty ? "" : ": " + conditions))
    }

    /// Reads the gate of the analysis behind a Compute Engine task through the Web API.
    func qualityGate(taskID: String, token: Secret) async throws -> SonarQualityGateStatus {
        let client = HTTPClient(configuration: http)
        let headers: HTTPHeaders = ["Authorization": SonarScannerCommand.webAPIAuthorization(token: token), "Accept": "application/json"]
        let task = try await client.send(HTTPRequest(method: .get, url: hostURL + "/api/ce/task?id=" + Self.queryEscaped(taskID), headers: headers))
        guard task.isSuccess else { throw StageFailure.infrastructure("GET api/ce/task answered \(task.status)") }
        struct TaskBody: Decodable {
            struct Task: Decodable {
                var status: String
                var analysisId: String?
            }
            var task: Task
        }
        // A body other than the documented JSON fails below.
        guard let body = try? JSONDecoder().decode(TaskBody.self, from: task.body) else {
            throw StageFailure.infrastructure("GET api/ce/task did not answer the documented {\"task\": …} JSON")
        }
        guard let analysisID = body.task.analysisId else {
            throw StageFailure.failed("the SonarQube analysis task \(taskID) ended \(body.task.status) without an analysis")
        }
        let gate = try await client.send(
            HTTPRequest(method: .get, url: hostURL + "/api/qualitygates/project_status?analysisId=" + Self.queryEscaped(analysisID), headers: headers))
        guard gate.isSuccess else { throw StageFailure.infrastructure("GET api/qualitygates/project_status answered \(gate.status)") }
        return try SonarQualityGateStatus.parse(gate.body)
    }

    /// What a GitHub Actions run analyses: with `branchSupport` (`sonarqube.branches`), a pull request
    /// (`refs/pull/<key>/merge`, `GITHUB_HEAD_REF` into `GITHUB_BASE_REF`) or the pushed branch (`refs/heads/…`);
    /// nil otherwise, which analyses the main branch: tags, runs outside Actions, and servers without branch support.
    public static func subject(branchSupport: Bool, environment: RunEnvironment) -> SonarScannerCommand.Subject? {
        guard branchSupport, let ref = environment.githubRef else { return nil }
        if ref.hasPrefix("refs/pull/"), let key = ref.split(separator: "/").dropFirst(2).first,
            let head = environment.githubHeadRef, let base = environment.githubBaseRef
        {
            return .pullRequest(key: String(key), branch: head, base: base)
        }
        if ref.hasPrefix("refs/heads/") {
            return .branch(String(ref.dropFirst("refs/heads/".count)))
        }
        return nil
    }

    static func queryEscaped(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? value
    }

    /// `key=value` lines of a Java properties file (comments and blank lines ignored).
    static func parseProperties(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), !trimmed.hasPrefix("!"), let equals = trimmed.firstIndex(of: "=") else { continue }
            values[trimmed[..<equals].trimmingCharacters(in: .whitespaces)] = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}

/// Why an optional tool node does not run: the tool is absent (unless required), with the install hint.
public enum ToolAvailability {
    /// Whether `name` resolves through `PATH`.
    public static func isInstalled(_ name: String, path: String? = RunEnvironment.process.path) -> Bool {
        // A probe: a name that does not resolve is not installed.
        (try? ProcessRunner().resolve(Command(name, [], environment: path.map { ["PATH": $0] } ?? [:]))) != nil
    }

    /// The skip reason of a node needing `tool`: nil when it is installed or the node is required
    /// (a required node then fails as an infrastructure error naming the tool).
    public static func skipReason(tool: String, required: Bool, hint: String) -> String? {
        if required || isInstalled(tool) { return nil }
        return "\(tool) not installed; \(hint)"
    }
}
