import Foundation
import Testing

@testable import StockOpsKit

/// The canary's configuration, the metrics it reads and how it judges them.
@Suite struct CanaryPolicyTests {
    func parse(_ environment: String) throws(ConfigError) -> PipelineConfig {
        try PipelineConfig.parse(
            ConfigTests.valid + "\nenvironments:\n  prod:\n    ref: refs/tags/v*.*.*\n    tag: \"{ref}\"\n" + environment, file: "pipelines/stockops.yml")
    }

    @Test func strategyCanaryTakesItsSettingsAndDefaults() throws {
        let config = try parse("    strategy: canary\n    canary: {weight: 25, window: 30, max-error-rate-increase: 0.5, max-p99-ratio: 3, min-requests: 40}\n")
        #expect(config.environments[.prod]?.canary == CanaryPolicy(weight: 25, window: 30, maxErrorRateIncrease: 0.5, maxP99Ratio: 3, minimumRequests: 40))
        #expect(try parse("    strategy: canary\n").environments[.prod]?.canary == CanaryPolicy())
        #expect(try parse("    strategy: switch\n").environments[.prod]?.canary == nil)
        #expect(try parse("").environments[.prod]?.canary == nil)
    }

    @Test func wrongCanarySettingsNameTheKey() {
        let cases: [(String, String, String)] = [
            ("    strategy: canary\n    canary: {weight: 80}\n", "environments.prod.canary.weight", "must be a percentage from 1 to 50"),
            ("    strategy: canary\n    canary: {window: 1}\n", "environments.prod.canary.window", "must be from 5 to 3600 seconds"),
            ("    canary: {weight: 10}\n", "environments.prod.canary", "canary settings need strategy: canary"),
            ("    strategy: linear\n", "environments.prod.strategy", "'linear' is not a strategy; use switch or canary"),
        ]
        for (yaml, keyPath, message) in cases {
            do {
                _ = try parse(yaml)
                Issue.record("accepted \(yaml)")
            } catch {
                #expect(error.keyPath == keyPath, "\(error)")
                #expect(error.description.hasSuffix(message), "\(error)")
            }
        }
    }

    /// The text a service's `/metrics` renders (swift-prometheus: counters, then cumulative `_bucket` lines per label set).
    static func metrics(ok: Int, failed: Int, okBucket: [Int], route: String = "/trades/buy") -> String {
        let bounds = ["0.005", "0.01", "0.025", "+Inf"]
        var text = "# TYPE http_requests_total counter\n"
        text += "http_requests_total{route=\"\(route)\",method=\"POST\",status=\"201\"} \(ok)\n"
        text += "http_requests_total{route=\"\(route)\",method=\"POST\",status=\"500\"} \(failed)\n"
        text += "http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} 999\n"
        text += "# TYPE http_request_duration_seconds histogram\n"
        for (bound, count) in zip(bounds, okBucket) {
            text += "http_request_duration_seconds_bucket{route=\"\(route)\",method=\"POST\",status=\"201\",le=\"\(bound)\"} \(count)\n"
        }
        for bound in bounds {
            text += "http_request_duration_seconds_bucket{route=\"\(route)\",method=\"POST\",status=\"500\",le=\"\(bound)\"} \(failed)\n"
        }
        text += "http_request_duration_seconds_sum{route=\"\(route)\",method=\"POST\",status=\"201\"} 0.5\n"
        return text
    }

