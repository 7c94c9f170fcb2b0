import CurlHTTP
import Foundation
import Synchronization
import Testing

@testable import StockOpsKit

/// Requests a client keeps sending to an environment's published ports while it is deployed and rolled back.
final class TrafficProbe: Sendable {
    struct Counts: Sendable {
        var answered = 0
        var failures: [String] = []
        /// Answers per slot (``TrafficProxy/slotHeader``).
        var slots: [String: Int] = [:]
        /// Answers per `<slot> <method> <path>`, and the failed ones.
        var answeredBy: [String: Int] = [:]
        var failedBy: [String: Int] = [:]

        /// The failures counted by what went wrong (the URL left out), for a log line that says why requests failed.
        var failureKinds: [String: Int] {
            failures.reduce(into: [:]) { kinds, failure in
                let reason = failure.range(of: ": ").map { String(failure[$0.upperBound...].prefix(100)) } ?? failure
                kinds[reason, default: 0] += 1
            }
        }

        /// One line for the log and for a failed expectation: the answers by slot and the failures by kind.
        var report: String {
            "\(answered) requests answered, \(failures.count) failed, by slot \(slots), failures by kind \(failureKinds)"
        }
    }

    private let counts = Mutex(Counts())
    private let stopped = Atomic<Bool>(false)
    private let requests: [HTTPRequest]

    init(_ urls: [String]) {
        requests = urls.map { HTTPRequest(url: $0) }
    }

    init(requests: [HTTPRequest]) {
        self.requests = requests
    }

    var snapshot: Counts { counts.withLock { $0 } }

    /// Sends one request after another to each URL (`clients` at once) until ``stop()``.
    func start(clients: Int = 2) -> Task<Void, Never> {
        Task.detached { [self] in
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        let http = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(10), retry: .none))
                        var index = client
                        while !self.stopped.load(ordering: .relaxed) {
                            let request = self.requests[index % self.requests.count]
                            let url = request.url
                            index += 1
                            do {
                                let response = try await http.send(request)
                                let slot = response.headers[TrafficProxy.slotHeader] ?? "none"
                                let key = "\(slot) \(request.method.rawValue) \(URL(string: url)?.path ?? url)"
                                self.counts.withLock { counts in
                                    if (200..<300).contains(response.status) {
                                        counts.answered += 1
                                        counts.slots[slot, default: 0] += 1
                                        counts.answeredBy[key, default: 0] += 1
                                    } else {
                                        counts.failures.append("\(url): \(response.status) from \(slot) \(response.text.prefix(120))")
                                        counts.failedBy[key, default: 0] += 1
                                    }
                                }
                            } catch {
                                self.counts.withLock { $0.failures.append("\(url): \(error)") }
                            }
                        }
                    }
                }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}

/// Deploys and rollbacks behind the environment's proxy, on the real engine: no request fails while the version changes.
@Suite(.serialized) struct ZeroDowntimeTests {
    /// A rollback's exit, its progress and error, and the document `--json` prints for it.
    static func rollback(_ sandbox: DeploySandbox, to tag: String) async -> (succeeded: Bool, progress: String, document: String) {
        let progress = CapturedConsole("rollback-progress")
        var request = RollbackRequest(target: sandbox.request, tag: tag)
        request.yes = true
        let rollback = await request.attempt { [console = progress.console] in console.write($0 + "\n") }
        return (rollback.exitStatus == .success, progress.text + rollback.message, rollback.outcome.map { JSONOutput.document($0.summary) } ?? "")
    }

