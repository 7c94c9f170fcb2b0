import Foundation

/// `environments.<env>.canary`: how a deploy with `strategy: canary` lets a new version earn its traffic. The new version
/// gets `weight` percent of every service's requests through the proxy for up to `window` seconds while its `/metrics`
/// are compared with the stable version's; it is promoted (all traffic) or rolled back (none) by that analysis, or by a
/// person through `stockops rollout promote|abort`.
public struct CanaryPolicy: Sendable, Equatable, Codable {
    /// Percent of requests sent to the canary (1–50).
    public var weight: Int
    /// Seconds of analysis before the canary is promoted (5–3600).
    public var window: Int
    /// Percentage points the canary's 5xx rate may exceed the stable version's.
    public var maxErrorRateIncrease: Double
    /// How many times the stable version's p99 (at least ``p99Floor``) the canary's p99 may reach.
    public var maxP99Ratio: Double
    /// Requests the canary must have answered before its figures are judged; with fewer at the end of the window the
    /// analysis is inconclusive and the canary is promoted on its smoke test, as the `switch` strategy would.
    public var minimumRequests: Int

    /// Below this, p99 differences are noise: latency is judged against at least 10 ms.
    public static let p99Floor = 0.010
    /// Requests each version must have answered after the warm-up before p99 is judged: with fewer, p99 is the slowest
    /// request.
    public static let p99Sample = 100

    /// Seconds at the start of the window whose requests p99 leaves out: a quarter of it. A new process opens its
    /// database connections and prepares its statements on its first requests, and on a busy host those few would be
    /// its p99.
    public var latencyWarmUp: Double { Double(window) / 4 }

    public init(weight: Int = 10, window: Int = 120, maxErrorRateIncrease: Double = 1, maxP99Ratio: Double = 2, minimumRequests: Int = 20) {
        self.weight = weight
        self.window = window
        self.maxErrorRateIncrease = maxErrorRateIncrease
        self.maxP99Ratio = maxP99Ratio
        self.minimumRequests = minimumRequests
    }

    static func decode(_ node: YAMLValue?) throws(ConfigError) -> CanaryPolicy {
        var policy = CanaryPolicy()
        guard let node else { return policy }
        _ = try node.mapping(allowed: ["weight", "window", "max-error-rate-increase", "max-p99-ratio", "min-requests"])
        if let value = try node.optional("weight") {
            policy.weight = try value.int()
            guard (1...50).contains(policy.weight) else { throw value.error(.invalidValue, "must be a percentage from 1 to 50") }
        }
        if let value = try node.optional("window") {
            policy.window = try value.int()
            guard (5...3600).contains(policy.window) else { throw value.error(.invalidValue, "must be from 5 to 3600 seconds") }
        }
        if let value = try node.optional("max-error-rate-increase") {
            policy.maxErrorRateIncrease = try value.double()
            guard (0...100).contains(policy.maxErrorRateIncrease) else { throw value.error(.invalidValue, "must be from 0 to 100 percentage points") }
        }
        if let value = try node.optional("max-p99-ratio") {
            policy.maxP99Ratio = try value.double()
            guard policy.maxP99Ratio >= 1 else { throw value.error(.invalidValue, "must be at least 1") }
        }
        if let value = try node.optional("min-requests") {
            policy.minimumRequests = try value.int()
            guard policy.minimumRequests >= 1 else { throw value.error(.invalidValue, "must be at least 1") }
        }
        return policy
    }
}

/// What one version of one service answered during a canary, from the difference of two `/metrics` scrapes.
public struct CanaryFigures: Codable, Sendable, Equatable {
    public var requests: Int
    /// Answers with a status of 500 or above.
    public var errors: Int
    /// The 99th percentile latency in milliseconds, interpolated within its histogram bucket as Prometheus'
    /// `histogram_quantile` does; nil without requests.
    public var p99Milliseconds: Double?

    public init(requests: Int, errors: Int, p99Milliseconds: Double?) {
        self.requests = requests
        self.errors = errors
        self.p99Milliseconds = p99Milliseconds
    }