    @Test func figuresAreTheDifferenceOfTwoScrapesWithoutHealthChecks() {
        let ignored: Set<String> = ["/readyz", "/metrics"]
        let before = RequestMetrics.parse(Self.metrics(ok: 100, failed: 0, okBucket: [90, 100, 100, 100]), ignoredRoutes: ignored)
        let after = RequestMetrics.parse(Self.metrics(ok: 300, failed: 10, okBucket: [200, 250, 300, 300]), ignoredRoutes: ignored)
        #expect(after.requests == 310 && after.errors == 10)
        let figures = after.since(before)
        #expect(figures.requests == 210)
        #expect(figures.errors == 10)
        // 210 requests: 120 within 5 ms (110 ok + 10 failed), 160 within 10 ms, 210 within 25 ms. The 99th percentile
        // (rank 207.9) lies in the 10–25 ms bucket, 47.9 of its 50 requests in: 10 + 15 × 47.9 / 50 = 24.37 ms.
        #expect(figures.p99Milliseconds == 24.37)
        #expect(abs(figures.errorRate - 4.76) < 0.01)
        let restarted = RequestMetrics.parse(Self.metrics(ok: 5, failed: 0, okBucket: [5, 5, 5, 5]), ignoredRoutes: ignored).since(after)
        #expect(restarted.requests == 5 && restarted.errors == 0, "a restarted process counts from zero")
        #expect(RequestMetrics.parseLabels(#"route="/a\"b",le="+Inf""#) == ["route": "/a\"b", "le": "+Inf"])
    }

