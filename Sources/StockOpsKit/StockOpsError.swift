import Foundation

/// How the `stockops` process exits.
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// A gate failed.
    case gateFailed = 1
    /// Wrong usage or configuration.
    case usage = 2
    /// A tool is missing or a server unreachable.
    case infrastructure = 3
    /// The environment is locked by another deploy, rollback or maintenance.
    case locked = 4
    /// SIGINT or SIGTERM.
    case interrupted = 130
}

/// An error the CLI reports before or outside a run: what was wrong and what to do.
public struct StockOpsError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case usage
        case config
        /// A check failed: what was asked for is not so (a service not serving, no container to read).
        case gate
        case infrastructure
        /// Someone else holds the environment's lock.
        case locked
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public var exitStatus: ExitStatus {
        switch code {
        case .usage, .config: .usage
        case .gate: .gateFailed
        case .infrastructure: .infrastructure
        case .locked: .locked
        }
    }
}

/// What an operation returns when it decides how its command exits (a run's failed gate, a status's drift).
public protocol CommandOutcome: Sendable {
    var exitStatus: ExitStatus { get }
}