    /// Percent of requests that failed.
    public var errorRate: Double { requests == 0 ? 0 : Double(errors) * 100 / Double(requests) }

    public var summary: String {
        "\(requests) requests, \(errors) 5xx (\(String(format: "%.1f", errorRate)) %)" + (p99Milliseconds.map { ", p99 \(Self.milliseconds($0))" } ?? "")
    }

    static func milliseconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1f ms", value) : String(format: "%.0f ms", value)
    }
}

/// A canary's analysis: the figures of both versions per service and what was decided, recorded in the ledger.
public struct CanaryAnalysis: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        /// The canary took all traffic.
        case promoted
        /// The canary lost its share of the traffic and its containers were removed.
        case rolledBack = "rolled-back"
    }

    public struct ServiceFigures: Codable, Sendable, Equatable {
        public var stable: CanaryFigures
        public var canary: CanaryFigures
    }

    public var weight: Int
    public var windowSeconds: Int
    public var elapsedSeconds: Double
    public var verdict: Verdict
    /// `analysis`, or the person who ran `stockops rollout promote|abort`.
    public var decidedBy: String
    public var reason: String
    public var services: [String: ServiceFigures]
}

/// Prometheus text-format samples of the services' request metrics (`http_requests_total`,
/// `http_request_duration_seconds_bucket`), summed per status class and latency bucket over every route except the
/// ones the proxy and stockops poll (health and metrics).
public struct RequestMetrics: Sendable, Equatable {
    public var requests = 0
    public var errors = 0
    /// Cumulative count per bucket upper bound (seconds), `+Inf` as infinity.
    public var buckets: [Double: Int] = [:]

    public init() {}

    /// Parses `/metrics` text; `ignoredRoutes` are left out.
    public static func parse(_ text: String, ignoredRoutes: Set<String>) -> RequestMetrics {
        var metrics = RequestMetrics()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { continue }
            let name = line[..<brace]
            guard name == "http_requests_total" || name == "http_request_duration_seconds_bucket" else { continue }
            let labels = parseLabels(line[line.index(after: brace)..<close])
            guard let route = labels["route"], !ignoredRoutes.contains(route),
                let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)), value.isFinite
            else { continue }
            let count = Int(value)
            if name == "http_requests_total" {
                metrics.requests += count
                if let status = labels["status"].flatMap(Int.init), status >= 500 { metrics.errors += count }
            } else if let bound = labels["le"].flatMap({ $0 == "+Inf" ? Double.infinity : Double($0) }) {
                metrics.buckets[bound, default: 0] += count
            }
        }
        return metrics
    }

    /// `key="value",…` with the text format's escapes (`\\`, `\"`, `\n`).
    static func parseLabels(_ text: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        var index = text.startIndex
        while index < text.endIndex {
            guard let equals = text[index...].firstIndex(of: "=") else { break }
            let key = text[index..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var cursor = text.index(after: equals)
            guard cursor < text.endIndex, text[cursor] == "\"" else { break }
            cursor = text.index(after: cursor)
            var value = ""
            while cursor < text.endIndex, text[cursor] != "\"" {
                if text[cursor] == "\\", text.index(after: cursor) < text.endIndex {
                    cursor = text.index(after: cursor)
                    value.append(text[cursor] == "n" ? "\n" : text[cursor])
                } else {
                    value.append(text[cursor])
                }
                cursor = text.index(after: cursor)
            }
            labels[key] = value
            index = cursor < text.endIndex ? text.index(after: cursor) : cursor
        }
        return labels
    }

    /// What was answered between `earlier` and this scrape; a process that restarted in between counts from zero.
    public func since(_ earlier: RequestMetrics) -> CanaryFigures {
        let restarted = requests < earlier.requests
        let base = restarted ? RequestMetrics() : earlier
        let count = requests - base.requests
        var p99: Double?
        if count > 0 {
            let rank = Double(count) * 0.99
            var lower = (bound: 0.0, count: 0.0)
            for bound in buckets.keys.sorted() {
                let cumulative = Double((buckets[bound] ?? 0) - (base.buckets[bound] ?? 0))
                if cumulative >= rank {
                    // In the +Inf bucket the highest finite bound is all that is known.
                    p99 = bound.isFinite ? lower.bound + (bound - lower.bound) * (rank - lower.count) / max(cumulative - lower.count, 1) : lower.bound
                    break
                }
                lower = (bound, cumulative)
            }
        }
        return CanaryFigures(requests: count, errors: errors - base.errors, p99Milliseconds: p99.map { ($0 * 1_000_000).rounded() / 1000 })
    }
}

