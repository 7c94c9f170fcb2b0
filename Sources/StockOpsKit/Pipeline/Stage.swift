/// A unit of pipeline work producing a typed, recordable output.
///
/// A stage reads the outputs of the nodes it depends on through ``StageRef`` handles it holds,
/// so a dependency of the wrong type does not compile.
public protocol Stage: Sendable {
    /// What the stage produces; stored in the run record and the cache.
    associatedtype Output: Codable & Sendable

    /// The nodes whose outputs this stage reads. They become edges of the graph.
    var dependencies: [NodeID] { get }

    /// Performs the work. Throw ``StageFailure`` to classify the failure (transient errors are retried).
    func run(_ context: StageContext) async throws -> Output
}

extension Stage {
    public var dependencies: [NodeID] { [] }
}

/// A typed handle on the output of a node.
public struct StageRef<Output: Codable & Sendable>: Hashable, Sendable {
    public let id: NodeID

    public init(_ id: NodeID) {
        self.id = id
    }
}

/// A stage whose output is `Void`-like, for work that only passes or fails.
public struct Done: Codable, Sendable, Equatable {
    public init() {}
}

/// A failure raised by a stage, classified so the scheduler knows whether to retry it
/// and how the CLI should exit.
public struct StageFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The work ran and its verdict is negative (failed test, found vulnerability). Never retried.
        case failed
        /// A network error, HTTP 5xx or 429: worth retrying.
        case transient
        /// The environment is broken: missing tool, unreachable server.
        case infrastructure
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func failed(_ message: String) -> StageFailure { StageFailure(.failed, message) }
    public static func transient(_ message: String) -> StageFailure { StageFailure(.transient, message) }
    public static func infrastructure(_ message: String) -> StageFailure { StageFailure(.infrastructure, message) }

    public var description: String { message }
}

/// Errors from other layers can declare their kind by conforming to this protocol.
public protocol ClassifiedError: Error {
    var failureKind: StageFailure.Kind { get }
}

extension StageFailure: ClassifiedError {
    public var failureKind: Kind { kind }
}
