import Foundation
import Yams

/// The accepted findings of `secret-scan` (`security.secret-scan.allowlist`), whatever the scanner:
///
/// ```yaml
/// allow:
///   - rule: aws-access-key-id        # the reported rule id, or "*"
///     path: Tests/Fixtures/          # a file, a directory (trailing /) or a glob (* ** ?)
///     line: 12                       # optional
///     reason: a fake key the tests plant
/// ```
public struct SecretAllowlist: Sendable, Equatable {
    /// One accepted finding or family of findings.
    public struct Entry: Sendable, Equatable {
        public var rule: String
        public var path: String
        public var line: Int?
        public var reason: String

        public init(rule: String, path: String, line: Int? = nil, reason: String) {
            self.rule = rule
            self.path = path
            self.line = line
            self.reason = reason
        }

        public func matches(_ finding: SecretFinding) -> Bool {
            guard rule == "*" || rule == finding.rule else { return false }
            if let line, line != finding.line { return false }
            if path.contains(where: { "*?".contains($0) }) { return GlobPattern(path).matches(finding.file) }
            return Git.path(finding.file, isUnder: path)
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = entries
    }

    /// The entry accepting `finding`, if any.
    public func entry(accepting finding: SecretFinding) -> Entry? {
        entries.first { $0.matches(finding) }
    }

    /// Reads the allowlist at `path`; `displayPath` is how errors name it.
    public static func load(path: String, displayPath: String) throws(ConfigError) -> SecretAllowlist {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                code: .unreadable, file: displayPath, keyPath: "", line: nil,
                message: "cannot read the allowlist; create it or remove security.secret-scan.allowlist")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: displayPath)
    }

    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> SecretAllowlist {
        let root: Yams.Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return SecretAllowlist() }
            root = node
        } catch let error as YamlError {
            throw ConfigError(code: .syntax, file: file, keyPath: "", line: error.line, message: "invalid YAML: \(error.problem)")
        } catch {
            throw ConfigError(code: .syntax, file: file, keyPath: "", line: nil, message: "invalid YAML: \(error)")
        }
        let value = YAMLValue(node: root, file: file, path: "")
        _ = try value.mapping(allowed: ["allow"])
        var entries: [Entry] = []
        for item in try value.optional("allow")?.list() ?? [] {
            _ = try item.mapping(allowed: ["rule", "path", "line", "reason"])
            let line = try item.optional("line")
            let entry = Entry(
                rule: try item.required("rule").nonEmptyString(),
                path: try item.required("path").relativePath(),
                line: try line?.int(),
                reason: try item.required("reason").nonEmptyString())
            if let number = entry.line, number < 1 { throw line!.error(.invalidValue, "line numbers start at 1") }
            entries.append(entry)
        }
        return SecretAllowlist(entries: entries)
    }
}
