import CurlHTTP
import Foundation

extension Deployer {
    /// Runs `tag`, smoke-tested in `canarySlot`, as a canary beside the stable version in `stable`: the proxy sends it
    /// ``CanaryPolicy/weight`` percent of every service's requests while both versions' `/metrics` are compared each
    /// second. It ends on the first figures beyond the policy (rolled back), at the end of the window (promoted), on a
    /// person's `stockops rollout promote|abort`, or when the deploy is interrupted (rolled back). Rolled back, the proxy
    /// sends all traffic to `stable` again before this returns; promoted, the caller switches it to `canarySlot`. The
    /// progress is written to `rollout.json` beside the proxy's configuration for `stockops rollout status`.
    func runCanary(_ tag: RegistryTag, policy: CanaryPolicy, canary canarySlot: Slot, stable: Slot, stableTag: String, slots: [Slot: [String: String]]) async
        -> CanaryAnalysis
    {
        let started = ContinuousClock.now
        let proxy = self.proxy
        func analysis(
            _ verdict: CanaryAnalysis.Verdict, by decider: String, _ reason: String, figures: [String: CanaryAnalysis.ServiceFigures] = [:]
        ) -> CanaryAnalysis {
            CanaryAnalysis(
                weight: policy.weight, windowSeconds: policy.window, elapsedSeconds: Self.seconds(since: started), verdict: verdict, decidedBy: decider,
                reason: reason, services: figures)
        }

        var addresses: [(service: String, stable: String, canary: String)] = []
        do throws(DeployFailure) {
            for service in config.services {
                addresses.append(
                    (
                        service.name, try await publishedAddress(stable.composeService(service.name), service.containerPort, slots: slots),
                        try await publishedAddress(canarySlot.composeService(service.name), service.containerPort, slots: slots)
                    ))
            }
        } catch {
            return analysis(.rolledBack, by: "analysis", "cannot reach both versions: \(error.message)")
        }
        let ignored = Set(config.services.map(\.healthPath) + ["/metrics", "/livez", "/readyz", "/health"])
        let client = HTTPClient(configuration: SmokeTest.http)
        func scrape() async -> CanaryScrape? {
            var scraped: CanaryScrape = [:]
            for address in addresses {
                // A version whose /metrics does not answer makes the scrape nil, which the callers turn into a rollback.
                guard let stableText = try? await client.send(HTTPRequest(url: "http://\(address.stable)/metrics")), stableText.status == 200,
                    let canaryText = try? await client.send(HTTPRequest(url: "http://\(address.canary)/metrics")), canaryText.status == 200
                else { return nil }
                scraped[address.service] = (
                    RequestMetrics.parse(stableText.text, ignoredRoutes: ignored), RequestMetrics.parse(canaryText.text, ignoredRoutes: ignored)
                )
            }
            return scraped
        }
        guard let baseline = await scrape() else {
            return analysis(.rolledBack, by: "analysis", "the /metrics of a version did not answer before the canary started")
        }

        var judge = CanaryJudge(policy: policy, baseline: baseline)
        let share = (slot: canarySlot, weight: policy.weight)
        let weighted = await Task { () async -> String? in
            do {
                try proxy.writeConfiguration(active: stable, canary: share, services: config.services)
                let result = try await compose(environment.compose.kill("SIGUSR2", ["proxy"]), tag: tag, slots: slots)
                return result.succeeded ? nil : "reloading the proxy failed: \(Self.tail(result.output))"
            } catch {
                return "\(error)"
            }
        }.value
        var state = RolloutState(
            environment: name, tag: tag.name, canarySlot: canarySlot, stableSlot: stable, stableTag: stableTag, weight: policy.weight,
            windowSeconds: policy.window, started: Date(), elapsedSeconds: 0, pid: getpid(), services: [:])
        var verdict: (verdict: CanaryAnalysis.Verdict, by: String, reason: String)?
        if let weighted {
            verdict = (.rolledBack, "analysis", weighted)
        } else {
            // A decision written after an earlier canary ended must not decide this one.
            unlink(proxy.decisionPath)
            do {
                try proxy.recordRollout(state)
            } catch {
                say("warning: the canary's state could not be written (\(error)); `stockops rollout` cannot see or decide this canary, the analysis still does")
            }
            say(
                "canary: \(tag) in the \(canarySlot.rawValue) slot gets \(policy.weight) % of \(name.rawValue)'s requests for up to \(policy.window) s; \(stableTag) keeps the rest"
            )
        }
        var lastReport = ContinuousClock.now
        while verdict == nil {
            // Sleeping throws only when the task is cancelled: an interruption, handled here.
            if (try? await Task.sleep(for: .seconds(1))) == nil || Task.isCancelled {
                verdict = (.rolledBack, "analysis", "interrupted during the canary")
                break
            }
            if let decision = proxy.decision() {
                verdict =
                    decision.action == .promote
                    ? (.promoted, decision.actor, "promoted by \(decision.actor)") : (.rolledBack, decision.actor, "aborted by \(decision.actor)")
                break
            }
            guard let current = await scrape() else {
                verdict = (.rolledBack, "analysis", "the /metrics of a version stopped answering")
                break
            }
            let elapsed = Self.seconds(since: started)
            let outcome = judge.judge(current, elapsed: elapsed)
            if case .failed(let reason) = outcome {
                verdict = (.rolledBack, "analysis", reason)
                break
            }
            state.elapsedSeconds = elapsed
            state.services = judge.figures
            // Said once at the start when it fails; the analysis does not depend on it.
            try? proxy.recordRollout(state)
            if case .passed(let reason) = outcome {
                verdict = (.promoted, "analysis", reason)
            } else if ContinuousClock.now - lastReport >= .seconds(10) {
                lastReport = ContinuousClock.now
                say("  canary after \(Int(elapsed)) s: " + Self.describe(judge.figures))
            }
        }
        let decided = analysis(verdict!.verdict, by: verdict!.by, verdict!.reason, figures: judge.figures)
        await Task {
            if decided.verdict == .rolledBack {
                do {
                    try proxy.writeConfiguration(active: stable, services: config.services)
                    let reload = try await compose(environment.compose.kill("SIGUSR2", ["proxy"]), tag: tag, slots: slots)
                    if !reload.succeeded { say("warning: reloading the proxy onto the \(stable.rawValue) slot failed: \(Self.tail(reload.output))") }
                } catch {
                    say("warning: the proxy could not be pointed back to the \(stable.rawValue) slot alone: \(error)")
                }
                if let problem = await confirmSwitch(to: stable) { say("warning: \(problem)") }
            }
            proxy.clearRollout()
        }.value
        say(
            "canary \(decided.verdict == .promoted ? "promoted" : "rolled back") by \(decided.decidedBy) after \(decided.elapsedSeconds) s: \(decided.reason)"
                + (decided.services.isEmpty ? "" : "; " + Self.describe(decided.services)))
        return decided
    }

    /// `trade: stable 120 requests, 0 5xx (0.0 %), p99 ≤ 5.0 ms; canary …` for every service.
    static func describe(_ figures: [String: CanaryAnalysis.ServiceFigures]) -> String {
        figures.keys.sorted().map { "\($0): stable \(figures[$0]!.stable.summary); canary \(figures[$0]!.canary.summary)" }.joined(separator: " | ")
    }
}