    @Test func deploysRollbacksAndAFailedDeployServeEveryRequest() async throws {
        try await DeploySandbox.with(.dev) { sandbox in
            let v1 = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let v2 = try await sandbox.pushBuild("v2", commit: "ccccccc")
            let broken = try await sandbox.pushBuild("broken", commit: "bbbbbbb")
            let settings = DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero)
            let first = try await sandbox.runPipeline(v1, settings: settings)
            #expect(first.status == .passed, "\(first.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            let proxy = TrafficProxy(stateDirectory: sandbox.state, project: sandbox.project)
            #expect(proxy.activeSlot() == .blue)

            let probe = TrafficProbe([
                "http://127.0.0.1:\(sandbox.ports["stock-listing"]!)/stocks?limit=2", "http://127.0.0.1:\(sandbox.ports["trade"]!)/portfolio/probe",
                "http://127.0.0.1:\(sandbox.ports["trade"]!)/health",
            ])
            let traffic = probe.start()

            // A deploy starts beside the live version and takes the traffic only after its smoke test.
            let second = try await sandbox.runPipeline(v2, settings: settings)
            #expect(second.status == .passed, "\(second.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(proxy.activeSlot() == .green)
            #expect(proxy.slots()[.blue]?.tag == "dev-aaaaaaa", "the previous version is retained")

            // A rollback to the retained version is a switch: nothing pulled or started.
            let (back, backOutput, _) = await ZeroDowntimeTests.rollback(sandbox, to: "dev-aaaaaaa")
            #expect(back, "\(backOutput)")
            #expect(backOutput.contains("dev-aaaaaaa is retained in the blue slot: no pull, no start"), "\(backOutput)")
            #expect(proxy.activeSlot() == .blue)

            // A version failing its smoke test never gets traffic and its containers go.
            let failing = try await sandbox.runPipeline(broken, settings: DeploySettings(smokeTimeout: .seconds(6), lockWait: .zero))
            #expect(failing.status == .failed)
            #expect(proxy.activeSlot() == .blue)
            let afterFailure = try await sandbox.containers().keys.sorted()
            #expect(afterFailure.allSatisfy { !$0.hasSuffix("-green") }, "\(afterFailure)")
            #expect(try sandbox.ledger.last?.detail?.contains("dev-aaaaaaa kept serving") == true)

            let (again, _, againOutput) = await ZeroDowntimeTests.rollback(sandbox, to: "dev-ccccccc")
            #expect(again, "\(againOutput)")
            #expect(try await JSONSchemaCheck.problems(againOutput, command: "rollback").isEmpty, "\(againOutput)")
            #expect(againOutput.contains(#""status" : "passed""#) && againOutput.contains(#""tag" : "dev-ccccccc""#), "\(againOutput)")
            #expect(proxy.activeSlot() == .green)

            probe.stop()
            await traffic.value
            let counts = probe.snapshot
            #expect(counts.failures.isEmpty, "\(counts.report)")
            #expect(counts.slots["blue", default: 0] > 0 && counts.slots["green", default: 0] > 0, "both versions answered: \(counts.slots)")
            print("zero-downtime probe: \(counts.report)")

            // status tells which slot serves and which is retained.
            let status = try await sandbox.request.status()
            #expect(status.exitStatus == .success, "\(status.drift) \(status.docker ?? "")")
            #expect(status.proxy.active == .green && status.proxy.slots["green"]?.tag == "dev-ccccccc" && status.proxy.slots["blue"]?.tag == "dev-aaaaaaa")
            #expect(status.answering == ["stock-listing": "git-ccccccc", "trade": "git-ccccccc"], "\(status.answering)")
            let statusJSON = JSONOutput.document(status)
            #expect(try await JSONSchemaCheck.problems(statusJSON, command: "status").isEmpty, "\(statusJSON)")

            // The live slot's access log shows the probe's requests.
            let logsOutput = CapturedConsole("logs")
            var logs = LogsRequest(target: sandbox.request)
            logs.service = "trade"
            logs.since = "10m"
            try await logs.stream(to: logsOutput.console)
            let lines = logsOutput.text.split(separator: "\n")
            #expect(
                lines.contains { $0.contains(#""route":"/portfolio/{user_id}""#) && $0.contains(#""status":200"#) && $0.contains(#""level":"info""#) },
                "\(lines.suffix(5))")
        }
    }
}

