import Foundation

/// Argv builders for a clone of an infrastructure repository that stockops edits, commits and pushes. Pure values.
///
/// Every command has `GIT_TERMINAL_PROMPT=0` (a missing credential fails instead of waiting for input).
/// An HTTPS token reaches git as an `http.extraHeader` in `GIT_CONFIG_*` variables, never in argv or a URL.
public struct GitWorkspace: Sendable, Equatable {
    /// The clone's directory.
    public var directory: String
    public var environment: [String: String]

    public init(directory: String, environment: [String: String] = Command.baseEnvironment()) {
        self.directory = directory
        var environment = environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        self.environment = environment
    }

    /// The variables that make git send `Authorization: Basic base64(x-access-token:TOKEN)` to the remote.
    public static func authenticationEnvironment(token: Secret) -> [String: String] {
        let basic = Data("x-access-token:\(token.reveal())".utf8).base64EncodedString()
        Secret(basic).registered()
        return ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "Authorization: Basic \(basic)"]
    }

    /// The variables naming the author and committer of new commits.
    public static func identityEnvironment(name: String, email: String) -> [String: String] {
        ["GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email]
    }

    private func git(_ arguments: [String]) -> Command {
        Command("git", ["-C", directory] + arguments, environment: environment)
    }

    /// `git clone --branch BRANCH --single-branch -- URL DIRECTORY` (full history: rollbacks read it).
    public func clone(_ url: String, branch: String) -> Command {
        Command("git", ["clone", "--quiet", "--branch", branch, "--single-branch", "--", url, directory], environment: environment)
    }

    public func add(_ path: String) -> Command {
        git(["add", "--", path])
    }

    /// `git commit --file MESSAGE_FILE` of what is staged: unsigned, without hooks.
    public func commit(messageFile: String) -> Command {
        git(["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "--file", messageFile])
    }

    /// `git push origin HEAD:refs/heads/BRANCH`.
    public func push(branch: String) -> Command {
        git(["push", "--quiet", "--porcelain", "origin", "HEAD:refs/heads/" + branch])
    }

    /// `git fetch origin BRANCH`, then ``resetToFetched()`` to start over from the remote's head.
    public func fetch(branch: String) -> Command {
        git(["fetch", "--quiet", "origin", "refs/heads/\(branch)"])
    }

    public func resetToFetched() -> Command {
        git(["reset", "--quiet", "--hard", "FETCH_HEAD"])
    }

    public func head() -> Command {
        git(["rev-parse", "--verify", "HEAD^{commit}"])
    }

    /// Commits touching `path`, newest first: `%H` per line.
    public func history(of path: String) -> Command {
        git(["log", "--format=%H", "--", path])
    }

    /// The content of `path` at `commit`.
    public func show(_ path: String, at commit: String) -> Command {
        git(["show", "\(commit):\(path)"])
    }

    /// Whether a failed push was refused because the remote moved on (someone else pushed first).
    public static func isRejectedAsStale(_ output: String) -> Bool {
        ["[rejected]", "non-fast-forward", "fetch first", "stale info", "failed to update ref", "cannot lock ref"].contains { output.contains($0) }
    }

    /// Whether a failed clone, fetch or push could not reach the remote (worth retrying).
    public static func isUnreachable(_ output: String) -> Bool {
        [
            "Could not resolve host", "Connection refused", "Connection timed out", "Operation timed out", "unable to access",
            "Could not read from remote repository", "The remote end hung up",
        ].contains { output.localizedCaseInsensitiveContains($0) }
    }
}
