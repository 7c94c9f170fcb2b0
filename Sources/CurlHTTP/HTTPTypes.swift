import Foundation

/// An HTTP method; any token is allowed, the common ones are named.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }

    public static let get = HTTPMethod(rawValue: "GET")
    public static let head = HTTPMethod(rawValue: "HEAD")
    public static let post = HTTPMethod(rawValue: "POST")
    public static let put = HTTPMethod(rawValue: "PUT")
    public static let patch = HTTPMethod(rawValue: "PATCH")
    public static let delete = HTTPMethod(rawValue: "DELETE")
    public static let options = HTTPMethod(rawValue: "OPTIONS")

    /// Whether repeating the request is safe by the method's definition (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options: true
        default: false
        }
    }

    public var description: String { rawValue }
}

/// An ordered list of header fields with case-insensitive lookup by name.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, Equatable {
    /// One header field.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Header names whose values are never written to a log.
    public static let sensitiveNames: Set<String> = [
        "authorization", "proxy-authorization", "x-vault-token", "cookie", "set-cookie",
    ]

    public private(set) var fields: [Field] = []

    public init() {}
    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value for `name`, compared case-insensitively; setting replaces every field of that name.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value }
        set {
            remove(name)
            if let newValue { add(name, newValue) }
        }
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// The fields as `Name: value` lines with credentials replaced by `[REDACTED]`, for logs.
    public func redactedLines() -> [String] {
        fields.map { field in
            HTTPHeaders.sensitiveNames.contains(field.name.lowercased())
                ? "\(field.name): [REDACTED]" : "\(field.name): \(field.value)"
        }
    }
}

/// A request to send.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var url: String
    public var headers: HTTPHeaders
    public var body: Data?
    /// Allows retrying a method that is not idempotent by definition (such as a POST the server deduplicates).
    public var isMarkedIdempotent: Bool

    public init(
        method: HTTPMethod = .get, url: String, headers: HTTPHeaders = [:], body: Data? = nil,
        isMarkedIdempotent: Bool = false
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.isMarkedIdempotent = isMarkedIdempotent
    }

    /// Whether the client may send this request more than once.
    public var isRetryable: Bool { method.isIdempotent || isMarkedIdempotent }
}

/// A response as received, whatever its status.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A transfer that did not produce a response.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidURL = Code(rawValue: "invalidURL")
        public static let unsupportedProtocol = Code(rawValue: "unsupportedProtocol")
        public static let couldNotResolveHost = Code(rawValue: "couldNotResolveHost")
        public static let couldNotConnect = Code(rawValue: "couldNotConnect")
        public static let timedOut = Code(rawValue: "timedOut")
        public static let tlsFailure = Code(rawValue: "tlsFailure")
        public static let connectionLost = Code(rawValue: "connectionLost")
        public static let responseTooLarge = Code(rawValue: "responseTooLarge")
        public static let cancelled = Code(rawValue: "cancelled")
        public static let invalidConfiguration = Code(rawValue: "invalidConfiguration")
        public static let transferFailed = Code(rawValue: "transferFailed")

        public var description: String { rawValue }
    }

    public var code: Code
    /// The URL of the request with any user name and password removed.
    public var url: String
    public var message: String

    public init(code: Code, url: String, message: String) {
        self.code = code
        self.url = HTTPClientError.withoutCredentials(url)
        self.message = message
    }

    public var description: String { "\(code) for \(url): \(message)" }

    /// `url` without the `user:password@` part of its authority.
    public static func withoutCredentials(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + String(url[url.index(after: at)...])
    }
}
