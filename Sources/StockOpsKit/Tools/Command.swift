import Foundation

/// A tool invocation as a pure value: an executable, an argv array and an explicit environment. Never a shell string.
public struct Command: Sendable, Equatable, Hashable {
    /// A bare name looked up in `PATH`, or a path containing `/`.
    public var executable: String
    public var arguments: [String]
    /// The complete environment of the child; nothing else is inherited.
    public var environment: [String: String]
    public var workingDirectory: String?
    /// What the child reads on standard input (a password for `--password-stdin`); `/dev/null` when nil.
    public var standardInput: Secret?

    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = Command.baseEnvironment(), workingDirectory: String? = nil,
        standardInput: Secret? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInput = standardInput
    }

    /// The variables that point the docker CLI at an engine.
    public static let dockerVariables = ["DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"]

    /// ``baseEnvironment(adding:)`` plus the ``dockerVariables`` that `environment` sets: what a docker command needs.
    public static func dockerEnvironment(from environment: RunEnvironment) -> [String: String] {
        baseEnvironment().merging(environment.passing(dockerVariables)) { $1 }
    }

    /// ``baseEnvironment(adding:)`` with `names`, each taken from `environment` when it sets it, else from this process.
    public static func baseEnvironment(adding names: [String], from environment: RunEnvironment) -> [String: String] {
        baseEnvironment(adding: names).merging(environment.passing(names)) { $1 }
    }

    /// The variables every tool needs (`PATH`, `HOME`, locale, temp dir) and `names`, taken from this process.
    public static func baseEnvironment(adding names: [String] = []) -> [String: String] {
        RunEnvironment.process.passing(["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TERM"] + names)
    }

    /// The argv for display in logs (quoted where needed); never executed by a shell.
    public var displayString: String {
        ([executable] + arguments).map { argument in
            argument.isEmpty || argument.contains(where: { " \"'$\\`*?&;|<>()".contains($0) })
                ? "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
                : argument
        }.joined(separator: " ")
    }
}

/// How a process ended, with the tail of its combined stdout/stderr.
public struct ProcessResult: Sendable {
    public let pid: Int32
    /// The exit status, or nil when it was killed by a signal.
    public let exitStatus: Int32?
    /// The signal that ended it, if any.
    public let signal: Int32?
    /// Combined stdout and stderr, keeping at most the runner's `outputLimit` last bytes.
    public let output: String
    /// Whether `output` lost its beginning to the limit.
    public let truncated: Bool

    public var succeeded: Bool { exitStatus == 0 }

    /// Throws ``StageFailure`` unless the process exited with 0.
    @discardableResult
    public func check(_ what: String, kind: StageFailure.Kind = .failed) throws -> ProcessResult {
        guard !succeeded else { return self }
        let how = exitStatus.map { "exited with \($0)" } ?? "was killed by signal \(signal ?? 0)"
        let tail = output.split(separator: "\n").suffix(5).joined(separator: "\n")
        throw StageFailure(kind, "\(what) \(how)" + (tail.isEmpty ? "" : ":\n\(tail)"))
    }
}

/// A process could not be started.
public struct ProcessError: Error, Sendable, ClassifiedError, CustomStringConvertible {
    public enum Code: String, Sendable {
        case toolMissing = "tool-missing"
        case spawnFailed = "spawn-failed"
    }

    public let code: Code
    public let message: String
    public var failureKind: StageFailure.Kind { .infrastructure }
    public var description: String { message }
}
