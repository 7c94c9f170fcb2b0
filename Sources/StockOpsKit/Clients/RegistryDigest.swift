import Foundation

/// A content digest as registries write it: `sha256:` followed by 64 lowercase hexadecimal digits.
public struct ImageDigest: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The 64 lowercase hexadecimal digits.
    public let hex: String

    /// Parses `sha256:<64 hex>`; nil for any other algorithm or shape.
    public init?(_ text: String) {
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = text.dropFirst("sha256:".count)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return nil
        }
        self.hex = String(hex)
    }

    /// Parses `text` or throws ``ImageReferenceError/Code/invalidDigest``.
    public static func parse(_ text: String) throws(ImageReferenceError) -> ImageDigest {
        guard let digest = ImageDigest(text) else {
            throw ImageReferenceError(.invalidDigest, "\"\(text)\" is not a sha256 digest (sha256:<64 lowercase hex digits>)")
        }
        return digest
    }

    /// The SHA-256 digest of `bytes`.
    public static func of<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageDigest {
        ImageDigest(uncheckedHex: Digest.sha256(bytes).hex)
    }

    /// The SHA-256 digest of `data`.
    public static func of(_ data: Data) -> ImageDigest { of([UInt8](data)) }

    private init(uncheckedHex: String) { hex = uncheckedHex }

    public var description: String { "sha256:" + hex }

    /// The first `length` hex digits, for short display.
    public func short(_ length: Int = 12) -> String { String(hex.prefix(length)) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = ImageDigest(text) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "not a sha256 digest: \(text)"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
