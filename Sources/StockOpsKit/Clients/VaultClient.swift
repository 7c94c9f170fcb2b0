import CurlHTTP
import Foundation

/// A Vault request that failed, saying what happened and where.
public struct VaultError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, CustomStringConvertible {
        /// 403: the token's policies do not allow the operation on the path.
        case permissionDenied = "permission-denied"
        /// 404: nothing (or only a deleted version) at the path.
        case notFound = "not-found"
        /// 503 "Vault is sealed".
        case sealed
        /// A login was refused: unknown role, wrong secret id.
        case invalidCredentials = "invalid-credentials"
        /// No token is set, or the token was revoked by this client.
        case notAuthenticated = "not-authenticated"
        /// The server could not be reached (connection refused, DNS, timeout, TLS).
        case unreachable
        /// 400 and other refusals of the request itself, such as a check-and-set mismatch.
        case invalidRequest = "invalid-request"
        /// Other 5xx statuses.
        case serverError = "server-error"
        /// A response that is not what the API documents.
        case invalidResponse = "invalid-response"

        public var description: String { rawValue }
    }

    public let code: Code
    /// The API path involved, such as `secret/data/ci/harbor`, when there is one.
    public let path: String?
    public let status: Int?
    public let message: String

    public init(code: Code, path: String?, status: Int? = nil, message: String) {
        self.code = code
        self.path = path
        self.status = status
        self.message = message
    }

    public var description: String { message }
}

/// A token obtained by a login or a renewal.
public struct VaultAuth: Sendable {
    public let clientToken: Secret
    public let accessor: String
    public let policies: [String]
    public let leaseDuration: Duration
    public let renewable: Bool
}

/// What `auth/token/lookup-self` says about the current token.
public struct VaultTokenInfo: Sendable {
    public let accessor: String
    public let displayName: String
    public let policies: [String]
    /// Time left; zero for a token that does not expire.
    public let ttl: Duration
    public let renewable: Bool
    public let expireTime: String?
}

/// The metadata of one version of a KV v2 secret.
public struct KVVersion: Sendable, Equatable {
    public let version: Int
    public let createdTime: String
    /// Empty unless the version was deleted.
    public let deletionTime: String
    public let destroyed: Bool

    public var isDeleted: Bool { !deletionTime.isEmpty }
}

/// One version of a KV v2 secret. Every value is registered with ``SecretMasker`` when read.
public struct KVSecret: Sendable {
    public let path: String
    /// Strings as they are; other JSON values as compact JSON text.
    public let data: [String: Secret]
    public let version: KVVersion
    let raw: [String: JSONValue]

    public subscript(key: String) -> Secret? { data[key] }
}

/// The metadata of a KV v2 secret and its versions.
public struct KVMetadata: Sendable {
    public let path: String
    public let currentVersion: Int
    public let oldestVersion: Int
    public let maxVersions: Int
    public let createdTime: String
    public let updatedTime: String
    /// Every version Vault keeps, oldest first.
    public let versions: [KVVersion]
}

