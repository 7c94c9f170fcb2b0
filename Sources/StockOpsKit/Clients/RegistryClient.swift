import CurlHTTP
import Foundation
import Synchronization

/// A registry request that failed.
public struct RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No credentials, wrong credentials, or a token the registry refused (401 or 403).
        case unauthorized
        /// The repository, tag, manifest or blob does not exist (404).
        case notFound = "not-found"
        /// Content does not hash to the digest claimed for it.
        case invalidDigest = "invalid-digest"
        /// The registry could not be reached (connection refused, DNS, TLS, timeout).
        case unreachable
        /// The registry answered something the distribution API does not allow here.
        case protocolError = "protocol-error"
        /// The thing to create exists already (409), such as a Harbor tag.
        case conflict
    }

    public let code: Code
    public let message: String
    /// The HTTP status, when there was a response.
    public let status: Int?

    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "registry \(code.rawValue): \(message)" }
}

/// A client of the OCI distribution API (`/v2/`), as Harbor and `docker-registry` serve it.
///
/// Authentication follows the registry's `WWW-Authenticate` challenge: HTTP Basic with the credentials, or the
/// Bearer token flow (a token fetched from the challenge's realm for the challenge's scope with Basic credentials,
/// cached per scope, and the request retried once with it).
public final class RegistryClient: Sendable {
    /// `http(s)://host[:port]`, without a trailing slash.
    public let baseURL: String
    private let credentials: RegistryCredentials?
    private let http: HTTPClient
    private let state = Mutex(AuthState())

    private struct AuthState {
        var basic = false
        var tokens: [String: Secret] = [:]
    }

    /// A client of the registry at `baseURL` (such as `https://harbor.example.com`).
    public init(baseURL: String, credentials: RegistryCredentials? = nil, http: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credentials = credentials
        self.http = HTTPClient(configuration: http)
    }

    /// A client of `registry` (`host[:port]`) over HTTPS, or plain HTTP when `plainHTTP` is set.
    public convenience init(
        registry: String, plainHTTP: Bool = false, credentials: RegistryCredentials? = nil,
        http: HTTPClientConfiguration = HTTPClientConfiguration()
    ) {
        self.init(baseURL: (plainHTTP ? "http://" : "https://") + registry, credentials: credentials, http: http)
    }

    // MARK: API

    /// `GET /v2/`: succeeds when the registry speaks the distribution API and accepts the credentials.
    public func ping() async throws {
        let response = try await send(HTTPRequest(url: baseURL + "/v2/"), scope: nil, subject: "the registry")
        guard response.status == 200 else { throw failure(response, subject: "the registry") }
    }

    /// Every tag of `repository`, following `Link: <…>; rel="next"` pages of `pageSize` tags when given.
    public func tags(_ repository: String, pageSize: Int? = nil) async throws -> [RegistryTag] {
        try Self.validate(repository)
        struct Page: Decodable {
            var tags: [String]?
        }
        var next: String? = baseURL + "/v2/\(repository)/tags/list" + (pageSize.map { "?n=\($0)" } ?? "")
        var tags: [RegistryTag] = []
        var pages = 0
        while let url = next {
            pages += 1
            guard pages <= 100_000 else { throw RegistryError(.protocolError, "the tags list of \(repository) does not end") }
            let response = try await send(HTTPRequest(url: url), scope: Self.scope(repository, push: false), subject: repository)
            guard response.status == 200 else { throw failure(response, subject: repository) }
            let page: Page
            do {
                page = try JSONDecoder().decode(Page.self, from: response.body)
            } catch {
                throw RegistryError(.protocolError, "the tags list of \(repository) is not valid JSON: \(error)", status: 200)
            }
            for name in page.tags ?? [] {
                guard let tag = RegistryTag(name) else {
                    throw RegistryError(.protocolError, "the registry listed an invalid tag \"\(name)\" in \(repository)")
                }
                tags.append(tag)
            }
            next = Self.nextLink(response.headers.values(for: "Link")).map(resolve)
        }
        return tags
    }

