import Foundation

/// What `stockops rollout` does with an environment's canary.
public enum RolloutAction: String, Sendable, CaseIterable {
    /// Shows the canary in progress and its figures.
    case status
    /// Gives the canary all the traffic now.
    case promote
    /// Gives the stable version all the traffic back and removes the canary.
    case abort
}

/// The canary of an environment as `rollout status` shows it. Encodes as its `--json`.
public struct RolloutStatus: CommandOutcome, Encodable {
    public var environment: Environment
    /// The canary in progress, or left behind by a deploy that is gone; nil when there is none.
    public var canary: RolloutState?
    /// Whether the deploy running the canary is still there to act on a decision.
    public var deployRunning: Bool

    /// 1 when a canary's deploy is gone (the next deploy or rollback repairs the proxy), else 0.
    public var exitStatus: ExitStatus { canary != nil && !deployRunning ? .gateFailed : .success }
}

/// What the deploy running a canary did with a `promote` or `abort`: its ledger entry. Encodes as its `--json`.
public struct RolloutDecided: Sendable, Encodable {
    public var environment: Environment
    public var action: String
    public var entry: LedgerEntry
}

extension EnvironmentRequest {
    private var proxy: TrafficProxy {
        TrafficProxy(
            stateDirectory: stateDirectory,
            project: ComposeEnvironment.command(flavor: .plugin, environment: environment, root: nil, processEnvironment: processEnvironment).projectName)
    }

    /// `stockops rollout status`: the canary a deploy is running (`rollout.json` beside the proxy's configuration).
    public func rolloutStatus() -> RolloutStatus {
        let state = proxy.rollout()
        return RolloutStatus(environment: environment, canary: state, deployRunning: state.map { !Self.isGone($0.pid) } ?? false)
    }

    /// `stockops rollout promote|abort`: asks the deploy running the canary to end it (`notice` says so), then waits up
    /// to `wait` for that deploy's ledger entry. Throws a usage error without a canary, a gate error when its deploy is
    /// gone, an infrastructure error when the deploy did not act within `wait`.
    public func decideRollout(_ action: RolloutState.Decision.Action, wait: Duration, notice: (String) -> Void) async throws(StockOpsError)
        -> RolloutDecided
    {
        let name = environment.rawValue
        let proxy = proxy
        guard let state = proxy.rollout() else {
            throw StockOpsError(
                .usage,
                "no canary in progress in \(name): nothing to \(action.rawValue). A deploy with strategy: canary runs one; `stockops rollout status --env \(name)` shows it"
            )
        }
        guard !Self.isGone(state.pid) else {
            throw StockOpsError(
                .gate,
                "the deploy that ran the canary of \(state.tag) in \(name) (pid \(state.pid)) is gone; the next deploy or `stockops rollback --env \(name) --to-previous` gives the stable slot all the traffic again"
            )
        }
        let ledger = Ledger(stateDirectory: stateDirectory, environment: environment)
        // An unreadable ledger counts as empty: any entry for the canary's tag written from now on is the answer.
        let entriesBefore = (try? ledger.read().entries.count) ?? 0
        do {
            try proxy.decide(RolloutState.Decision(action: action, actor: DeployActor.name(processEnvironment)))
        } catch {
            throw StockOpsError(.infrastructure, "cannot write the decision next to \(proxy.directory): \(error)")
        }
        notice("asked the deploy running the canary of \(state.tag) in \(name) to \(action.rawValue) it")
        // The deploy's ledger entry, written once the proxy serves the outcome, is the sign that it acted.
        let deadline = ContinuousClock.now + wait
        // A ledger that cannot be read is said when the wait ends: the deploy may still be writing it.
        var readProblem: String?
        while true {
            do {
                if let entry = try ledger.read().entries.dropFirst(entriesBefore).last(where: { $0.tag == state.tag }) {
                    return RolloutDecided(environment: environment, action: action.rawValue, entry: entry)
                }
                readProblem = nil
            } catch {
                readProblem = "\(error)"
            }
            guard ContinuousClock.now < deadline else {
                throw StockOpsError(
                    .infrastructure,
                    "the deploy running the canary (pid \(state.pid)) did not \(action.rawValue) it within \(wait); `stockops rollout status --env \(name)` shows it"
                        + (readProblem.map { "; the ledger: \($0)" } ?? ""))
            }
            // Sleeping throws only when cancelled; the deadline still ends the loop.
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private static func isGone(_ pid: Int32) -> Bool {
        kill(pid, 0) != 0 && errno == ESRCH
    }
}
