import Foundation

/// How JSON encoders write a string's characters between its quotes.
public enum JSONStringEscaping {
    /// `text` escaped as Foundation's `JSONEncoder` writes it (`"`, `\`, control characters); with `htmlSafe`, also
    /// `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`, as Go's `encoding/json` does.
    public static func escape(_ text: String, htmlSafe: Bool = false) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case "\u{08}": escaped += "\\b"
            case "\u{0C}": escaped += "\\f"
            case _ where htmlSafe && ["<", ">", "&", "\u{2028}", "\u{2029}"].contains(scalar):
                escaped += String(format: "\\u%04x", scalar.value)
            case _ where scalar.value < 0x20:
                escaped += String(format: "\\u%04x", scalar.value)
            default:
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
