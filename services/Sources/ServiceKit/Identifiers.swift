import Postgres

/// Stock symbols: 1–10 characters of `[A-Z0-9.-]` starting with a letter; input is
/// upper-cased first.
public enum StockSymbol {
    /// The upper-cased symbol, or nil when `raw` is not a valid symbol.
    public static func normalize(_ raw: String) -> String? {
        let utf8 = raw.utf8
        guard (1...10).contains(utf8.count), let first = utf8.first, isLetter(first) else { return nil }
        guard utf8.allSatisfy({ isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D }) else {
            return nil
        }
        return raw.uppercased()
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

/// User ids: 1–64 characters of `[A-Za-z0-9_.-]`.
public enum UserID {
    /// True when `raw` is a valid user id.
    public static func isValid(_ raw: String) -> Bool {
        let utf8 = raw.utf8
        return (1...64).contains(utf8.count)
            && utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                    || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D
            }
    }
}

extension ExactDecimal: PostgresEncodable {
    /// The canonical plain text, which PostgreSQL reads exactly as NUMERIC.
    public var postgresText: String { text }
}
