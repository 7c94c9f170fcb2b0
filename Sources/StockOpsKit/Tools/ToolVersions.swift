import Foundation

/// A tool's `--version` output for cache keys, remembered by the binary's resolved path, size and modification time
/// (`<cache>/tool-versions.json`), so a plan does not start every tool (semgrep is a Python start-up) to learn what
/// it learnt last time. A replaced binary has another size or time, and is asked again.
public enum ToolVersions {
    /// The output of `command` (a version query), from memory when the binary is unchanged.
    public static func output(of command: Command, runner: ProcessRunner, cacheDirectory: String?) async throws -> String {
        guard let cacheDirectory, let identity = identity(of: command) else { return try await ask(command, runner) }
        let file = cacheDirectory + "/tool-versions.json"
        if let known = Remembered.shared.value(identity, file: file) { return known }
        let output = try await ask(command, runner)
        Remembered.shared.store(output, for: identity, file: file)
        return output
    }

    static func ask(_ command: Command, _ runner: ProcessRunner) async throws -> String {
        try await runner.run(command).check(command.displayString, kind: .infrastructure).output
    }

    /// `argv`, then the binary's real path, size and modification time; nil when the binary cannot be found.
    static func identity(of command: Command) -> String? {
        guard let path = resolve(command.executable, path: command.environment["PATH"] ?? RunEnvironment.process.path) else {
            return nil
        }
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var info = stat()
        guard stat(real, &info) == 0 else { return nil }
        return ([command.executable] + command.arguments).joined(separator: " ")
            + "\u{0}\(real)\u{0}\(info.st_size)\u{0}\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    static func resolve(_ executable: String, path: String) -> String? {
        if executable.contains("/") { return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil }
        return path.split(separator: ":").map { "\($0)/\(executable)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The remembered outputs, read once per process and written back whole (a lost race asks the tool again).
    final class Remembered: @unchecked Sendable {
        static let shared = Remembered()
        private let lock = NSLock()
        private var loaded: [String: [String: String]] = [:]

        func value(_ identity: String, file: String) -> String? {
            lock.withLock { table(file)[identity] }
        }

        func store(_ output: String, for identity: String, file: String) {
            lock.withLock {
                var entries = table(file)
                entries[identity] = output
                loaded[file] = entries
                // A cache that cannot be written costs asking the tool again next time, nothing else.
                guard let data = try? JSONEncoder().encode(entries) else { return }
                // An unwritable cache location keeps the entry in memory for this run only; the tool is asked again next run.
                try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
            }
        }

        private func table(_ file: String) -> [String: String] {
            if let entries = loaded[file] { return entries }
            // A missing or unreadable cache is empty: the tools are asked again.
            let entries = FileManager.default.contents(atPath: file).flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
            loaded[file] = entries
            return entries
        }
    }
}