/// `stockops rollback` interrupted at each step, as a runner cancelling a job does, while traffic flows.
@Suite(.serialized) struct InterruptedSwitchTests {
    /// Runs the stockops binary and sends it `signal` once a line of its output contains `marker`.
    func stockops(_ arguments: [String], environment: [String: String], signal: Int32, when marker: String) async throws -> (status: Int32, output: String) {
        let binary = EnvironmentLockTests.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw FixtureError("\(binary) is missing: run swift build --build-tests first") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let pid = process.processIdentifier
        let reader = pipe.fileHandleForReading
        let output = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var data = Data()
                var sent = false
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                    if !sent, String(decoding: data, as: UTF8.self).contains(marker) {
                        sent = true
                        kill(pid, signal)
                    }
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func aSignalBeforeTheSwitchLeavesTheLiveVersionAndOneDuringItFinishesIt() async throws {
        try await DeploySandbox.with(.dev) { sandbox in
            let settings = DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero)
            for (variant, commit) in [("v1", "aaaaaaa"), ("v2", "ccccccc")] {
                let run = try await sandbox.runPipeline(try await sandbox.pushBuild(variant, commit: commit), settings: settings)
                #expect(run.status == .passed, "\(run.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            }
            // The broken version takes the blue slot, fails, and leaves it empty: dev-aaaaaaa must start there again.
            let broken = try await sandbox.runPipeline(
                try await sandbox.pushBuild("broken", commit: "bbbbbbb"), settings: DeploySettings(smokeTimeout: .seconds(6), lockWait: .zero))
            #expect(broken.status == .failed)
            let proxy = TrafficProxy(stateDirectory: sandbox.state, project: sandbox.project)
            #expect(proxy.activeSlot() == .green)
            let probe = TrafficProbe([
                "http://127.0.0.1:\(sandbox.ports["stock-listing"]!)/stocks?limit=2", "http://127.0.0.1:\(sandbox.ports["trade"]!)/health",
            ])
            let traffic = probe.start()
            let arguments = ["rollback", "--root", sandbox.root, "--env", "dev", "--tag", "dev-aaaaaaa", "--yes"]
            let entries = try sandbox.ledger.count

            // SIGTERM while the new version starts: the live one serves on, the new containers go, the lock is free.
            let before = try await stockops(arguments, environment: sandbox.processEnvironment, signal: SIGTERM, when: "starting dev-aaaaaaa in the blue slot")
            #expect(before.status != 0, "\(before.output)")
            #expect(before.output.contains("interrupted"), "\(before.output)")
            #expect(proxy.activeSlot() == .green)
            let afterSignal = try sandbox.ledger
            #expect(afterSignal.count == entries + 1 && afterSignal.last?.outcome == .failed, "\(afterSignal.last.map { "\($0)" } ?? "")")
            let containers = try await sandbox.containers().keys.sorted()
            #expect(containers.allSatisfy { !$0.hasSuffix("-blue") }, "\(containers)")
            #expect(try EnvironmentLock.inspect(stateDirectory: sandbox.state, environment: .dev) == .free)

            // SIGINT as the switch begins: the switch is finished and recorded first.
            let during = try await stockops(arguments, environment: sandbox.processEnvironment, signal: SIGINT, when: "switching dev's traffic to dev-aaaaaaa")
            #expect(during.status == 0, "\(during.output)")
            #expect(proxy.activeSlot() == .blue, "\(during.output)")
            let last = try #require(try sandbox.ledger.last)
            #expect(last.action == .rollback && last.tag == "dev-aaaaaaa" && last.outcome == .succeeded, "\(during.output)")
            #expect(try EnvironmentLock.inspect(stateDirectory: sandbox.state, environment: .dev) == .free)

            // A stockops killed between writing the configuration and reloading the proxy: the next rollback sees the
            // proxy serve another slot than its configuration names, and repairs it before it touches a slot.
            let config = try PipelineConfig.load(path: sandbox.root + "/pipelines/stockops.yml")
            try proxy.writeConfiguration(active: .green, services: config.services)
            let (repairedRollback, repaired, _) = await ZeroDowntimeTests.rollback(sandbox, to: "dev-ccccccc")
            #expect(repairedRollback, "\(repaired)")
            #expect(
                repaired.contains(
                    "repaired an unfinished switch: the proxy's configuration named the green slot while it served the blue slot; it now names the blue slot, which holds dev-aaaaaaa"
                ), "\(repaired)")
            #expect(proxy.activeSlot() == .green)

            probe.stop()
            await traffic.value
            let counts = probe.snapshot
            #expect(counts.failures.isEmpty, "\(counts.report)")
            #expect(counts.answered > 0)
            print("interrupted-switch probe: \(counts.report)")
        }
    }
}

