import Foundation

/// The outcome of one node.
public enum NodeStatus: String, Sendable, Codable, CaseIterable {
    case passed
    /// Not run: a passed result with the same cache key was reused.
    case cached
    case failed
    /// An attempt exceeded the node's timeout.
    case timedOut = "timed-out"
    /// Not run: a gate it depends on failed.
    case blocked
    /// Not run: its condition, a selection, a missing approval or a skipped dependency said so.
    case skipped
    /// Interrupted, or never started because the run was interrupted.
    case cancelled
    /// `plan` only: the node would run.
    case wouldRun = "would-run"
    /// Not run: its output was produced elsewhere and loaded (`run --outputs-dir`).
    case external

    /// Whether the status counts as a failure of the node.
    public var isFailure: Bool { self == .failed || self == .timedOut }
}

/// What happened to one node in a run.
public struct NodeResult: Sendable, Codable {
    public var status: NodeStatus
    /// Why it was skipped, blocked, failed or cancelled.
    public var reason: String?
    /// For failures: the classification of the last error.
    public var failureKind: StageFailure.Kind?
    /// How many attempts were made (retries included).
    public var attempts: Int
    public var started: Date?
    public var finished: Date?
    /// Wall time in seconds; 0 when the node did not run.
    public var duration: Double
    /// The cache key of the node when it declares one.
    public var cacheKey: String?

    public init(
        status: NodeStatus, reason: String? = nil, failureKind: StageFailure.Kind? = nil, attempts: Int = 0, started: Date? = nil, finished: Date? = nil,
        duration: Double = 0, cacheKey: String? = nil
    ) {
        self.status = status
        self.reason = reason
        self.failureKind = failureKind
        self.attempts = attempts
        self.started = started
        self.finished = finished
        self.duration = duration
        self.cacheKey = cacheKey
    }
}

/// The verdict of a whole run.
public enum RunStatus: String, Sendable, Codable {
    case passed
    /// A gate failed.
    case failed
    case cancelled
}

/// The outcome of running (or planning) a graph.
public struct RunResult: Sendable {
    public let status: RunStatus
    /// Results in the graph's topological order.
    public let results: [(id: NodeID, policy: NodePolicy, result: NodeResult)]
    public let outputs: Outputs
    /// Encoded outputs (secrets removed), by node.
    public let encodedOutputs: [NodeID: Data]
    public let started: Date
    public let finished: Date

    public subscript(_ id: NodeID) -> NodeResult? {
        results.first { $0.id == id }?.result
    }

    /// Whether a failed gate is due to the environment rather than the verdict of a check: an infrastructure
    /// failure, or a transient one that outlasted its retries.
    public var hasInfrastructureFailure: Bool {
        results.contains { result in
            result.result.status.isFailure && result.policy.kind != .allowFailure
                && (result.result.failureKind == .infrastructure || result.result.failureKind == .transient)
        }
    }
}

/// Follows a run as it happens; the terminal and CI reporters implement it.
public protocol RunObserver: Sendable {
    /// `log` is the node's log, whose ``NodeLog/progress`` tells how far its tool has got.
    func nodeStarted(_ id: NodeID, at date: Date, log: NodeLog?)
    func nodeFinished(_ id: NodeID, policy: NodePolicy, result: NodeResult, log: NodeLog?)
}
