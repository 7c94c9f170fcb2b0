import Foundation

/// Exact decimal numbers read from their text: JSON numbers and query parameters are
/// parsed digit by digit, never through `Double`, so `0.1` stays `0.1` and a third decimal
/// place is detected rather than rounded away.
public struct ExactDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Value as `Decimal` (for arithmetic and comparison).
    public let value: Decimal
    /// Digits after the decimal point once trailing zeros are dropped.
    public let scale: Int
    /// Significant digits (`max_digits` in SQL terms) once leading and trailing zeros are dropped.
    public let digitCount: Int
    /// Canonical plain text such as `0.3` or `182.52`, suitable for JSON and SQL.
    public let text: String

    public var description: String { text }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.value < rhs.value }

    public static func == (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.value == rhs.value }

    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// Parses text in JSON number syntax (`-12.5`, `1e3`, `0.10`); nil if it is not a
    /// number or has more than 30 digits before the point.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var digits: [UInt8] = []
        var fractionCount = 0
        var sawDigit = false
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            digits.append(bytes[index])
            sawDigit = true
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var sawFraction = false
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                digits.append(bytes[index])
                fractionCount += 1
                sawFraction = true
                index += 1
            }
            guard sawFraction else { return nil }
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var sawExponent = false
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] - 48) }
                sawExponent = true
                index += 1
            }
            guard sawExponent else { return nil }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.count else { return nil }

        // value = digits × 10^(exponent - fractionCount)
        var power = exponent - fractionCount
        while let last = digits.last, last == 48 {
            digits.removeLast()
            power += 1
        }
        let firstNonZero = digits.firstIndex { $0 != 48 } ?? digits.endIndex
        digits.removeFirst(firstNonZero)
        if digits.isEmpty {
            self.init(value: 0, scale: 0, digitCount: 0, text: "0")
            return
        }
        let scale = max(0, -power)
        let integerDigits = digits.count + power
        guard integerDigits <= 30, scale <= 1_000 else { return nil }
        var plain = negative ? "-" : ""
        if power >= 0 {
            plain += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: power)
        } else if integerDigits > 0 {
            plain +=
                String(decoding: digits[0..<integerDigits], as: UTF8.self) + "."
                + String(decoding: digits[integerDigits...], as: UTF8.self)
        } else {
            plain += "0." + String(repeating: "0", count: -integerDigits) + String(decoding: digits, as: UTF8.self)
        }
        guard let decimal = Decimal(string: plain, locale: Self.posix) else { return nil }
        let digitCount = power >= 0 ? digits.count + power : max(digits.count, scale)
        self.init(value: decimal, scale: scale, digitCount: digitCount, text: plain)
    }

    /// The locale whose decimal separator is `.`, made once: making a `Locale` costs more than parsing the number.
    private static let posix = Locale(identifier: "en_US_POSIX")

    private init(value: Decimal, scale: Int, digitCount: Int, text: String) {
        self.value = value
        self.scale = scale
        self.digitCount = digitCount
        self.text = text
    }
}
