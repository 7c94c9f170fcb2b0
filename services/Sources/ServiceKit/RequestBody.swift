import Foundation
import Hummingbird
import NIOCore

/// Reads and validates JSON request bodies.
public enum JSONBody {
    /// Largest body accepted, in bytes; larger ones are answered 413.
    public static let maximumSize = 64 * 1024

    /// Reads the body of `request` as a JSON object: 415 unless the content type is
    /// `application/json`, 413 above `maximumSize`, 400 for malformed JSON and 422 when the
    /// document is not an object.
    public static func object(from request: Request) async throws -> JSONObject {
        guard let contentType = request.headers[.contentType], isJSON(contentType) else {
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported_media_type",
                detail: "Content-Type must be application/json")
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maximumSize {
            throw tooLarge
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumSize)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError.invalidJSON("malformed JSON: \(error.description)")
        }
        guard case .object(let members) = value else {
            throw APIError.validation("body: must be a JSON object, not \(value.kind)")
        }
        return JSONObject(members: members, path: "body")
    }

    static let tooLarge = APIError(
        status: .contentTooLarge, code: "payload_too_large",
        detail: "request body exceeds \(maximumSize) bytes")

    /// True when the media type before any `;` parameters is `application/json` in any case, with optional
    /// whitespace (spaces, tabs) around it, with or without parameters such as `charset`.
    static func isJSON(_ contentType: String) -> Bool {
        let expected = "application/json".utf8
        var mediaType = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        while let first = mediaType.first, isBlank(first) { mediaType = mediaType.dropFirst() }
        while let last = mediaType.last, isBlank(last) { mediaType = mediaType.dropLast() }
        return mediaType.count == expected.count
            && zip(mediaType, expected).allSatisfy { byte, wanted in
                // ASCII letters compare without case: setting 0x20 lowers an upper-case letter.
                byte == wanted || (wanted >= UInt8(ascii: "a") && wanted <= UInt8(ascii: "z") && byte | 0x20 == wanted)
            }
    }
}

/// A JSON object with typed, strict accessors that throw 422 `validation_error`.
public struct JSONObject: Sendable {
    /// The object's members.
    public let members: [String: JSONValue]
    /// Where the object is, for error messages (e.g. `body`).
    public let path: String

    public init(members: [String: JSONValue], path: String) {
        self.members = members
        self.path = path
    }

    private func invalid(_ key: String, _ message: String) -> APIError {
        .validation("\(path).\(key): \(message)")
    }

    private func value(_ key: String) -> JSONValue? {
        switch members[key] {
        case nil, .null?: nil
        case let value?: value
        }
    }

    /// A required string of `length` characters that contains no NUL.
    public func string(_ key: String, length: ClosedRange<Int>) throws(APIError) -> String {
        guard let value = value(key) else { throw invalid(key, "field required") }
        guard case .string(let string) = value else { throw invalid(key, "must be a string, not \(value.kind)") }
        guard length.contains(string.count) else {
            throw invalid(key, "must be \(length.lowerBound) to \(length.upperBound) characters")
        }
        guard !string.utf8.contains(0) else { throw invalid(key, "must not contain NUL") }
        return string
    }

    /// An integer within `range`; `defaultValue` when absent, required when that is nil.
    /// Numbers with a fraction or exponent, strings and booleans are rejected.
    public func integer(_ key: String, in range: ClosedRange<Int64>, default defaultValue: Int64? = nil) throws(APIError) -> Int64 {
        guard let value = value(key) else {
            if let defaultValue { return defaultValue }
            throw invalid(key, "field required")
        }
        guard case .number(let text) = value else { throw invalid(key, "must be an integer, not \(value.kind)") }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            throw invalid(key, "must be an integer")
        }
        guard let integer = Int64(text), range.contains(integer) else {
            throw invalid(key, "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return integer
    }

    /// A JSON number with at most `maximumScale` decimals, within `range` (exclusive of the
    /// lower bound when `lowerExclusive`); `defaultValue` when absent, required when nil.
    public func decimal(
        _ key: String, range: ClosedRange<Decimal>, lowerExclusive: Bool = false, maximumScale: Int = 2,
        default defaultValue: ExactDecimal? = nil
    ) throws(APIError) -> ExactDecimal {
        guard let value = value(key) else {
            if let defaultValue { return defaultValue }
            throw invalid(key, "field required")
        }
        guard case .number(let text) = value else { throw invalid(key, "must be a number, not \(value.kind)") }
        do throws(DecimalValidationError) {
            return try DecimalRule(range: range, lowerExclusive: lowerExclusive, maximumScale: maximumScale).check(text)
        } catch {
            throw invalid(key, error.message)
        }
    }
}

/// Why a decimal was refused.
public struct DecimalValidationError: Error, Sendable {
    public var message: String
}

/// Bounds and precision of a decimal field.
public struct DecimalRule: Sendable {
    public var range: ClosedRange<Decimal>
    public var lowerExclusive: Bool
    public var maximumScale: Int

    public init(range: ClosedRange<Decimal>, lowerExclusive: Bool = false, maximumScale: Int = 2) {
        self.range = range
        self.lowerExclusive = lowerExclusive
        self.maximumScale = maximumScale
    }

    /// Parses `text` exactly and checks it; never rounds.
    public func check(_ text: some StringProtocol) throws(DecimalValidationError) -> ExactDecimal {
        guard let number = ExactDecimal(text) else { throw DecimalValidationError(message: "must be a number") }
        guard number.scale <= maximumScale else {
            throw DecimalValidationError(message: "must have at most \(maximumScale) decimal places")
        }
        let aboveLower = lowerExclusive ? number.value > range.lowerBound : number.value >= range.lowerBound
        guard aboveLower, number.value <= range.upperBound else {
            let lower = lowerExclusive ? "greater than \(range.lowerBound)" : "at least \(range.lowerBound)"
            throw DecimalValidationError(message: "must be \(lower) and at most \(range.upperBound)")
        }
        return number
    }
}

/// Typed access to query parameters, throwing 422 `validation_error`.
public struct QueryParameters: Sendable {
    private let values: [String: String]

    /// The first value of each parameter of `request`'s URI.
    public init(_ request: Request) {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where values[String(key)] == nil {
            values[String(key)] = String(value)
        }
        self.values = values
    }

    /// The raw value, or nil when absent.
    public subscript(_ key: String) -> String? { values[key] }

    /// An integer within `range`, `defaultValue` when absent or empty.
    public func integer(_ key: String, in range: ClosedRange<Int64>, default defaultValue: Int64) throws(APIError) -> Int64 {
        guard let text = values[key], !text.isEmpty else { return defaultValue }
        guard let value = Int64(text), range.contains(value) else {
            throw APIError.validation(
                "query.\(key): must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// A decimal checked against `rule`; nil when absent, 422 when required and absent.
    public func decimal(_ key: String, rule: DecimalRule, required: Bool) throws(APIError) -> ExactDecimal? {
        guard let text = values[key], !text.isEmpty else {
            if required { throw APIError.validation("query.\(key): field required") }
            return nil
        }
        do throws(DecimalValidationError) {
            return try rule.check(text)
        } catch {
            throw APIError.validation("query.\(key): \(error.message)")
        }
    }
}
