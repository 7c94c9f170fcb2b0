import Foundation
import Synchronization

/// The process-wide list of secret values to hide in output.
///
/// ``mask(_:)`` replaces every registered value, and every line of a multi-line value, with
/// `***`. When `GITHUB_ACTIONS` is `true`, registering a value also writes `::add-mask::<line>` for each of its lines
/// where ``announce(to:)`` says (the CLI: its standard output), so the runner masks them in the job log too.
///
/// Masking is one pass over the UTF-8 bytes of the text: a table of first bytes skips most
/// positions, and only values sharing the next four bytes are compared, longest first; it is
/// cheap enough for every log line.
public final class SecretMasker: Sendable {
    /// The registry fetched secrets are added to.
    public static let shared = SecretMasker()

    /// What a masked value is replaced with.
    public static let mask = "***"

    private struct State {
        var values: Set<String> = []
        /// The encoded forms of the values (JSON-escaped, base64, percent-encoded), masked like them.
        var forms: Set<String> = []
        /// Whether some value starts with the byte: rejects most positions with one load.
        var startsWith = [Bool](repeating: false, count: 256)
        /// Values of four bytes or more as UTF-8, by their first four bytes, longest first.
        var long: [UInt32: [[UInt8]]] = [:]
        /// Shorter values, longest first.
        var short: [[UInt8]] = []
        /// The UTF-8 length of the longest value.
        var longest = 0

        mutating func insert(_ bytes: [UInt8]) {
            startsWith[Int(bytes[0])] = true
            longest = max(longest, bytes.count)
            if bytes.count >= 4 {
                long[State.key(bytes, 0), default: []].append(bytes)
                long[State.key(bytes, 0)]!.sort { $0.count > $1.count }
            } else {
                short.append(bytes)
                short.sort { $0.count > $1.count }
            }
        }

        static func key(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
            UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                | UInt32(bytes[index + 3]) << 24
        }

        static func key(_ bytes: [UInt8], _ index: Int) -> UInt32 {
            bytes.withUnsafeBufferPointer { key($0, index) }
        }
    }

    private let state = Mutex(State())
    private let announcesToGitHubActions: Bool
    private let output: Mutex<(@Sendable (String) -> Void)?>

    /// - Parameters:
    ///   - environment: Where `GITHUB_ACTIONS` is read from.
    ///   - output: Where `::add-mask::` commands are written; nowhere until ``announce(to:)`` says.
    public init(environment: RunEnvironment = .process, output: (@Sendable (String) -> Void)? = nil) {
        announcesToGitHubActions = environment.isGitHubActions
        self.output = Mutex(output)
    }

    /// Writes the `::add-mask::` commands to `output` from now on, starting with those of the values already registered.
    public func announce(to output: @escaping @Sendable (String) -> Void) {
        self.output.withLock { $0 = output }
        // Read after the output is set: a value registered meanwhile is announced twice at worst, never missed.
        announce(state.withLock { $0.values }.sorted())
    }

    public func register(_ secret: Secret) {
        register(secret.reveal())
    }

    /// Adds `value`, each of its lines, and the forms it takes inside JSON, base64 and URLs; blank values and lines
    /// are ignored.
    public func register(_ value: String) {
        var candidates = [value]
        if value.contains(where: \.isNewline) {
            candidates += value.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline).map(String.init)
        }

        let forms = value.allSatisfy(\.isWhitespace) ? [] : Self.encodedForms(value)
        let added: [String] = state.withLock { state in
            var added: [String] = []
            for candidate in candidates
            where !candidate.allSatisfy(\.isWhitespace) && state.values.insert(candidate).inserted {
                state.insert(Array(candidate.utf8))
                added.append(candidate)
            }
            // Encoded forms are masked too, but neither counted nor announced: they are not values of their own.
            for form in forms where !state.values.contains(form) && state.forms.insert(form).inserted {
                state.insert(Array(form.utf8))
            }
            return added
        }
        announce(added)
    }

    private func announce(_ values: [String]) {
        guard announcesToGitHubActions, let output = output.withLock({ $0 }) else { return }
        for line in values where !line.contains(where: \.isNewline) {
            output("::add-mask::" + Self.escapeWorkflowCommandData(line))
        }
    }

    /// How many distinct values and lines are registered.
    public var count: Int { state.withLock { $0.values.count } }

    /// The UTF-8 length of the longest registered value: a cut of a stream must keep this many bytes minus one
    /// unmasked for later, or a value straddling the cut would be missed.
    public var longestValue: Int { state.withLock { $0.longest } }

    /// `value` as JSON strings carry it (with and without `\/`), in standard base64, and percent-encoded.
    static func encodedForms(_ value: String) -> [String] {
        var forms: [String] = []
        let escaped = JSONStringEscaping.escape(value)
        forms.append(escaped)
        forms.append(escaped.replacingOccurrences(of: "/", with: "\\/"))
        forms.append(Data(value.utf8).base64EncodedString())
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        if let percent = value.addingPercentEncoding(withAllowedCharacters: unreserved) {
            forms.append(percent)
            forms.append(percent.replacingOccurrences(of: "%20", with: "+"))
        }
        return forms.filter { $0 != value }
    }

    /// `text` with every registered value replaced by `***`.
    public func mask(_ text: String) -> String {
        var utf8 = text
        guard let masked = utf8.withUTF8({ mask($0, upTo: $0.count).masked }) else { return text }
        return String(decoding: masked, as: UTF8.self)
    }

    /// Masks the start of a stream: every value that begins before `limit` is replaced, read whole even where it
    /// runs past `limit`. Returns the masked bytes (nil when nothing was replaced: the consumed bytes are then
    /// unchanged) and how many input bytes they cover, `limit` or more.
    public func mask(_ bytes: UnsafeBufferPointer<UInt8>, upTo limit: Int) -> (masked: [UInt8]?, consumed: Int) {
        let table = state.withLock { $0.values.isEmpty ? nil : $0 }
        guard let table else { return (nil, limit) }
        func matches(_ candidate: [UInt8], at index: Int) -> Bool {
            candidate.count <= bytes.count - index
                && candidate.withUnsafeBufferPointer {
                    memcmp($0.baseAddress!, bytes.baseAddress! + index, candidate.count) == 0
                }
        }
        var result: [UInt8] = []
        var changed = false
        var index = 0
        while index < limit {
            let byte = bytes[index]
            var match: [UInt8]?
            if table.startsWith[Int(byte)] {
                if index + 4 <= bytes.count, let bucket = table.long[State.key(bytes, index)] {
                    match = bucket.first { matches($0, at: index) }
                }
                if match == nil {
                    match = table.short.first { matches($0, at: index) }
                }
            }
            if let match {
                if !changed {
                    result.reserveCapacity(bytes.count)
                    result.append(contentsOf: bytes[..<index])
                    changed = true
                }
                result.append(contentsOf: Self.mask.utf8)
                index += match.count
            } else {
                if changed { result.append(byte) }
                index += 1
            }
        }
        return (changed ? result : nil, index)
    }

    /// Escapes `%`, CR and LF as GitHub workflow commands require.
    static func escapeWorkflowCommandData(_ data: String) -> String {
        data.replacingOccurrences(of: "%", with: "%25")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }
}
