import CurlHTTP
import Foundation

/// The parts of an Argo CD `v1alpha1Application` a deployment waits on.
public struct ArgoCDApplicationStatus: Codable, Sendable, Equatable, CustomStringConvertible {
    /// `status.sync.status`: `Synced`, `OutOfSync` or `Unknown`.
    public var sync: String
    /// `status.sync.revision`: the commit a single-source application is synced to.
    public var revision: String?
    /// `status.sync.revisions`: what a multi-source application (`spec.sources`) is synced to, one per source.
    public var revisions: [String]?
    /// `spec.sources[].repoURL` of a multi-source application, in the order of ``revisions``.
    public var sourceRepositories: [String]?
    /// `status.health.status`: `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    public var health: String
    public var healthMessage: String?
    /// `status.operationState.phase` of the last sync operation.
    public var operationPhase: String?

    public init(
        sync: String, revision: String?, revisions: [String]? = nil, sourceRepositories: [String]? = nil, health: String,
        healthMessage: String? = nil, operationPhase: String? = nil
    ) {
        self.sync = sync
        self.revision = revision
        self.revisions = revisions
        self.sourceRepositories = sourceRepositories
        self.health = health
        self.healthMessage = healthMessage
        self.operationPhase = operationPhase
    }

    public var description: String {
        let at = revision.map { String($0.prefix(12)) } ?? revisions.map { $0.map { String($0.prefix(12)) }.joined(separator: ", ") } ?? "no revision"
        return "sync \(sync) at \(at), health \(health)" + (healthMessage.map { " (\($0))" } ?? "")
    }

    /// Whether the comparison was made at `revision`: the revision of a single-source application; for a
    /// multi-source one, the revision of the source whose `repoURL` is `repository`, or of any source when none is
    /// (or `repository` is nil).
    public func isAt(_ revision: String, repository: String? = nil) -> Bool {
        if self.revision == revision { return true }
        guard let revisions else { return false }
        if let repository, let sources = sourceRepositories,
            let index = sources.firstIndex(where: { Self.sameRepository($0, repository) }), index < revisions.count
        {
            return revisions[index] == revision
        }
        return revisions.contains(revision)
    }

    /// Synced at `revision` (``isAt(_:repository:)``) and Healthy.
    public func isDeployed(_ revision: String, repository: String? = nil) -> Bool {
        sync == "Synced" && health == "Healthy" && isAt(revision, repository: repository)
    }

    /// Repository URLs equal but for a trailing `/` or `.git`.
    static func sameRepository(_ first: String, _ second: String) -> Bool {
        func normalized(_ url: String) -> String {
            var url = url
            while url.hasSuffix("/") { url.removeLast() }
            if url.hasSuffix(".git") { url.removeLast(4) }
            return url
        }
        return normalized(first) == normalized(second)
    }

    /// Reads an Application as `GET /api/v1/applications/{name}` returns it.
    public static func parse(_ data: Data) throws -> ArgoCDApplicationStatus {
        struct Raw: Decodable {
            struct Status: Decodable {
                struct Sync: Decodable {
                    var status: String?
                    var revision: String?
                    var revisions: [String]?
                }
                struct Health: Decodable {
                    var status: String?
                    var message: String?
                }
                struct Operation: Decodable { var phase: String? }
                var sync: Sync?
                var health: Health?
                var operationState: Operation?
            }
            struct Spec: Decodable {
                struct Source: Decodable { var repoURL: String? }
                var sources: [Source]?
            }
            var spec: Spec?
            var status: Status?
        }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch {
            throw ToolOutputError(.unparsable, "the Argo CD application is not JSON as expected: \(error)")
        }
        return ArgoCDApplicationStatus(
            sync: raw.status?.sync?.status ?? "Unknown", revision: raw.status?.sync?.revision.flatMap { $0.isEmpty ? nil : $0 },
            revisions: raw.status?.sync?.revisions, sourceRepositories: raw.spec?.sources?.map { $0.repoURL ?? "" },
            health: raw.status?.health?.status ?? "Unknown", healthMessage: raw.status?.health?.message,
            operationPhase: raw.status?.operationState?.phase)
    }
}

/// A client of Argo CD's REST API (`/api/v1`), authenticated with `Authorization: Bearer <token>` as
/// Argo CD's API documentation (`docs/developer-guide/api-docs.md`) gives it.
public struct ArgoCDClient: Sendable {
    public var baseURL: String
    public var token: Secret
    public var http: HTTPClientConfiguration

    public init(baseURL: String, token: Secret, http: HTTPClientConfiguration = ArgoCDClient.http) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
    }

    public static let http = HTTPClientConfiguration(
        connectTimeout: .seconds(5), totalTimeout: .seconds(30),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(500), maxDelay: .seconds(4)))

    /// `GET /api/v1/applications/{name}`, with `?refresh=normal` to make Argo CD compare with Git now.
    public func request(application: String, refresh: Bool) -> HTTPRequest {
        let name = application.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? application
        return HTTPRequest(
            url: baseURL + "/api/v1/applications/" + name + (refresh ? "?refresh=normal" : ""),
            headers: ["Authorization": "Bearer " + token.reveal(), "Accept": "application/json"])
    }

    /// The application's status. Throws ``StageFailure``.
    public func status(application: String, refresh: Bool = false) async throws -> ArgoCDApplicationStatus {
        let response: HTTPResponse
        do {
            response = try await HTTPClient(configuration: http).send(request(application: application, refresh: refresh))
        } catch let error as HTTPClientError {
            throw StageFailure.transient("Argo CD at \(baseURL) is unreachable: \(error.code) (\(SecretMasker.shared.mask(error.message)))")
        }
        switch response.status {
        case 200: return try ArgoCDApplicationStatus.parse(response.body)
        case 401: throw StageFailure.infrastructure("Argo CD refused the token (401): check the token in Vault")
        case 403, 404:
            throw StageFailure.failed("Argo CD has no application \(application) this token may read (\(response.status)); check gitops.argocd.application")
        case 429, 500...599: throw StageFailure.transient("Argo CD answered \(response.status) for application \(application)")
        default:
            throw StageFailure.failed(
                "Argo CD answered \(response.status) for application \(application): \(SecretMasker.shared.mask(String(response.text.prefix(200))))")
        }
    }

    /// Polls until the application is Synced to `revision` and Healthy, or `timeout` passes, or it turns Degraded
    /// at `revision`. Of a multi-source application, the source from `repository` counts (any source without it).
    /// Returns the last status and whether it is deployed; `observe` sees every change.
    public func waitUntilDeployed(
        application: String, revision: String, repository: String? = nil, timeout: Duration, interval: Duration = .seconds(3),
        observe: @Sendable (ArgoCDApplicationStatus) -> Void = { _ in }
    ) async throws -> (status: ArgoCDApplicationStatus, deployed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var last: ArgoCDApplicationStatus?
        var first = true
        while true {
            let status = try await self.status(application: application, refresh: first)
            first = false
            if status != last { observe(status) }
            last = status
            if status.isDeployed(revision, repository: repository) { return (status, true) }
            if status.isAt(revision, repository: repository) && status.sync == "Synced" && status.health == "Degraded" { return (status, false) }
            if ContinuousClock.now + interval > deadline { return (status, false) }
            try await Task.sleep(for: interval)
        }
    }
}
