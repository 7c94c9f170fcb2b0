/// How far a long tool has got, read from the lines it writes to a node's log: SwiftPM's `[123/456] Compiling …`,
/// BuildKit's plain progress (`#7 [build 3/7] RUN …`, and `#15 pushing layer sha256:… 12.58MB / 70.40MB 3.1s` as
/// moby/buildkit's `progressui` prints a status with bytes), and `docker push`'s per-layer lines (`5f70bf18a086:
/// Pushed`; moby's `jsonmessage` drops the byte counts when the output is not a terminal).
public struct ToolProgress: Sendable, Equatable {
    /// The latest progress, such as `swift build 123/456 (27 %)`; nil until a tool reports one.
    public private(set) var latest: String?
    private var layers: [Substring: Bool] = [:]

    public init() {}

    /// Reads one line of tool output.
    public mutating func consume(_ line: Substring) {
        let line = line.trimmingSuffix { $0 == "\r" }
        guard let first = line.first else { return }
        if first == "[", let (done, total, rest) = Self.fraction(line.dropFirst(), closing: "]") {
            latest = "swift build \(done)/\(total) (\(done * 100 / max(total, 1)) %)" + (rest.isEmpty ? "" : ": " + rest.prefix(60))
        } else if first == "#", let open = line.firstIndex(of: "["),
            let (done, total, rest) = Self.fraction(Self.dropStageName(line[line.index(after: open)...]), closing: "]")
        {
            latest = "image build step \(done)/\(total)" + (rest.isEmpty ? "" : ": " + rest.prefix(60))
        } else if first == "#", let transfer = Self.bytes(line) {
            latest = transfer
        } else if let colon = line.firstIndex(of: ":"), line.distance(from: line.startIndex, to: colon) == 12, line[..<colon].allSatisfy(\.isHexDigit) {
            let state = line[line.index(after: colon)...].drop { $0 == " " }
            let layer = line[..<colon]
            if state.hasPrefix("Pushed") || state.hasPrefix("Layer already exists") || state.hasPrefix("Mounted from") {
                layers[layer] = true
            } else if state.hasPrefix("Preparing") || state.hasPrefix("Waiting") || state.hasPrefix("Pushing") {
                layers[layer] = layers[layer] ?? false
            } else {
                return
            }
            latest = "push: \(layers.values.filter { $0 }.count) of \(layers.count) layers"
        }
    }

    /// `#15 pushing layer sha256:abc 12.58MB / 70.40MB 3.1s` → `push: 12.58MB / 70.40MB`.
    private static func bytes(_ line: Substring) -> String? {
        let tokens = line.split(separator: " ")
        guard let slash = tokens.firstIndex(of: "/"), slash >= 3, slash + 1 < tokens.count else { return nil }
        func isSize(_ token: Substring) -> Bool { token.first?.isNumber == true && token.hasSuffix("B") }
        let (current, total) = (tokens[slash - 1], tokens[slash + 1])
        guard isSize(current), isSize(total) else { return nil }
        let what = tokens[1..<(slash - 1)].joined(separator: " ")
        return (what.hasPrefix("pushing") ? "push" : "transfer") + ": \(current) / \(total)"
    }

    /// `123/456] rest` → (123, 456, "rest").
    private static func fraction(_ text: Substring, closing: Character) -> (Int, Int, Substring)? {
        guard let slash = text.firstIndex(of: "/"), let end = text.firstIndex(of: closing), slash < end,
            let done = Int(text[..<slash]), let total = Int(text[text.index(after: slash)..<end]), total > 0, done <= total
        else { return nil }
        return (done, total, text[text.index(after: end)...].drop { $0 == " " })
    }

    /// BuildKit names a stage before its step (`[build 3/7]`); the step is what counts.
    private static func dropStageName(_ text: Substring) -> Substring {
        guard let space = text.firstIndex(of: " "), let slash = text.firstIndex(of: "/"), space < slash else { return text }
        return text[text.index(after: space)...]
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[..<end]
    }
}
