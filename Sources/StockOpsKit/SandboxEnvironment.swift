import Foundation

/// `.stockops/sandbox.env`, written by `stockops sandbox up`: the Vault address, AppRole id files, registry
/// and Docker engine of the local sandbox. Variables already set in the process win.
public enum SandboxEnvironment {
    public static func path(root: String) -> String { root + "/.stockops/sandbox.env" }

    /// The `NAME=value` lines of the file; comments and blank lines are ignored.
    public static func parse(_ text: String) -> [(String, String)] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { return nil }
            let name = String(trimmed[..<equals])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            return (name, String(trimmed[trimmed.index(after: equals)...]))
        }
    }

    /// `environment` with every variable of the sandbox file under `root` that it does not set yet.
    public static func merged(into environment: [String: String], root: String) -> [String: String] {
        // No sandbox file means no sandbox is up: nothing to add.
        guard let text = try? String(contentsOfFile: path(root: root), encoding: .utf8) else { return environment }
        var merged = environment
        for (name, value) in parse(text) where merged[name] == nil { merged[name] = value }
        return merged
    }
}