/// The proxy's generated configuration, checked by HAProxy itself.
@Suite struct TrafficProxyTests {
    @Test func theConfigurationSendsEachServiceToOneSlotAndHAProxyAcceptsIt() async throws {
        let config = try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
        let proxy = TrafficProxy(stateDirectory: temporaryDirectory(), project: "stocks-dev")
        #expect(proxy.activeSlot() == nil)
        try proxy.writeConfiguration(active: .green, services: config.services)
        #expect(proxy.activeSlot() == .green)
        let text = try String(contentsOfFile: proxy.directory + "/haproxy.cfg", encoding: .utf8)
        #expect(text.contains("    server green trade-green:8001 check inter 1s resolvers docker init-addr libc,none\n"))
        #expect(text.contains("    server blue trade-blue:8001 check inter 1s resolvers docker init-addr libc,none backup\n"))
        #expect(text.contains("    bind :8000\n"))
        #expect(text.contains("    timeout check 5s\n"), "a slow health check on a busy host does not take the live slot down")
        #expect(text.contains("http-response set-header X-Stockops-Slot %[srv_name]"))
        #expect(!text.contains("retry-on all"), "a request that reached a server is never sent twice")
        var mode = stat()
        #expect(stat(proxy.directory + "/haproxy.cfg", &mode) == 0 && mode.st_mode & 0o777 == 0o644, "the proxy's user reads it")

        let haproxy = try #require(executableOnPath("haproxy"), "haproxy is not installed: run scripts/install-deps.sh")
        let check = try await runTool([haproxy, "-c", "-f", proxy.directory + "/haproxy.cfg"])
        #expect(check.status == 0, "\(check.output)")

        try proxy.record(SlotContents(tag: "dev-1234567", images: ["trade": "sha256:" + String(repeating: "a", count: 64)]), in: .green)
        try proxy.record(SlotContents(tag: "dev-7654321", images: [:]), in: .blue)
        try proxy.record(nil, in: .blue)
        #expect(proxy.slots() == [.green: SlotContents(tag: "dev-1234567", images: ["trade": "sha256:" + String(repeating: "a", count: 64)])])
        #expect(Slot.parse("stock-listing-green")! == ("stock-listing", .green))
        #expect(Slot.parse("db") == nil)
    }
}

/// Deploys with `strategy: canary` on the real engine and proxy: the new version gets a share of the requests and its
/// `/metrics` decide, or a person does.
@Suite(.serialized) struct CanaryDeployTests {
    /// A latency limit of 5× the stable p99, judged after the 3 s warm-up: on a 2-core machine running other suites at
    /// once, a new process stays slower for a while than one that served long; the unit tests check the latency
    /// judgement itself. A 12 s window and
    /// 5 requests: with every other suite running, a 2-core machine answered only 4 of the canary's requests in an 8 s
    /// window once, and the analysis was rightly inconclusive. More probe clients are no cure: they starve the
    /// zero-downtime suite running beside this one.
    static let settings = "    strategy: canary\n    canary: {weight: 25, window: 12, min-requests: 5, max-p99-ratio: 5}\n"