extension CanaryPolicy {
    /// Why the canary's figures are worse than the stable version's beyond this policy; nil when they are not, or when
    /// the canary has not answered ``minimumRequests`` yet. The 5xx rate is judged every time on the figures since the
    /// canary started; p99 only on `afterWarmUp`, the figures since ``latencyWarmUp``, given at the end of the window,
    /// and when both versions answered ``p99Sample`` requests in them.
    public func failure(service: String, stable: CanaryFigures, canary: CanaryFigures, afterWarmUp: CanaryAnalysis.ServiceFigures?) -> String? {
        guard canary.requests >= minimumRequests else { return nil }
        if canary.errorRate - stable.errorRate > maxErrorRateIncrease {
            return
                "\(service): the canary answered \(String(format: "%.1f", canary.errorRate)) % 5xx (\(canary.errors) of \(canary.requests)), the stable version "
                + "\(String(format: "%.1f", stable.errorRate)) % (\(stable.errors) of \(stable.requests)); at most \(String(format: "%g", maxErrorRateIncrease)) points more are allowed"
        }
        if let latency = afterWarmUp, latency.canary.requests >= Self.p99Sample, latency.stable.requests >= Self.p99Sample,
            let canaryP99 = latency.canary.p99Milliseconds
        {
            let limit = maxP99Ratio * max(latency.stable.p99Milliseconds ?? 0, Self.p99Floor * 1000)
            if canaryP99 > limit {
                return
                    "\(service): after the first \(String(format: "%g", latencyWarmUp)) s, the canary's p99 is \(CanaryFigures.milliseconds(canaryP99)), over "
                    + "\(String(format: "%g", maxP99Ratio))× the stable version's \(latency.stable.p99Milliseconds.map(CanaryFigures.milliseconds) ?? "none") "
                    + "(limit \(CanaryFigures.milliseconds(limit)))"
            }
        }
        return nil
    }
}

/// Both versions' request metrics per service, from one scrape of their `/metrics`.
public typealias CanaryScrape = [String: (stable: RequestMetrics, canary: RequestMetrics)]

/// The judgement of one canary, fed the scrape taken before it got traffic and then one a second: 5xx rates count
/// from the first, p99 from the first scrape after the policy's ``CanaryPolicy/latencyWarmUp``.
public struct CanaryJudge {
    public enum Outcome: Equatable, Sendable {
        case failed(String)
        case passed(String)
    }

    public let policy: CanaryPolicy
    private let baseline: CanaryScrape
    private var warmedUp: CanaryScrape?
    /// Each service's figures since the baseline, as of the last scrape.
    public private(set) var figures: [String: CanaryAnalysis.ServiceFigures] = [:]

    public init(policy: CanaryPolicy, baseline: CanaryScrape) {
        self.policy = policy
        self.baseline = baseline
    }

