/// How the scheduler treats a node.
public struct NodePolicy: Sendable {
    /// What a node's outcome means for the rest of the run.
    public enum Kind: String, Sendable, Codable {
        /// A failure blocks every dependent and fails the run.
        case gate
        /// A failure is reported but blocks nothing and does not fail the run.
        case allowFailure = "allow-failure"
        /// Runs only when approved (`--approve NODE`); otherwise it and its dependents are skipped.
        case manual
        /// Always runs once its dependencies are settled: after failure, blocking or cancellation.
        case finally
    }

    public var kind: Kind
    /// The limit of a single attempt.
    public var timeout: Duration?
    /// How many times a transient failure is retried.
    public var retries: Int
    /// Delay before the first retry; doubled for each further one.
    public var retryDelay: Duration
    /// Names of exclusive resources; two nodes sharing one never run at the same time.
    public var resources: Set<String>
    /// Whether `plan` may execute the node to learn its output (cheap, side-effect-free stages).
    public var runsInPlan: Bool
    /// Whether skipping this node skips its dependents. False for optional checks (sonar, sign) whose tool
    /// may be absent: their dependents run on, and the skip is still reported.
    public var skipPropagates: Bool

    public init(
        _ kind: Kind = .gate,
        timeout: Duration? = nil,
        retries: Int = 0,
        retryDelay: Duration = .seconds(1),
        resources: Set<String> = [],
        runsInPlan: Bool = false,
        skipPropagates: Bool = true
    ) {
        self.kind = kind
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
        self.resources = resources
        self.runsInPlan = runsInPlan
        self.skipPropagates = skipPropagates
    }

    public static let gate = NodePolicy(.gate)
    public static let allowFailure = NodePolicy(.allowFailure)
    public static let manual = NodePolicy(.manual)
    public static let finally = NodePolicy(.finally)
}
