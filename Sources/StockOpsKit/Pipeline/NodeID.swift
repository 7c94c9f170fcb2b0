/// The identity of a node in a pipeline graph: a stage name, optionally with a matrix key (`build[trade]`).
public struct NodeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The stage name, e.g. `build`.
    public let name: String
    /// The matrix key, e.g. `trade` in `build[trade]`.
    public let key: String?

    public init(_ name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }

    /// Parses `name` or `name[key]`.
    public init(parsing text: String) {
        if text.hasSuffix("]"), let open = text.firstIndex(of: "[") {
            name = String(text[..<open])
            key = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        } else {
            name = text
            key = nil
        }
    }

    public init(stringLiteral value: String) {
        self.init(parsing: value)
    }

    public var description: String {
        key.map { "\(name)[\($0)]" } ?? name
    }

    /// Whether a selector given on the command line (`test` or `test[trade]`) designates this node.
    public func matches(selector: String) -> Bool {
        selector == description || (selector == name)
    }

    /// A file-system-safe rendering of the id, for log and cache file names.
    public var fileName: String {
        String(description.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.description < rhs.description
    }

    public init(from decoder: any Decoder) throws {
        self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
