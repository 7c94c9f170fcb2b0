import NIOCore

/// Builds a compact JSON document by appending its UTF-8 bytes to a buffer that becomes the response body as is; the
/// responses are written by hand so that numbers keep the exact text they have in the database.
public struct JSONWriter: Sendable {
    /// The document so far.
    public private(set) var bytes: ByteBuffer
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = ByteBuffer()
        bytes.reserveCapacity(capacity)
    }

    /// The document so far, as a string.
    public var output: String { String(buffer: bytes) }

    private mutating func separate() {
        if needsComma { bytes.writeStaticString(",") }
        needsComma = false
    }

    /// Opens an object, as a value or after `key(_:)`.
    public mutating func beginObject() {
        separate()
        bytes.writeStaticString("{")
    }

    /// Closes the current object.
    public mutating func endObject() {
        bytes.writeStaticString("}")
        needsComma = true
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        bytes.writeStaticString("[")
    }

    /// Closes the current array.
    public mutating func endArray() {
        bytes.writeStaticString("]")
        needsComma = true
    }

    /// Writes a member name; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.writeStaticString(":")
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes a number whose text is already valid JSON (an integer or a plain decimal).
    public mutating func number(text: String) {
        separate()
        bytes.writeString(text)
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
    private mutating func appendQuoted(_ value: String) {
        bytes.writeStaticString("\"")
        var value = value
        let needsEscaping = value.withUTF8 { utf8 in utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }
        if !needsEscaping {
            bytes.writeString(value)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": bytes.writeStaticString("\\\"")
                case "\\": bytes.writeStaticString("\\\\")
                case "\n": bytes.writeStaticString("\\n")
                case "\r": bytes.writeStaticString("\\r")
                case "\t": bytes.writeStaticString("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    bytes.writeString("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: bytes.writeString(String(scalar))
                }
            }
        }
        bytes.writeStaticString("\"")
    }
}