    /// The outcome once `scrape`, taken `elapsed` seconds after the canary started, is counted; nil while it runs on.
    public mutating func judge(_ scrape: CanaryScrape, elapsed: Double) -> Outcome? {
        for (service, now) in scrape {
            if let figures = Self.difference(now, since: baseline[service]) { self.figures[service] = figures }
        }
        if warmedUp == nil, elapsed >= policy.latencyWarmUp { warmedUp = scrape }
        let windowEnded = elapsed >= Double(policy.window)
        for service in figures.keys.sorted() {
            let afterWarmUp = windowEnded ? Self.difference(scrape[service], since: warmedUp?[service]) : nil
            if let failure = policy.failure(service: service, stable: figures[service]!.stable, canary: figures[service]!.canary, afterWarmUp: afterWarmUp) {
                return .failed(failure)
            }
        }
        guard windowEnded else { return nil }
        let answered = figures.values.map(\.canary.requests).reduce(0, +)
        return answered < policy.minimumRequests
            ? .passed(
                "inconclusive: \(answered) requests reached the canary in \(policy.window) s (min-requests \(policy.minimumRequests)); promoted on its smoke test"
            )
            : .passed("within the limits for \(policy.window) s")
    }

    private static func difference(
        _ now: (stable: RequestMetrics, canary: RequestMetrics)?, since earlier: (stable: RequestMetrics, canary: RequestMetrics)?
    ) -> CanaryAnalysis.ServiceFigures? {
        guard let now, let earlier else { return nil }
        return CanaryAnalysis.ServiceFigures(stable: now.stable.since(earlier.stable), canary: now.canary.since(earlier.canary))
    }
}

/// A canary in progress, as the deploy running it writes it to `<state>/proxy/<project>/rollout.json` every second, and
/// the decision a person takes with `stockops rollout promote|abort` (`rollout-decision.json`), which that deploy reads.
public struct RolloutState: Codable, Sendable, Equatable {
    public var environment: Environment
    public var tag: String
    public var canarySlot: Slot
    public var stableSlot: Slot
    public var stableTag: String?
    public var weight: Int
    public var windowSeconds: Int
    public var started: Date
    public var elapsedSeconds: Double
    /// The process of the deploy running the canary.
    public var pid: Int32
    public var services: [String: CanaryAnalysis.ServiceFigures]

    public struct Decision: Codable, Sendable, Equatable {
        public enum Action: String, Codable, Sendable {
            case promote, abort
        }

        public var action: Action
        public var actor: String
        public var time: Date

        public init(action: Action, actor: String, time: Date = Date()) {
            self.action = action
            self.actor = actor
            self.time = time
        }
    }
}

extension RolloutState {
    /// `canary: dev-ccccccc in the green slot gets 10 % of the requests, 12 of 120 s (stable: …)`, then each service's figures.
    public var summary: String {
        var text = "canary:      \(tag) in the \(canarySlot.rawValue) slot gets \(weight) % of the requests, \(Int(elapsedSeconds)) of \(windowSeconds) s"
        text += " (stable: \(stableTag ?? "?") in the \(stableSlot.rawValue) slot)"
        if !services.isEmpty { text += "\n             " + Deployer.describe(services) }
        return text
    }
}

extension TrafficProxy {
    var rolloutPath: String { directory + "/rollout.json" }
    var decisionPath: String { directory + "/rollout-decision.json" }

    /// The canary in progress (or left behind by a deploy that was killed); nil when there is none.
    public func rollout() -> RolloutState? {
        guard let data = FileManager.default.contents(atPath: rolloutPath) else { return nil }
        // Written whole through a rename: a file that does not decode (another stockops version's) reads as no canary.
        return try? Self.decoder.decode(RolloutState.self, from: data)
    }

    func recordRollout(_ state: RolloutState) throws {
        try write(try Self.encoder.encode(state), to: rolloutPath)
    }

    /// Asks the deploy running the canary to promote or abort it.
    public func decide(_ decision: RolloutState.Decision) throws {
        try write(try Self.encoder.encode(decision), to: decisionPath)
    }

    func decision() -> RolloutState.Decision? {
        guard let data = FileManager.default.contents(atPath: decisionPath) else { return nil }
        // Written whole through a rename: a decision that does not decode counts as none, and the `rollout` command waiting on it times out.
        return try? Self.decoder.decode(RolloutState.Decision.self, from: data)
    }

    func clearRollout() {
        unlink(decisionPath)
        unlink(rolloutPath)
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