    @Test func aFaultyCanaryIsRolledBackByItsAnalysisAHealthyOneIsPromotedAndAPersonCanAbortOne() async throws {
        try await DeploySandbox.with(.dev, settings: Self.settings) { sandbox in
            let v1 = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let faulty = try await sandbox.pushBuild("faulty", commit: "fffffff")
            let v2 = try await sandbox.pushBuild("v2", commit: "ccccccc")
            let settings = DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero)
            let first = try await sandbox.runPipeline(v1, settings: settings)
            #expect(first.status == .passed, "\(first.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(try sandbox.ledger.last?.analysis == nil, "the first deploy has no live version to compare with")
            let proxy = TrafficProxy(stateDirectory: sandbox.state, project: sandbox.project)

            let listing = "http://127.0.0.1:\(sandbox.ports["stock-listing"]!)"
            let trade = "http://127.0.0.1:\(sandbox.ports["trade"]!)"
            let buy = HTTPRequest(
                method: .post, url: trade + "/trades/buy", headers: ["Content-Type": "application/json"],
                body: Data(#"{"user_id":"canary","symbol":"AAPL","quantity":1,"price":189.84}"#.utf8))
            let probe = TrafficProbe(requests: [HTTPRequest(url: listing + "/stocks?limit=2"), HTTPRequest(url: trade + "/portfolio/canary"), buy])
            let traffic = probe.start()

            // A build whose buy statement is broken: its smoke test passes, its canary answers 500 to its share of the buys.
            let failing = try await sandbox.runPipeline(faulty, settings: settings)
            #expect(failing.status == .failed)
            let rejected = try #require(try sandbox.ledger.last)
            #expect(rejected.tag == "dev-fffffff" && rejected.outcome == .failed, "\(rejected)")
            let analysis = try #require(rejected.analysis)
            #expect(analysis.verdict == .rolledBack && analysis.decidedBy == "analysis", "\(analysis)")
            #expect(analysis.reason.hasPrefix("trade: the canary answered"), "\(analysis.reason)")
            #expect((analysis.services["trade"]?.canary.errors ?? 0) > 0 && analysis.services["trade"]?.stable.errors == 0, "\(analysis.services)")
            #expect(analysis.elapsedSeconds < 12, "it did not wait for the end of the window")
            #expect(rejected.detail?.contains("dev-aaaaaaa has all the traffic again") == true, "\(rejected.detail ?? "")")
            #expect(proxy.activeSlot() == .blue && proxy.canary() == nil && proxy.rollout() == nil)
            #expect(try await sandbox.containers().keys.allSatisfy { !$0.hasSuffix("-green") })
            let afterFaulty = probe.snapshot
            #expect(afterFaulty.failedBy.keys.sorted() == ["green POST /trades/buy"], "only the canary's buys failed: \(afterFaulty.failedBy)")
            #expect(
                afterFaulty.answeredBy["green GET /stocks", default: 0] > 0 && afterFaulty.answeredBy["green GET /portfolio/canary", default: 0] > 0,
                "the canary answered its share of the other routes: \(afterFaulty.answeredBy)")
            #expect(
                afterFaulty.answeredBy["blue POST /trades/buy", default: 0] > afterFaulty.failedBy["green POST /trades/buy", default: 0],
                "the stable version kept most of the buys: \(afterFaulty.answeredBy)")

            // A healthy build is promoted by its analysis at the end of the window, with no failed request.
            let healthy = try await sandbox.runPipeline(v2, settings: settings)
            #expect(healthy.status == .passed, "\(healthy.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            let promoted = try #require(try sandbox.ledger.last?.analysis)
            #expect(promoted.verdict == .promoted && promoted.decidedBy == "analysis" && promoted.reason == "within the limits for 12 s", "\(promoted)")
            #expect((promoted.services["trade"]?.canary.requests ?? 0) >= 5 && promoted.services["trade"]?.canary.errors == 0, "\(promoted.services)")
            #expect(proxy.activeSlot() == .green)
            #expect(probe.snapshot.failures.count == afterFaulty.failures.count, "the healthy canary cost no request")

            // A person aborts a canary while it runs.
            async let third = sandbox.runPipeline(v1, settings: settings)
            let deadline = ContinuousClock.now + .seconds(60)
            while proxy.rollout() == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            let watched = sandbox.request.rolloutStatus()
            #expect(watched.exitStatus == .success && watched.deployRunning)
            let shown = watched.canary?.summary ?? ""
            #expect(shown.contains("canary:      dev-aaaaaaa in the blue slot gets 25 % of the requests"), "\(shown)")
            let watchedJSON = JSONOutput.document(watched)
            #expect(try await JSONSchemaCheck.problems(watchedJSON, command: "rollout-status").isEmpty, "\(watchedJSON)")
            let notes = Mutex<[String]>([])
            let decided = try await sandbox.request.decideRollout(.abort, wait: .seconds(60)) { note in notes.withLock { $0.append(note) } }
            let answer = JSONOutput.document(decided)
            #expect(try await JSONSchemaCheck.problems(answer, command: "rollout-abort").isEmpty, "\(answer)")
            #expect(decided.entry.outcome == .failed && decided.entry.detail?.contains("canary rolled back by ") == true, "\(answer)")
            #expect(notes.withLock { $0 } == ["asked the deploy running the canary of dev-aaaaaaa in dev to abort it"])
            #expect(try await third.status == .failed)
            let aborted = try #require(try sandbox.ledger.last?.analysis)
            #expect(aborted.verdict == .rolledBack && aborted.decidedBy != "analysis" && aborted.reason == "aborted by \(aborted.decidedBy)", "\(aborted)")
            #expect(proxy.activeSlot() == .green && proxy.canary() == nil)

            // Interrupted (the run cancelled, as SIGINT and SIGTERM do): the stable slot gets all the traffic back first.
            let interrupted = Task { try await sandbox.runPipeline(v1, settings: settings) }
            let interruptDeadline = ContinuousClock.now + .seconds(60)
            while proxy.rollout() == nil, ContinuousClock.now < interruptDeadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(proxy.canary()?.slot == .blue)
            interrupted.cancel()
            _ = try? await interrupted.value
            #expect(proxy.activeSlot() == .green && proxy.canary() == nil && proxy.rollout() == nil)
            #expect(try sandbox.ledger.last?.analysis?.reason == "interrupted during the canary")
            #expect(try EnvironmentLock.inspect(stateDirectory: sandbox.state, environment: .dev) == .free)

            // What a SIGKILL during a canary leaves (the weights live in the proxy) is repaired by the next release.
            let live = try #require(proxy.activeSlot())
            try proxy.writeConfiguration(active: live, canary: (live.other, 25), services: sandbox.config.services)
            let proxyContainer = try #require(try await sandbox.containers()["proxy"]?.id)
            #expect(try await DeployImages.docker(["kill", "--signal", "SIGUSR2", proxyContainer]).status == 0)
            let (rescued, repaired, _) = await ZeroDowntimeTests.rollback(sandbox, to: "dev-ccccccc")
            #expect(rescued, "\(repaired)")
            #expect(
                repaired.contains(
                    "repaired an interrupted canary: a canary in the \(live.other.rawValue) slot had 25 % of the traffic; the \(live.rawValue) slot has all of it again"
                ), "\(repaired)")
            #expect(proxy.canary() == nil)

            probe.stop()
            await traffic.value
            let counts = probe.snapshot
            #expect(counts.failedBy.keys.sorted() == ["green POST /trades/buy"], "\(counts.failedBy)")
            print("canary probe: \(counts.answered) answered, failed \(counts.failedBy), answered by slot and route \(counts.answeredBy)")
        }
    }
}
