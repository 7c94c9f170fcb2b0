import NIOCore

/// Builds a compact JSON document by appending its UTF-8 bytes to an array, copied once into the response body; the
/// responses are written by hand so that numbers keep the exact text they have in the database.
public struct JSONWriter: Sendable {
    /// The document so far, as UTF-8. An array, not a `ByteBuffer`: appending a few bytes to it costs a copy and no
    /// reference-counted storage checks, and a response appends dozens of such pieces.
    private(set) var utf8: [UInt8]
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        utf8 = []
        utf8.reserveCapacity(capacity)
    }

    /// The document so far, as the buffer a response body carries.
    public var bytes: ByteBuffer { ByteBuffer(bytes: utf8) }

    /// The document so far, as a string.
    public var output: String { String(decoding: utf8, as: UTF8.self) }

    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { utf8.append(contentsOf: $0) }
    }

    private mutating func separate() {
        if needsComma { utf8.append(UInt8(ascii: ",")) }
        needsComma = false
    }

    /// Opens an object, as a value or after `key(_:)`.
    public mutating func beginObject() {
        separate()
        utf8.append(UInt8(ascii: "{"))
    }

    /// Closes the current object.
    public mutating func endObject() {
        utf8.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        utf8.append(UInt8(ascii: "["))
    }

    /// Closes the current array.
    public mutating func endArray() {
        utf8.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a member name; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        utf8.append(UInt8(ascii: ":"))
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
        append(text)
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
        utf8.append(UInt8(ascii: "\""))
        var value = value
        let needsEscaping = value.withUTF8 { bytes in bytes.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }
        if !needsEscaping {
            append(value)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": append("\\\"")
                case "\\": append("\\\\")
                case "\n": append("\\n")
                case "\r": append("\\r")
                case "\t": append("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: append(String(scalar))
                }
            }
        }
        utf8.append(UInt8(ascii: "\""))
    }
}
