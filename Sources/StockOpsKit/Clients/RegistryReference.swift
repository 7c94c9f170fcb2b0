import Foundation

/// A reference, tag or digest that does not follow the OCI distribution rules.
public struct ImageReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidReference = "invalid-reference"
        case invalidRepository = "invalid-repository"
        case invalidTag = "invalid-tag"
        case invalidDigest = "invalid-digest"
        case missingDigest = "missing-digest"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A tag as a registry accepts it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (OCI distribution specification).
///
/// A tag rendered from an environment's tag template is checked with ``parse(_:)`` before it reaches a registry.
public struct RegistryTag: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let name: String

    /// Validates `name`; nil when it is not a valid tag.
    public init?(_ name: String) {
        guard Self.isValid(name) else { return nil }
        self.name = name
    }

    /// Validates `name` or throws ``ImageReferenceError/Code/invalidTag``.
    public static func parse(_ name: String) throws(ImageReferenceError) -> RegistryTag {
        guard let tag = RegistryTag(name) else {
            throw ImageReferenceError(.invalidTag, "\"\(name)\" is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})")
        }
        return tag
    }

    /// `git-<sha7>`: the tag every image is pushed under once, after its build.
    public static func git(commit: String) throws(ImageReferenceError) -> RegistryTag {
        try prefixed("git", commit: commit)
    }

    /// `dev-<sha7>`: the image promoted to the dev environment.
    public static func dev(commit: String) throws(ImageReferenceError) -> RegistryTag {
        try prefixed("dev", commit: commit)
    }

    /// `stage-<sha7>`: the image promoted to the staging environment.
    public static func stage(commit: String) throws(ImageReferenceError) -> RegistryTag {
        try prefixed("stage", commit: commit)
    }

    /// `v<semver>` from `1.2.3` or `v1.2.3`, with an optional pre-release (`1.2.3-rc.1`); build metadata (`+…`) is refused.
    public static func version(_ version: String) throws(ImageReferenceError) -> RegistryTag {
        let bare = version.hasPrefix("v") ? String(version.dropFirst()) : version
        let parts = bare.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let core = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        let numeric =
            core.count == 3
            && core.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) && ($0 == "0" || !$0.hasPrefix("0")) }
        let preRelease =
            parts.count == 1
            || parts[1].split(separator: ".", omittingEmptySubsequences: false).allSatisfy { identifier in
                !identifier.isEmpty && identifier.allSatisfy { $0.isASCIIDigit || $0.isASCIILetter || $0 == "-" }
            }
        guard numeric, preRelease else {
            throw ImageReferenceError(.invalidTag, "\"\(version)\" is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE])")
        }
        return try parse("v" + bare)
    }

    private static func prefixed(_ prefix: String, commit: String) throws(ImageReferenceError) -> RegistryTag {
        let lower = commit.lowercased()
        guard lower.count >= 7, lower.allSatisfy(\.isHexDigit) else {
            throw ImageReferenceError(.invalidTag, "\"\(commit)\" is not a commit SHA (at least 7 hex digits)")
        }
        return try parse(prefix + "-" + lower.prefix(7))
    }

    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ byte: UInt8) -> Bool {
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 95
        }
        return word(first) && bytes.dropFirst().allSatisfy { word($0) || $0 == 46 || $0 == 45 }
    }

    public var description: String { name }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let tag = RegistryTag(text) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "not a valid tag: \(text)"))
        }
        self = tag
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// What a manifest is addressed by in a repository: a tag or a digest.
public enum ManifestReference: Hashable, Sendable, CustomStringConvertible {
    case tag(RegistryTag)
    case digest(ImageDigest)

    public var description: String {
        switch self {
        case .tag(let tag): tag.name
        case .digest(let digest): digest.description
        }
    }
}

