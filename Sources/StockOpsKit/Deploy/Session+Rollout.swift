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

extension Session {
    /// `stockops rollout status|promote|abort`: reads the canary a deploy is running (`rollout.json` beside the proxy's
    /// configuration) or asks that deploy to end it, then waits up to `wait` for it to do so and prints the ledger's
    /// entry. Exit 0 done (or status shown); 1 the deploy running the canary is gone (the next deploy or rollback repairs
    /// the proxy); 2 no canary in progress to promote or abort; 3 the deploy did not act within `wait`.
    public func rollout(_ request: EnvironmentRequest, _ action: RolloutAction, wait: Duration = .seconds(60)) async -> ExitStatus {
        let environment = request.environment.rawValue
        let project = ComposeEnvironment.command(flavor: .plugin, environment: request.environment, root: nil, processEnvironment: request.processEnvironment)
            .projectName
        let proxy = TrafficProxy(stateDirectory: request.stateDirectory, project: project)
        let state = proxy.rollout()
        let orphaned = state.map { kill($0.pid, 0) != 0 && errno == ESRCH } ?? false
        if action == .status {
            if request.json {
                struct Status: Encodable {
                    var environment: Environment
                    var canary: RolloutState?
                    var deployRunning: Bool
                }
                printJSON(Status(environment: request.environment, canary: state, deployRunning: state != nil && !orphaned))
            } else if let state {
                output.write(Self.describe(state) + "\n")
                if orphaned {
                    output.write(
                        "the deploy running it (pid \(state.pid)) is gone; the next deploy or rollback of \(environment) gives the stable slot all the traffic again\n"
                    )
                }
            } else {
                output.write("no canary in progress in \(environment)\n")
            }
            return orphaned ? .gateFailed : .success
        }
        guard let state else {
            return fail(
                StockOpsError(
                    .usage,
                    "no canary in progress in \(environment): nothing to \(action.rawValue). A deploy with strategy: canary runs one; `stockops rollout status --env \(environment)` shows it"
                ))
        }
        guard !orphaned else {
            errors.write(
                "error: the deploy that ran the canary of \(state.tag) in \(environment) (pid \(state.pid)) is gone; the next deploy or `stockops rollback --env \(environment) --to-previous` gives the stable slot all the traffic again\n"
            )
            return .gateFailed
        }
        let actor = DeployActor.name(request.processEnvironment)
        let ledger = Ledger(stateDirectory: request.stateDirectory, environment: request.environment)
        let entriesBefore = (try? ledger.read().entries.count) ?? 0
        do {
            try proxy.decide(RolloutState.Decision(action: action == .promote ? .promote : .abort, actor: actor))
        } catch {
            return fail(StockOpsError(.infrastructure, "cannot write the decision next to \(proxy.directory): \(error)"))
        }
        (request.json ? errors : output).write("asked the deploy running the canary of \(state.tag) in \(environment) to \(action.rawValue) it\n")
        // The deploy's ledger entry, written once the proxy serves the outcome, is the sign that it acted.
        let deadline = ContinuousClock.now + wait
        // A ledger that cannot be read is said when the wait ends: the deploy may still be writing it.
        var readProblem: String?
        while true {
            var decided: LedgerEntry?
            do {
                decided = try ledger.read().entries.dropFirst(entriesBefore).last(where: { $0.tag == state.tag })
                readProblem = nil
            } catch {
                readProblem = "\(error)"
            }
            if let entry = decided {
                if request.json {
                    struct Decided: Encodable {
                        var environment: Environment
                        var action: String
                        var entry: LedgerEntry
                    }
                    printJSON(Decided(environment: request.environment, action: action.rawValue, entry: entry))
                } else {
                    output.write("\(entry.tag): \(entry.outcome.rawValue)" + (entry.detail.map { " — \($0)" } ?? "") + "\n")
                }
                return .success
            }
            guard ContinuousClock.now < deadline else {
                return fail(
                    StockOpsError(
                        .infrastructure,
                        "the deploy running the canary (pid \(state.pid)) did not \(action.rawValue) it within \(wait); `stockops rollout status --env \(environment)` shows it"
                            + (readProblem.map { "; the ledger: \($0)" } ?? "")
                    ))
            }
            // Sleeping throws only when cancelled; the deadline still ends the loop.
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// `canary: dev-ccccccc in the green slot, 10 % of the requests, 12 of 120 s (stable dev-aaaaaaa); trade: …`.
    static func describe(_ state: RolloutState) -> String {
        var text =
            "canary:      \(state.tag) in the \(state.canarySlot.rawValue) slot gets \(state.weight) % of the requests, \(Int(state.elapsedSeconds)) of \(state.windowSeconds) s"
        text += " (stable: \(state.stableTag ?? "?") in the \(state.stableSlot.rawValue) slot)"
        if !state.services.isEmpty { text += "\n             " + Deployer.describe(state.services) }
        return text
    }
}