    /// `HEAD` of a manifest: its descriptor, or nil when it does not exist.
    public func manifestDescriptor(_ repository: String, _ reference: ManifestReference) async throws -> ContentDescriptor? {
        try Self.validate(repository)
        let subject = "\(repository)\(Self.separator(reference))\(reference)"
        let response = try await send(
            HTTPRequest(method: .head, url: manifestURL(repository, reference), headers: Self.acceptHeaders),
            scope: Self.scope(repository, push: false), subject: subject)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw failure(response, subject: subject) }
        guard let header = response.headers["Docker-Content-Digest"] else {
            let manifest = try await manifest(repository, reference)
            return manifest.descriptor
        }
        guard let digest = ImageDigest(header) else {
            throw RegistryError(.invalidDigest, "\(subject): Docker-Content-Digest \"\(header)\" is not a sha256 digest")
        }
        if case .digest(let requested) = reference, requested != digest {
            throw RegistryError(.invalidDigest, "\(subject): the registry answered for digest \(digest)")
        }
        let mediaType = Self.mediaType(response.headers["Content-Type"]) ?? ImageManifest.ociManifest
        let size = response.headers["Content-Length"].flatMap { Int($0) } ?? 0
        return ContentDescriptor(mediaType: mediaType, digest: digest, size: size)
    }

    /// Whether `tag` exists in `repository`, and at which digest; nil when it does not.
    public func digest(of tag: RegistryTag, in repository: String) async throws -> ImageDigest? {
        try await manifestDescriptor(repository, .tag(tag))?.digest
    }

    /// `GET` of a manifest or index with its exact bytes; the digest is verified against the bytes.
    public func manifest(_ repository: String, _ reference: ManifestReference) async throws -> ImageManifest {
        try Self.validate(repository)
        let subject = "\(repository)\(Self.separator(reference))\(reference)"
        let response = try await send(
            HTTPRequest(url: manifestURL(repository, reference), headers: Self.acceptHeaders),
            scope: Self.scope(repository, push: false), subject: subject)
        guard response.status == 200 else { throw failure(response, subject: subject) }
        guard
            let mediaType = Self.mediaType(response.headers["Content-Type"]).flatMap({
                $0 == "application/json" ? nil : $0
            }) ?? ImageManifest.declaredMediaType(of: response.body)
        else {
            throw RegistryError(.protocolError, "\(subject): the manifest has no media type", status: 200)
        }
        var claimed: [ImageDigest] = []
        if let header = response.headers["Docker-Content-Digest"] {
            guard let digest = ImageDigest(header) else {
                throw RegistryError(.invalidDigest, "\(subject): Docker-Content-Digest \"\(header)\" is not a sha256 digest")
            }
            claimed.append(digest)
        }
        if case .digest(let requested) = reference { claimed.append(requested) }
        return try ImageManifest.verified(mediaType: mediaType, bytes: response.body, claimed: claimed, source: subject)
    }

    /// `PUT` of `manifest` under `reference`, with the manifest's own media type; returns the digest the registry stored.
    @discardableResult
    public func putManifest(_ manifest: ImageManifest, in repository: String, as reference: ManifestReference) async throws
        -> ImageDigest
    {
        try Self.validate(repository)
        let subject = "\(repository)\(Self.separator(reference))\(reference)"
        let response = try await send(
            HTTPRequest(
                method: .put, url: manifestURL(repository, reference), headers: ["Content-Type": manifest.mediaType],
                body: manifest.bytes),
            scope: Self.scope(repository, push: true), subject: subject)
        guard response.status == 201 || response.status == 200 else { throw failure(response, subject: subject) }
        if let header = response.headers["Docker-Content-Digest"], ImageDigest(header) != manifest.digest {
            throw RegistryError(
                .invalidDigest, "\(subject): the registry stored digest \(header), expected \(manifest.digest)",
                status: response.status)
        }
        return manifest.digest
    }

    /// Re-tags without rebuilding: gets the manifest at `source` and puts the same bytes under `tag`, so the new tag
    /// points at the same digest. Returns that digest.
    @discardableResult
    public func retag(_ repository: String, from source: ManifestReference, to tag: RegistryTag) async throws -> ImageDigest {
        let manifest = try await manifest(repository, source)
        return try await putManifest(manifest, in: repository, as: .tag(tag))
    }

    /// Whether the blob `digest` exists in `repository`.
    public func blobExists(_ digest: ImageDigest, in repository: String) async throws -> Bool {
        try Self.validate(repository)
        let subject = "\(repository)@\(digest)"
        let response = try await send(
            HTTPRequest(method: .head, url: baseURL + "/v2/\(repository)/blobs/\(digest)"),
            scope: Self.scope(repository, push: false), subject: subject)
        if response.status == 404 { return false }
        guard response.status == 200 else { throw failure(response, subject: subject) }
        return true
    }

    /// `GET` of the blob `digest`, following one redirect to the storage backend (without the registry's
    /// credentials); the bytes are verified against `digest`.
    public func blob(_ digest: ImageDigest, in repository: String) async throws -> Data {
        try Self.validate(repository)
        let subject = "\(repository)@\(digest)"
        var response = try await send(
            HTTPRequest(url: baseURL + "/v2/\(repository)/blobs/\(digest)"), scope: Self.scope(repository, push: false),
            subject: subject)
        if [301, 302, 303, 307, 308].contains(response.status) {
            guard let location = response.headers["Location"] else {
                throw RegistryError(.protocolError, "\(subject): a redirect without a Location", status: response.status)
            }
            response = try await transport(HTTPRequest(url: resolve(location)))
        }
        guard response.status == 200 else { throw failure(response, subject: subject) }
        guard ImageDigest.of(response.body) == digest else {
            throw RegistryError(.invalidDigest, "\(subject): the blob's bytes hash to \(ImageDigest.of(response.body))", status: 200)
        }
        return response.body
    }

    /// Uploads `data` as one blob (`POST /blobs/uploads/`, then a monolithic `PUT ?digest=`), unless the repository
    /// already has it. Returns its digest.
    @discardableResult
    public func uploadBlob(_ data: Data, to repository: String) async throws -> ImageDigest {
        let digest = ImageDigest.of(data)
        if try await blobExists(digest, in: repository) { return digest }
        let subject = "\(repository)@\(digest)"
        let scope = Self.scope(repository, push: true)
        let started = try await send(
            HTTPRequest(method: .post, url: baseURL + "/v2/\(repository)/blobs/uploads/"), scope: scope, subject: subject)
        guard started.status == 202 else { throw failure(started, subject: subject) }
        guard let location = started.headers["Location"] else {
            throw RegistryError(.protocolError, "\(subject): the upload was started without a Location", status: 202)
        }
        let target = resolve(location)
        let url = target + (target.contains("?") ? "&" : "?") + "digest=" + digest.description.replacingOccurrences(of: ":", with: "%3A")
        let finished = try await send(
            HTTPRequest(
                method: .put, url: url, headers: ["Content-Type": "application/octet-stream"], body: data,
                isMarkedIdempotent: true),
            scope: scope, subject: subject)
        guard finished.status == 201 else { throw failure(finished, subject: subject) }
        if let header = finished.headers["Docker-Content-Digest"], ImageDigest(header) != digest {
            throw RegistryError(.invalidDigest, "\(subject): the registry stored the blob as \(header)", status: 201)
        }
        return digest
    }

    // MARK: Requests and authentication

    private static let acceptHeaders: HTTPHeaders = ["Accept": ImageManifest.acceptedMediaTypes.joined(separator: ", ")]

    private func manifestURL(_ repository: String, _ reference: ManifestReference) -> String {
        baseURL + "/v2/\(repository)/manifests/\(reference)"
    }

    private static func separator(_ reference: ManifestReference) -> String {
        if case .digest = reference { return "@" }
        return ":"
    }

    static func scope(_ repository: String, push: Bool) -> String {
        "repository:\(repository):" + (push ? "pull,push" : "pull")
    }

    private static func validate(_ repository: String) throws(RegistryError) {
        guard ImageReference.isValidRepository(repository) else {
            throw RegistryError(.protocolError, "\"\(repository)\" is not a valid repository name")
        }
    }

    /// `Content-Type` without parameters.
    private static func mediaType(_ header: String?) -> String? {
        guard let header else { return nil }
        let type = header.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return type.isEmpty ? nil : type
    }

    /// The target of `rel="next"` among `Link` header values.
    static func nextLink(_ values: [String]) -> String? {
        for value in values {
            for link in value.split(separator: ",") {
                let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
                let isNext = parts.dropFirst().contains { parameter in
                    let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    return pair.count == 2 && pair[0].lowercased() == "rel"
                        && pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased() == "next"
                }
                if isNext { return String(target.dropFirst().dropLast()) }
            }
        }
        return nil
    }

    /// `location` made absolute against ``baseURL``.
    private func resolve(_ location: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return baseURL + (location.hasPrefix("/") ? "" : "/") + location
    }

    private func send(_ original: HTTPRequest, scope: String?, subject: String) async throws -> HTTPResponse {
        var request = original
        let cacheKey = scope ?? ""
        let (basic, token) = state.withLock { ($0.basic, $0.tokens[cacheKey]) }
        if let token {
            request.headers["Authorization"] = "Bearer " + token.reveal()
        } else if basic, let credentials {
            request.headers["Authorization"] = credentials.basicAuthorization
        }
        let response = try await transport(request)
        guard response.status == 401 else { return response }

        switch RegistryChallenge.parse(response.headers["WWW-Authenticate"] ?? "") {
        case .basic:
            guard let credentials else { throw unauthorized(response, subject: subject) }
            guard request.headers["Authorization"]?.hasPrefix("Basic ") != true else {
                throw unauthorized(response, subject: subject)
            }
            state.withLock { $0.basic = true }
            request.headers["Authorization"] = credentials.basicAuthorization
        case .bearer(let realm, let service, let challengeScope):
            let token = try await fetchToken(realm: realm, service: service, scope: challengeScope ?? scope)
            state.withLock { $0.tokens[cacheKey] = token }
            request.headers["Authorization"] = "Bearer " + token.reveal()
        case nil:
            throw unauthorized(response, subject: subject)
        }
        let retried = try await transport(request)
        if retried.status == 401 { throw unauthorized(retried, subject: subject) }
        return retried
    }

    /// Fetches a Bearer token from `realm` (`{"token": …}` or `{"access_token": …}`) with Basic credentials, if any.
    private func fetchToken(realm: String, service: String?, scope: String?) async throws -> Secret {
        var query: [String] = []
        if let service { query.append("service=" + Self.percentEncoded(service)) }
        if let scope { query.append("scope=" + Self.percentEncoded(scope)) }
        let url = realm + (query.isEmpty ? "" : (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
        var headers: HTTPHeaders = [:]
        if let credentials { headers["Authorization"] = credentials.basicAuthorization }
        let response = try await transport(HTTPRequest(url: url, headers: headers))
        if response.status == 401 || response.status == 403 {
            throw RegistryError(
                .unauthorized,
                credentials == nil
                    ? "the token service \(realm) requires credentials and none were given"
                    : "the token service \(realm) refused the credentials of \(credentials?.username ?? "")",
                status: response.status)
        }
        guard response.status == 200 else {
            throw RegistryError(.protocolError, "the token service \(realm) answered \(response.status)", status: response.status)
        }
        struct TokenResponse: Decodable {
            var token: String?
            var access_token: String?
        }
        // A body that does not decode has no token, which the error reports.
        guard let body = try? JSONDecoder().decode(TokenResponse.self, from: response.body),
            let token = body.token ?? body.access_token, !token.isEmpty
        else {
            throw RegistryError(.protocolError, "the token service \(realm) returned no token", status: 200)
        }
        return Secret(token)
    }

    private func transport(_ request: HTTPRequest) async throws -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch let error as HTTPClientError {
            throw RegistryError(.unreachable, "\(request.method) \(error.url): \(error.code): \(error.message)")
        }
    }

    private func unauthorized(_ response: HTTPResponse, subject: String) -> RegistryError {
        let detail = Self.errorDetail(response).map { " (\($0))" } ?? ""
        let message =
            credentials == nil
            ? "\(baseURL) requires authentication for \(subject) and no credentials were given\(detail)"
            : "\(baseURL) refused the credentials of \(credentials?.username ?? "") for \(subject)\(detail)"
        return RegistryError(.unauthorized, message, status: response.status)
    }

    private func failure(_ response: HTTPResponse, subject: String) -> RegistryError {
        let detail = Self.errorDetail(response).map { ": \($0)" } ?? ""
        switch response.status {
        case 401, 403:
            return unauthorized(response, subject: subject)
        case 404:
            return RegistryError(.notFound, "\(subject) not found in \(baseURL)\(detail)", status: 404)
        case 400 where Self.errorCodes(response).contains("DIGEST_INVALID"):
            return RegistryError(.invalidDigest, "\(subject)\(detail)", status: 400)
        default:
            return RegistryError(
                .protocolError, "\(subject): unexpected status \(response.status) from \(baseURL)\(detail)",
                status: response.status)
        }
    }

    private struct ErrorBody: Decodable {
        struct Entry: Decodable {
            var code: String?
            var message: String?
        }
        var errors: [Entry]?
    }

    private static func errorCodes(_ response: HTTPResponse) -> [String] {
        // The error body only adds detail; without it there are no codes.
        ((try? JSONDecoder().decode(ErrorBody.self, from: response.body))?.errors ?? []).compactMap(\.code)
    }

    /// `CODE: message` entries of a distribution API error body.
    private static func errorDetail(_ response: HTTPResponse) -> String? {
        // The error body only adds detail; without it there is none.
        guard let errors = (try? JSONDecoder().decode(ErrorBody.self, from: response.body))?.errors, !errors.isEmpty else {
            return nil
        }
        return errors.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
    }

    static func percentEncoded(_ value: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
