import CurlHTTP
import Foundation

/// An artifact as Harbor's API lists it (`GET /api/v2.0/projects/{p}/repositories/{r}/artifacts`).
public struct HarborArtifact: Sendable, Equatable, Decodable {
    /// A tag attached to an artifact.
    public struct Tag: Sendable, Equatable, Decodable {
        public var id: Int?
        public var name: String
        public var pushTime: String?
        public var immutable: Bool?

        enum CodingKeys: String, CodingKey {
            case id, name, immutable
            case pushTime = "push_time"
        }
    }

    public var id: Int?
    public var digest: ImageDigest
    public var mediaType: String?
    public var manifestMediaType: String?
    public var pushTime: String?
    public var tags: [Tag]

    /// The tag names that are valid tags.
    public var tagNames: [RegistryTag] { tags.compactMap { RegistryTag($0.name) } }

    enum CodingKeys: String, CodingKey {
        case id, digest, tags
        case mediaType = "media_type"
        case manifestMediaType = "manifest_media_type"
        case pushTime = "push_time"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(Int.self, forKey: .id)
        digest = try container.decode(ImageDigest.self, forKey: .digest)
        mediaType = try container.decodeIfPresent(String.self, forKey: .mediaType)
        manifestMediaType = try container.decodeIfPresent(String.self, forKey: .manifestMediaType)
        pushTime = try container.decodeIfPresent(String.self, forKey: .pushTime)
        tags = try container.decodeIfPresent([Tag].self, forKey: .tags) ?? []
    }
}

/// A client of Harbor's own API (`/api/v2.0`), for what the distribution API cannot do: listing artifacts with
/// their tags, and adding a tag to an artifact server-side. Authenticates with HTTP Basic (a robot account).
public struct HarborClient: Sendable {
    /// `http(s)://host[:port]`, without a trailing slash.
    public let baseURL: String
    private let credentials: RegistryCredentials?
    private let http: HTTPClient

    public init(baseURL: String, credentials: RegistryCredentials?, http: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credentials = credentials
        self.http = HTTPClient(configuration: http)
    }

    /// The artifacts of `project/repository` with their tags, following `Link: rel="next"` pages of `pageSize`.
    public func artifacts(project: String, repository: String, pageSize: Int = 100) async throws -> [HarborArtifact] {
        var next: String? =
            repositoryURL(project: project, repository: repository)
            + "/artifacts?with_tag=true&page=1&page_size=\(pageSize)"
        var artifacts: [HarborArtifact] = []
        var pages = 0
        while let url = next, pages < 10_000 {
            pages += 1
            let response = try await send(HTTPRequest(url: url, headers: headers()), subject: "\(project)/\(repository)")
            guard response.status == 200 else { throw failure(response, subject: "\(project)/\(repository)") }
            do {
                artifacts += try JSONDecoder().decode([HarborArtifact].self, from: response.body)
            } catch {
                throw RegistryError(.protocolError, "Harbor's artifact list of \(project)/\(repository) is not as documented: \(error)")
            }
            next = RegistryClient.nextLink(response.headers.values(for: "Link")).map { link in
                link.hasPrefix("/") ? baseURL + link : link
            }
        }
        return artifacts
    }

    /// The artifact `reference` (a tag or digest) of `project/repository`.
    public func artifact(project: String, repository: String, reference: ManifestReference) async throws -> HarborArtifact {
        let subject = "\(project)/\(repository):\(reference)"
        let url = repositoryURL(project: project, repository: repository) + "/artifacts/\(reference)?with_tag=true"
        let response = try await send(HTTPRequest(url: url, headers: headers()), subject: subject)
        guard response.status == 200 else { throw failure(response, subject: subject) }
        do {
            return try JSONDecoder().decode(HarborArtifact.self, from: response.body)
        } catch {
            throw RegistryError(.protocolError, "Harbor's artifact \(subject) is not as documented: \(error)")
        }
    }

    /// Adds `tag` to the artifact `reference` (`POST …/artifacts/{reference}/tags` with `{"name": tag}`).
    /// A tag that exists already is a ``RegistryError/Code/conflict``.
    public func addTag(_ tag: RegistryTag, project: String, repository: String, reference: ManifestReference) async throws {
        let subject = "\(project)/\(repository):\(reference)"
        let url = repositoryURL(project: project, repository: repository) + "/artifacts/\(reference)/tags"
        var headers = headers()
        headers["Content-Type"] = "application/json"
        let body = try JSONEncoder().encode(["name": tag.name])
        let response = try await send(HTTPRequest(method: .post, url: url, headers: headers, body: body), subject: subject)
        guard response.status == 201 || response.status == 200 else { throw failure(response, subject: subject) }
    }

    /// `…/projects/{project}/repositories/{repository}`, the repository name URL-encoded twice as Harbor requires
    /// (`a/b` → `a%252Fb`).
    func repositoryURL(project: String, repository: String) -> String {
        let once = RegistryClient.percentEncoded(repository)
        return baseURL + "/api/v2.0/projects/\(RegistryClient.percentEncoded(project))/repositories/"
            + RegistryClient.percentEncoded(once)
    }

    private func headers() -> HTTPHeaders {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let credentials { headers["Authorization"] = credentials.basicAuthorization }
        return headers
    }

    private func send(_ request: HTTPRequest, subject: String) async throws -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch let error as HTTPClientError {
            throw RegistryError(.unreachable, "Harbor at \(error.url): \(error.code): \(error.message)")
        }
    }

    private func failure(_ response: HTTPResponse, subject: String) -> RegistryError {
        struct ErrorBody: Decodable {
            struct Entry: Decodable {
                var code: String?
                var message: String?
            }
            var errors: [Entry]?
        }
        // The error body only adds detail; the status decides the error.
        let entries = (try? JSONDecoder().decode(ErrorBody.self, from: response.body))?.errors ?? []
        let detail =
            entries.isEmpty
            ? "" : ": " + entries.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
        switch response.status {
        case 401, 403:
            return RegistryError(.unauthorized, "Harbor refused access to \(subject)\(detail)", status: response.status)
        case 404: return RegistryError(.notFound, "\(subject) not found in Harbor\(detail)", status: 404)
        case 409: return RegistryError(.conflict, "\(subject)\(detail)", status: 409)
        default:
            return RegistryError(.protocolError, "Harbor answered \(response.status) for \(subject)\(detail)", status: response.status)
        }
    }
}
