import Foundation

/// What every `--json` of a command prints: one JSON document whose `schemaVersion` says which version of its shape
/// (docs/schemas/stockops-json.schema.json) it follows, pretty-printed with sorted keys and ISO 8601 dates.
public struct Versioned<Body: Encodable>: Encodable {
    /// The version of every command's JSON shape; raised when a field changes meaning or goes away.
    public static var currentSchemaVersion: Int { 1 }

    public var body: Body

    public init(_ body: Body) {
        self.body = body
    }

    private enum Key: String, CodingKey {
        case schemaVersion
    }

    public func encode(to encoder: any Encoder) throws {
        try body.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
    }
}

public enum JSONOutput {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// `body` with its `schemaVersion`, as text ending in a newline.
    public static func document(_ body: some Encodable) -> String {
        do {
            return String(decoding: try encoder.encode(Versioned(body)), as: UTF8.self) + "\n"
        } catch {
            return #"{"schemaVersion": \#(Versioned<String>.currentSchemaVersion), "error": "the output could not be encoded"}"# + "\n"
        }
    }
}
