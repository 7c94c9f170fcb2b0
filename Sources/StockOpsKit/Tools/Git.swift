import Foundation

/// Argv builders for `git` and parsers of its output. Pure values; ``ProcessRunner`` executes them.
public struct Git: Sendable, Equatable {
    /// The repository's working directory.
    public var repository: String
    public var environment: [String: String]
    /// The executable, `git` unless configured.
    public var executable: String

    public init(repository: String, environment: [String: String] = Command.baseEnvironment(), executable: String = "git") {
        self.repository = repository
        self.environment = environment
        self.executable = executable
    }

    private func git(_ arguments: [String]) -> Command {
        Command(executable, ["-C", repository] + arguments, environment: environment)
    }

    /// `git --version`, checked against ``ToolRequirements`` (2.30 for `--end-of-options`).
    public func version() -> Command {
        Command(executable, ["--version"], environment: environment)
    }

    /// Resolves `revision` to a commit SHA (exit 1, no output, when it does not exist).
    public func resolveCommit(_ revision: String) -> Command {
        git(["rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"])
    }

    /// The committer time of `revision`, in seconds since the epoch (`SOURCE_DATE_EPOCH` of a reproducible build).
    public func commitTime(_ revision: String) -> Command {
        git(["log", "-1", "--format=%ct", "--end-of-options", revision])
    }

    public func mergeBase(_ first: String, _ second: String) -> Command {
        git(["merge-base", "--end-of-options", first, second])
    }

    /// Files differing between `base` and the working tree, NUL-separated.
    public func changedFiles(since base: String) -> Command {
        git(["diff", "--name-only", "--no-renames", "-z", base, "--"])
    }

    /// Untracked files not ignored, NUL-separated.
    public func untrackedFiles() -> Command {
        git(["ls-files", "--others", "--exclude-standard", "-z"])
    }

    /// Index entries (`mode blob stage\tpath`) under `paths`, NUL-separated.
    public func indexEntries(_ paths: [String]) -> Command {
        git(["ls-files", "--stage", "-z", "--"] + paths)
    }

    /// Files under `paths` whose working copy differs from the index, or that are untracked.
    public func dirtyFiles(_ paths: [String]) -> Command {
        git(["ls-files", "--modified", "--others", "--exclude-standard", "-z", "--"] + paths)
    }

    /// Blob hashes of working-tree files, one per line.
    public func hashObjects(_ files: [String]) -> Command {
        git(["hash-object", "--"] + files)
    }

    /// Splits NUL-separated output, dropping empty entries.
    public static func parseNULSeparated(_ output: String) -> [String] {
        output.split(separator: "\0").map(String.init).filter { !$0.isEmpty }
    }

    /// Splits line-separated output, trimming whitespace.
    public static func parseLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Whether `file` lies under `path` (a directory when it ends in `/`, else a file or directory).
    public static func path(_ file: String, isUnder path: String) -> Bool {
        if path.hasSuffix("/") { return file.hasPrefix(path) }
        return file == path || file.hasPrefix(path + "/")
    }

    /// A fingerprint of the content under `paths`: index blob hashes plus hashes of uncommitted changes.
    public func fingerprint(_ paths: [String], runner: ProcessRunner) async throws -> String {
        let index = try await runner.run(indexEntries(paths)).check("git ls-files --stage", kind: .infrastructure)
        let dirty = Git.parseNULSeparated(try await runner.run(dirtyFiles(paths)).check("git ls-files --modified", kind: .infrastructure).output)
        var parts = [index.output]
        let present = Set(dirty).sorted().filter { FileManager.default.fileExists(atPath: repository + "/" + $0) }
        let deleted = Set(dirty).subtracting(present).sorted()
        if !present.isEmpty {
            let hashes = try await runner.run(hashObjects(present)).check("git hash-object", kind: .infrastructure).output
            parts.append(zip(present, Git.parseLines(hashes)).map { "\($0) \($1)" }.joined(separator: "\n"))
        }
        parts.append(deleted.map { "deleted \($0)" }.joined(separator: "\n"))
        return Digest.sha256(parts.joined(separator: "\u{1}")).hex
    }
}