/// A client for the Vault (and OpenBao) HTTP API: AppRole login, KV v2 and the token's own lifecycle.
///
/// Every value read from KV and every token obtained is registered with the ``SecretMasker``
/// given at creation. Errors are ``VaultError``.
public actor VaultClient {
    /// The server, such as `https://vault.example.com:8200`, without a trailing `/v1`.
    public nonisolated let address: String
    public nonisolated let namespace: String?
    /// Where the KV v2 engine is mounted.
    public nonisolated let kvMount: String
    private let http: HTTPClient
    private let masker: SecretMasker
    private var token: Secret?

    public init(
        address: String, token: Secret? = nil, namespace: String? = nil, kvMount: String = "secret",
        http: HTTPClientConfiguration = HTTPClientConfiguration(), masker: SecretMasker = .shared
    ) {
        var address = address
        while address.hasSuffix("/") { address.removeLast() }
        self.address = address
        self.namespace = namespace.flatMap { $0.isEmpty ? nil : $0 }
        self.kvMount = Self.trimmed(kvMount)
        self.http = HTTPClient(configuration: http)
        self.masker = masker
        self.token = token
        if let token { masker.register(token) }
    }

    /// A client configured the way the `vault` and `bao` commands are: `VAULT_ADDR` (or
    /// `BAO_ADDR`, default `http://127.0.0.1:8200`), `VAULT_TOKEN`, `VAULT_NAMESPACE`,
    /// `VAULT_CACERT`, `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`.
    public static func fromEnvironment(
        _ environment: RunEnvironment, kvMount: String = "secret",
        http: HTTPClientConfiguration = HTTPClientConfiguration(), masker: SecretMasker = .shared
    ) -> VaultClient {
        func value(_ name: String) -> String? { environment.vault(name) }
        var http = http
        http.caBundlePath = value("CACERT") ?? http.caBundlePath
        http.clientCertificatePath = value("CLIENT_CERT") ?? http.clientCertificatePath
        http.clientKeyPath = value("CLIENT_KEY") ?? http.clientKeyPath
        return VaultClient(
            address: value("ADDR") ?? "http://127.0.0.1:8200", token: value("TOKEN").map(Secret.init),
            namespace: value("NAMESPACE"), kvMount: kvMount, http: http, masker: masker)
    }

    /// Replaces the token used for requests.
    public func setToken(_ token: Secret?) {
        self.token = token
        if let token { masker.register(token) }
    }

    public var hasToken: Bool { token != nil }

    // MARK: Authentication

    /// Logs in with AppRole (`POST /v1/auth/<mount>/login`) and uses the token from then on.
    @discardableResult
    public func loginAppRole(roleID: Secret, secretID: Secret, mount: String = "approle") async throws -> VaultAuth {
        let path = "auth/\(Self.trimmed(mount))/login"
        let body: JSONValue = .object(["role_id": .string(roleID.reveal()), "secret_id": .string(secretID.reveal())])
        let response = try await call(.post, path, body: body, authenticated: false, isLogin: true)
        let auth = try parseAuth(response, path: path)
        token = auth.clientToken
        return auth
    }

    /// Logs in with AppRole using a role id and a secret id read from files (surrounding whitespace ignored).
    @discardableResult
    public func loginAppRole(roleIDFile: String, secretIDFile: String, mount: String = "approle") async throws
        -> VaultAuth
    {
        func read(_ path: String) throws -> Secret {
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                return Secret(text.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch {
                throw VaultError(code: .invalidCredentials, path: nil, message: "cannot read \(path): \(error.localizedDescription)")
            }
        }
        return try await loginAppRole(roleID: try read(roleIDFile), secretID: try read(secretIDFile), mount: mount)
    }

    /// `GET /v1/auth/token/lookup-self`.
    public func lookupSelf() async throws -> VaultTokenInfo {
        let path = "auth/token/lookup-self"
        let data = try requireData(try await call(.get, path), path: path)
        return VaultTokenInfo(
            accessor: data["accessor"]?.stringValue ?? "",
            displayName: data["display_name"]?.stringValue ?? "",
            policies: data["policies"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            ttl: .seconds(data["ttl"]?.intValue ?? 0),
            renewable: data["renewable"]?.boolValue ?? false,
            expireTime: data["expire_time"]?.stringValue)
    }

    /// `POST /v1/auth/token/renew-self`, asking for `increment` more time when given.
    @discardableResult
    public func renewSelf(increment: Duration? = nil) async throws -> VaultAuth {
        let path = "auth/token/renew-self"
        var body: [String: JSONValue] = [:]
        if let increment { body["increment"] = .string("\(increment.components.seconds)s") }
        let auth = try parseAuth(try await call(.post, path, body: .object(body)), path: path)
        token = auth.clientToken
        return auth
    }

    /// `POST /v1/auth/token/revoke-self`; the client has no token afterwards.
    public func revokeSelf() async throws {
        _ = try await call(.post, "auth/token/revoke-self")
        token = nil
    }

    // MARK: KV v2

    /// Reads the latest version of a secret, or `version`.
    public func read(_ path: String, version: Int? = nil) async throws -> KVSecret {
        let secretPath = Self.trimmed(path)
        let apiPath = "\(kvMount)/data/\(secretPath)"
        let query = version.map { "version=\($0)" }
        let data = try requireData(try await call(.get, apiPath, query: query), path: apiPath)
        guard case .object(let values)? = data["data"] else {
            throw VaultError(code: .notFound, path: apiPath, message: "no secret at \(apiPath) (the version is deleted or destroyed)")
        }
        var secrets: [String: Secret] = [:]
        for (key, value) in values {
            let secret = Secret(value.text)
            masker.register(secret)
            secrets[key] = secret
        }
        return KVSecret(
            path: secretPath, data: secrets, version: Self.parseVersion(data["metadata"]), raw: values)
    }

    /// Writes a new version; with `cas`, only if the current version is `cas` (0: only if there is none).
    @discardableResult
    public func write(_ path: String, data: [String: String], cas: Int? = nil) async throws -> KVVersion {
        try await write(path, json: data.mapValues { .string($0) }, cas: cas)
    }

    /// Writes a new version with any JSON values.
    @discardableResult
    public func write(_ path: String, json data: [String: JSONValue], cas: Int? = nil) async throws -> KVVersion {
        let apiPath = "\(kvMount)/data/\(Self.trimmed(path))"
        var body: [String: JSONValue] = ["data": .object(data)]
        if let cas { body["options"] = .object(["cas": .number(Double(cas))]) }
        return Self.parseVersion(try requireData(try await call(.post, apiPath, body: .object(body)), path: apiPath))
    }

    /// Merges `changes` into the latest version as a new version (JSON merge patch): a `nil` value removes the key.
    @discardableResult
    public func patch(_ path: String, changes: [String: String?], cas: Int? = nil) async throws -> KVVersion {
        let apiPath = "\(kvMount)/data/\(Self.trimmed(path))"
        var body: [String: JSONValue] = ["data": .object(changes.mapValues { $0.map(JSONValue.string) ?? .null })]
        if let cas { body["options"] = .object(["cas": .number(Double(cas))]) }
        let response = try await call(
            .patch, apiPath, body: .object(body), contentType: "application/merge-patch+json")
        return Self.parseVersion(try requireData(response, path: apiPath))
    }

    /// The secret's metadata and the list of its versions.
    public func metadata(_ path: String) async throws -> KVMetadata {
        let secretPath = Self.trimmed(path)
        let apiPath = "\(kvMount)/metadata/\(secretPath)"
        let data = try requireData(try await call(.get, apiPath), path: apiPath)
        var versions: [KVVersion] = []
        if case .object(let byNumber)? = data["versions"] {
            for (number, value) in byNumber {
                guard let version = Int(number) else { continue }
                versions.append(
                    KVVersion(
                        version: version, createdTime: value["created_time"]?.stringValue ?? "",
                        deletionTime: value["deletion_time"]?.stringValue ?? "",
                        destroyed: value["destroyed"]?.boolValue ?? false))
            }
        }
        return KVMetadata(
            path: secretPath, currentVersion: data["current_version"]?.intValue ?? 0,
            oldestVersion: data["oldest_version"]?.intValue ?? 0, maxVersions: data["max_versions"]?.intValue ?? 0,
            createdTime: data["created_time"]?.stringValue ?? "", updatedTime: data["updated_time"]?.stringValue ?? "",
            versions: versions.sorted { $0.version < $1.version })
    }

    /// Makes the data of `version` the latest again, as a new version, the way `kv rollback` does:
    /// it reads that version and writes it with check-and-set on the current version, so a
    /// concurrent write makes the rollback fail instead of being lost.
    @discardableResult
    public func rollback(_ path: String, to version: Int) async throws -> KVVersion {
        let current = try await metadata(path).currentVersion
        let old = try await read(path, version: version)
        return try await write(path, json: old.raw, cas: current)
    }

    /// Soft-deletes the latest version; ``undelete(_:versions:)`` brings it back.
    public func deleteLatest(_ path: String) async throws {
        _ = try await call(.delete, "\(kvMount)/data/\(Self.trimmed(path))")
    }

    /// Restores soft-deleted versions.
    public func undelete(_ path: String, versions: [Int]) async throws {
        let body: JSONValue = .object(["versions": .array(versions.map { .number(Double($0)) })])
        _ = try await call(.post, "\(kvMount)/undelete/\(Self.trimmed(path))", body: body)
    }

    /// The keys under a folder; names ending in `/` are folders.
    public func list(_ path: String) async throws -> [String] {
        let apiPath = "\(kvMount)/metadata/\(Self.trimmed(path))"
        let data = try requireData(try await call(HTTPMethod(rawValue: "LIST"), apiPath), path: apiPath)
        return data["keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    // MARK: Any endpoint

    /// Sends a request to `/v1/<path>` with the client's token, if it has one, and returns the
    /// decoded JSON body (`nil` for an empty one), mapping failures to ``VaultError``.
    @discardableResult
    public func request(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue? {
        try await call(method, Self.trimmed(path), body: body, authenticated: token != nil)
    }

    // MARK: Plumbing

    private func call(
        _ method: HTTPMethod, _ path: String, query: String? = nil, body: JSONValue? = nil,
        contentType: String = "application/json", authenticated: Bool = true, isLogin: Bool = false
    ) async throws -> JSONValue? {
        var headers: HTTPHeaders = ["X-Vault-Request": "true", "Accept": "application/json"]
        if let namespace { headers["X-Vault-Namespace"] = namespace }
        if authenticated {
            guard let token else {
                throw VaultError(code: .notAuthenticated, path: path, message: "no Vault token for \(path): log in first")
            }
            headers["X-Vault-Token"] = token.reveal()
        }
        var payload: Data?
        if let body {
            headers["Content-Type"] = contentType
            payload = try JSONEncoder().encode(body)
        }
        let encodedPath = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        var url = "\(address)/v1/\(encodedPath)"
        if let query { url += "?\(query)" }

        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: method, url: url, headers: headers, body: payload))
        } catch let error as HTTPClientError {
            let code: VaultError.Code = error.code == .invalidURL ? .invalidRequest : .unreachable
            throw VaultError(
                code: code, path: path, message: "Vault unreachable at \(HTTPClientError.withoutCredentials(address)): \(error.message) (\(error.code))")
        }

        // Nil is handled: an error status is reported without the body's messages, a non-JSON success below.
        let json: JSONValue? = response.body.isEmpty ? nil : try? JSONDecoder().decode(JSONValue.self, from: response.body)
        guard response.isSuccess else {
            throw Self.error(status: response.status, json: json, text: response.text, path: path, isLogin: isLogin)
        }
        if !response.body.isEmpty && json == nil {
            throw VaultError(
                code: .invalidResponse, path: path, status: response.status, message: "Vault returned non-JSON for \(path)")
        }
        return json
    }

    static func error(status: Int, json: JSONValue?, text: String, path: String, isLogin: Bool) -> VaultError {
        let messages = json?["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let detail = messages.isEmpty ? "" : ": " + messages.joined(separator: "; ")
        let code: VaultError.Code
        let message: String
        switch status {
        case 400 where isLogin, 401 where isLogin:
            code = .invalidCredentials
            message = "login at \(path) refused: invalid role or secret id\(detail)"
        case 403 where isLogin:
            code = .invalidCredentials
            message = "login at \(path) refused\(detail)"
        case 403:
            code = .permissionDenied
            message = "permission denied on \(path)\(detail)"
        case 404:
            code = .notFound
            message = "no secret at \(path)\(detail)"
        case 503 where (messages + [text]).contains { $0.localizedCaseInsensitiveContains("sealed") }:
            code = .sealed
            message = "Vault is sealed (\(path))"
        case 400..<500:
            code = .invalidRequest
            message = "Vault refused \(path) with \(status)\(detail)"
        default:
            code = .serverError
            message = "Vault failed on \(path) with \(status)\(detail)"
        }
        return VaultError(code: code, path: path, status: status, message: message)
    }

    private func requireData(_ json: JSONValue?, path: String) throws -> JSONValue {
        guard let data = json?["data"], case .object = data else {
            throw VaultError(code: .invalidResponse, path: path, message: "Vault returned no data for \(path)")
        }
        return data
    }

    private func parseAuth(_ json: JSONValue?, path: String) throws -> VaultAuth {
        guard let auth = json?["auth"], let clientToken = auth["client_token"]?.stringValue else {
            throw VaultError(code: .invalidResponse, path: path, message: "Vault returned no token for \(path)")
        }
        let token = Secret(clientToken)
        masker.register(token)
        return VaultAuth(
            clientToken: token, accessor: auth["accessor"]?.stringValue ?? "",
            policies: auth["policies"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            leaseDuration: .seconds(auth["lease_duration"]?.intValue ?? 0),
            renewable: auth["renewable"]?.boolValue ?? false)
    }

    private static func parseVersion(_ json: JSONValue?) -> KVVersion {
        KVVersion(
            version: json?["version"]?.intValue ?? 0, createdTime: json?["created_time"]?.stringValue ?? "",
            deletionTime: json?["deletion_time"]?.stringValue ?? "", destroyed: json?["destroyed"]?.boolValue ?? false)
    }

    private static func trimmed(_ path: String) -> String {
        path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }
}