/// An image reference: `[host[:port]/]repository[:tag][@sha256:<hex>]`, validated per the OCI distribution rules.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The registry host with an optional port, such as `harbor.example.com` or `127.0.0.1:5000`.
    public var registry: String?
    /// Slash-separated lowercase path components, such as `stocks/trade`.
    public var repository: String
    public var tag: RegistryTag?
    public var digest: ImageDigest?

    public init(registry: String?, repository: String, tag: RegistryTag? = nil, digest: ImageDigest? = nil) throws(ImageReferenceError) {
        if let registry, !Self.isValidHost(registry) {
            throw ImageReferenceError(.invalidReference, "\"\(registry)\" is not a registry host[:port]")
        }
        guard Self.isValidRepository(repository) else {
            throw ImageReferenceError(
                .invalidRepository,
                "\"\(repository)\" is not a repository name (lowercase components [a-z0-9]+ joined by ., _, __ or -, separated by /)")
        }
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    init(validatedRegistry registry: String?, repository: String, tag: RegistryTag?, digest: ImageDigest?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `text`, or returns nil when it is not a valid reference.
    public init?(_ text: String) {
        // The failable initializer: nil is the documented answer for invalid text.
        guard let reference = try? Self.parse(text) else { return nil }
        self = reference
    }

    /// Parses `host:port/project/svc:tag`, `project/svc@sha256:…` and `host/project/svc:tag@sha256:…`.
    public static func parse(_ text: String) throws(ImageReferenceError) -> ImageReference {
        var rest = Substring(text)
        var digest: ImageDigest?
        if let at = rest.firstIndex(of: "@") {
            digest = try ImageDigest.parse(String(rest[rest.index(after: at)...]))
            rest = rest[..<at]
        }
        var tag: RegistryTag?
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":") {
            tag = try RegistryTag.parse(String(rest[rest.index(after: colon)...]))
            rest = rest[..<colon]
        }
        var registry: String?
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        guard !rest.isEmpty else { throw ImageReferenceError(.invalidReference, "\"\(text)\" names no repository") }
        return try ImageReference(registry: registry, repository: String(rest), tag: tag, digest: digest)
    }

    /// `repository[:tag][@digest]` prefixed by the registry when there is one.
    public var description: String {
        var text = registry.map { $0 + "/" } ?? ""
        text += repository
        if let tag { text += ":" + tag.name }
        if let digest { text += "@" + digest.description }
        return text
    }

    /// `[host/]repository` without tag or digest.
    public var name: String { (registry.map { $0 + "/" } ?? "") + repository }

    /// The digest when there is one, else the tag; nil when neither is given.
    public var manifestReference: ManifestReference? {
        if let digest { return .digest(digest) }
        return tag.map(ManifestReference.tag)
    }

    /// The same repository under another tag, without a digest.
    public func tagged(_ tag: RegistryTag) -> ImageReference {
        var copy = self
        copy.tag = tag
        copy.digest = nil
        return copy
    }

    /// The reference pinned to `digest` (the tag is dropped).
    public func pinned(to digest: ImageDigest) -> PinnedImageReference {
        PinnedImageReference(registry: registry, repository: repository, digest: digest)
    }

    /// The reference pinned to its own digest; throws ``ImageReferenceError/Code/missingDigest`` for a tag-only reference.
    public func pinned() throws(ImageReferenceError) -> PinnedImageReference {
        guard let digest else {
            throw ImageReferenceError(.missingDigest, "\(self) names no digest; resolve the tag to a digest first")
        }
        return pinned(to: digest)
    }

    static func isValidHost(_ host: String) -> Bool {
        var name = Substring(host)
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") {
            let port = name[name.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCIIDigit), let value = Int(port), value <= 65535
            else { return false }
            name = name[..<colon]
        }
        if name.hasPrefix("[") && name.hasSuffix("]") {
            return name.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !name.isEmpty
            && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                !label.isEmpty && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCIIDigit || $0.isASCIILetter || $0 == "-" }
            }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 characters.
    static func isValidRepository(_ repository: String) -> Bool {
        guard !repository.isEmpty, repository.utf8.count <= 255 else { return false }
        return repository.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isValidComponent)
    }

    private static func isValidComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...122).contains(byte) }
        guard let first = bytes.first, let last = bytes.last, alphanumeric(first), alphanumeric(last) else { return false }
        var index = 0
        while index < bytes.count {
            if alphanumeric(bytes[index]) {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count && !alphanumeric(bytes[end]) { end += 1 }
            let separator = bytes[index..<end]
            let valid =
                separator.elementsEqual([46]) || separator.elementsEqual([95]) || separator.elementsEqual([95, 95])
                || separator.allSatisfy { $0 == 45 }
            guard valid else { return false }
            index = end
        }
        return true
    }
}

/// A reference that names its digest, so that what it points to cannot change: `[host/]repository@sha256:…`.
/// Signing and scanning take this type, never a tag.
public struct PinnedImageReference: Hashable, Sendable, CustomStringConvertible {
    public let registry: String?
    public let repository: String
    public let digest: ImageDigest

    public var description: String { (registry.map { $0 + "/" } ?? "") + repository + "@" + digest.description }

    /// The reference as an ``ImageReference``.
    public var reference: ImageReference {
        ImageReference(validatedRegistry: registry, repository: repository, tag: nil, digest: digest)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isASCIILetter: Bool { isASCII && isLetter }
}