    @Test func theCanaryFailsOnErrorsOrLatencyBeyondThePolicyOnceItHasEnoughRequests() {
        let policy = CanaryPolicy(weight: 10, window: 60, maxErrorRateIncrease: 1, maxP99Ratio: 2, minimumRequests: 20)
        let stable = CanaryFigures(requests: 400, errors: 2, p99Milliseconds: 5)
        func afterWarmUp(_ canary: CanaryFigures) -> CanaryAnalysis.ServiceFigures { CanaryAnalysis.ServiceFigures(stable: stable, canary: canary) }
        let fast = CanaryFigures(requests: 40, errors: 0, p99Milliseconds: 5)
        #expect(policy.failure(service: "trade", stable: stable, canary: fast, afterWarmUp: afterWarmUp(fast)) == nil)
        #expect(
            policy.failure(service: "trade", stable: stable, canary: CanaryFigures(requests: 10, errors: 10, p99Milliseconds: 5), afterWarmUp: nil) == nil,
            "too few requests to judge")
        let errors = policy.failure(service: "trade", stable: stable, canary: CanaryFigures(requests: 40, errors: 4, p99Milliseconds: 5), afterWarmUp: nil)
        #expect(errors == "trade: the canary answered 10.0 % 5xx (4 of 40), the stable version 0.5 % (2 of 400); at most 1 points more are allowed")
        let within = CanaryFigures(requests: 400, errors: 0, p99Milliseconds: 20)
        #expect(policy.failure(service: "trade", stable: stable, canary: within, afterWarmUp: afterWarmUp(within)) == nil, "judged against at least 10 ms")
        let slowCanary = CanaryFigures(requests: 400, errors: 0, p99Milliseconds: 50)
        #expect(policy.failure(service: "trade", stable: stable, canary: slowCanary, afterWarmUp: nil) == nil, "p99 is judged at the end of the window")
        let few = CanaryFigures(requests: 99, errors: 0, p99Milliseconds: 250)
        #expect(
            policy.failure(service: "trade", stable: stable, canary: slowCanary, afterWarmUp: afterWarmUp(few)) == nil,
            "below 100 requests p99 is the slowest one")
        let slow = policy.failure(service: "trade", stable: stable, canary: fast, afterWarmUp: afterWarmUp(slowCanary))
        #expect(slow == "trade: after the first 15 s, the canary's p99 is 50 ms, over 2× the stable version's 5.0 ms (limit 20 ms)")
    }

    /// Metrics of `requests` answers, `slow` of them between 10 and 250 ms and the rest within 5 ms.
    static func requestMetrics(_ requests: Int, slow: Int = 0, errors: Int = 0) -> RequestMetrics {
        var metrics = RequestMetrics()
        metrics.requests = requests
        metrics.errors = errors
        metrics.buckets = [0.005: requests - slow, 0.01: requests - slow, 0.25: requests, .infinity: requests]
        return metrics
    }

    /// A 12 s window scraped at 1 s, 3 s (the end of the warm-up) and 12 s; `canary` is the canary's metrics at each.
    static func judge(canary: [RequestMetrics]) -> (outcomes: [CanaryJudge.Outcome?], judge: CanaryJudge) {
        let policy = CanaryPolicy(weight: 20, window: 12, maxErrorRateIncrease: 1, maxP99Ratio: 2, minimumRequests: 5)
        var judge = CanaryJudge(policy: policy, baseline: ["trade": (requestMetrics(0), requestMetrics(0))])
        let outcomes = zip([1.0, 3, 12], canary).map { elapsed, canary in
            judge.judge(["trade": (requestMetrics(Int(elapsed) * 80), canary)], elapsed: elapsed)
        }
        return (outcomes, judge)
    }

    @Test func latencyIsJudgedAfterTheWarmUpAndErrorsFromTheStart() throws {
        #expect(CanaryPolicy(window: 12).latencyWarmUp == 3)
        // Five slow first requests, as a new process's first connections to the database: the whole window's p99 is over
        // the limit, the one after the warm-up is not.
        let warming = Self.judge(canary: [Self.requestMetrics(10, slow: 2), Self.requestMetrics(20, slow: 5), Self.requestMetrics(220, slow: 5)])
        #expect(warming.outcomes == [nil, nil, .passed("within the limits for 12 s")])
        let whole = try #require(warming.judge.figures["trade"])
        #expect(whole.canary.requests == 220 && (whole.canary.p99Milliseconds ?? 0) > 20, "\(whole)")

        let slowAfter = Self.judge(canary: [Self.requestMetrics(10), Self.requestMetrics(20), Self.requestMetrics(220, slow: 20)])
        #expect(slowAfter.outcomes[..<2] == [nil, nil])
        #expect(
            slowAfter.outcomes[2]
                == .failed("trade: after the first 3 s, the canary's p99 is 226 ms, over 2× the stable version's 5.0 ms (limit 20 ms)"))

        let failing = Self.judge(canary: [Self.requestMetrics(10, errors: 5), Self.requestMetrics(20), Self.requestMetrics(220)])
        #expect(
            failing.outcomes[0]
                == .failed("trade: the canary answered 50.0 % 5xx (5 of 10), the stable version 0.0 % (0 of 80); at most 1 points more are allowed"),
            "5xx during the warm-up count")
    }

    @Test func theProxyWeighsBothSlotsDuringACanaryAndHAProxyAcceptsIt() async throws {
        let config = try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        let proxy = TrafficProxy(stateDirectory: temporaryDirectory(), project: "stocks-prod")
        try proxy.writeConfiguration(active: .blue, canary: (.green, 10), services: config.services)
        #expect(proxy.activeSlot() == .blue)
        #expect(proxy.canary()?.slot == .green && proxy.canary()?.weight == 10)
        let text = try String(contentsOfFile: proxy.directory + "/haproxy.cfg", encoding: .utf8)
        #expect(text.contains("    server blue trade-blue:8001 check inter 1s resolvers docker init-addr libc,none weight 90\n"), "\(text)")
        #expect(text.contains("    server green trade-green:8001 check inter 1s resolvers docker init-addr libc,none weight 10\n"), "\(text)")
        #expect(text.contains("http-response set-header X-Stockops-Slot %[srv_name]"), "each answer names the slot that gave it")
        let haproxy = try #require(executableOnPath("haproxy"), "haproxy is not installed: run scripts/install-deps.sh")
        let check = try await runTool([haproxy, "-c", "-f", proxy.directory + "/haproxy.cfg"])
        #expect(check.status == 0, "\(check.output)")

        try proxy.writeConfiguration(active: .green, services: config.services)
        #expect(proxy.canary() == nil)
        #expect(proxy.activeSlot() == .green)
    }

    @Test func aRolloutCommandWithoutACanaryExitsTwoAndSaysWhatRunsOne() async throws {
        let root = temporaryDirectory()
        let request = EnvironmentRequest(root: root, environment: .prod, processEnvironment: ["STOCKOPS_STATE_DIR": root + "/state"])
        let status = request.rolloutStatus()
        #expect(status.canary == nil && status.exitStatus == .success)
        let abort = await attempt { () async throws(StockOpsError) in try await request.decideRollout(.abort, wait: .seconds(1)) { _ in } }
        #expect(abort.failure?.exitStatus == .usage)
        #expect(abort.message.contains("no canary in progress in prod: nothing to abort. A deploy with strategy: canary runs one"), "\(abort.message)")
    }
}
