/// A configuration problem, naming the file, the key path and the line.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unreadable
        case syntax
        case missingKey = "missing-key"
        case wrongType = "wrong-type"
        case invalidValue = "invalid-value"
        case unknownKey = "unknown-key"
    }

    public let code: Code
    public let file: String
    /// Dotted path of the offending key, e.g. `services[1].ports.dev`; empty for the document.
    public let keyPath: String
    /// 1-based line, when known.
    public let line: Int?
    public let message: String

    public init(code: Code, file: String, keyPath: String, line: Int?, message: String) {
        self.code = code
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = file + (line.map { ":\($0)" } ?? "")
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}
