/// Builds a compact JSON document by appending to a string; the responses are written by
/// hand so that numbers keep the exact text they have in the database.
public struct JSONWriter: Sendable {
    /// The document so far.
    public private(set) var output: String
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        output = ""
        output.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if needsComma { output.append(",") }
        needsComma = false
    }

    /// Opens an object, as a value or after `key(_:)`.
    public mutating func beginObject() {
        separate()
        output.append("{")
    }

    /// Closes the current object.
    public mutating func endObject() {
        output.append("}")
        needsComma = true
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        output.append("[")
    }

    /// Closes the current array.
    public mutating func endArray() {
        output.append("]")
        needsComma = true
    }

    /// Writes a member name; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        Self.appendQuoted(name, to: &output)
        output.append(":")
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        separate()
        Self.appendQuoted(value, to: &output)
        needsComma = true
    }

    /// Writes a number whose text is already valid JSON (an integer or a plain decimal).
    public mutating func number(text: String) {
        separate()
        output.append(text)
        needsComma = true
    }

    /// Writes an integer.
    public mutating func number(_ value: Int) {
        number(text: String(value))
    }

    /// Writes a member with a string value.
    public mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// Writes a member whose value is a number in JSON text.
    public mutating func field(_ name: String, number text: String) {
        key(name)
        number(text: text)
    }

    /// Appends `value` as a quoted JSON string.
    public static func appendQuoted(_ value: String, to output: inout String) {
        output.append("\"")
        let needsEscaping = value.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
        if !needsEscaping {
            output.append(value)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": output.append("\\\"")
                case "\\": output.append("\\\\")
                case "\n": output.append("\\n")
                case "\r": output.append("\\r")
                case "\t": output.append("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: output.unicodeScalars.append(scalar)
                }
            }
        }
        output.append("\"")
    }
}
