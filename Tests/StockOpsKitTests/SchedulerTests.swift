import CurlHTTP
import Foundation
import Synchronization
import Testing

@testable import StockOpsKit

@Suite struct SchedulerTests {
    struct Interval: Sendable {
        let id: String
        let start: ContinuousClock.Instant
        let end: ContinuousClock.Instant
    }

    func sleeper(_ name: String, _ recorder: Recorder<Interval>, dependencies: [NodeID] = [], duration: Duration = .milliseconds(300)) -> Probe {
        Probe(dependencies: dependencies) { _ in
            let start = ContinuousClock.now
            try await Task.sleep(for: duration)
            recorder.append(Interval(id: name, start: start, end: .now))
        }
    }

    @Test func readyNodesRunConcurrently() async throws {
        let recorder = Recorder<Interval>()
        var builder = GraphBuilder()
        for index in 0..<4 { builder.add(NodeID("work", key: "\(index)"), sleeper("\(index)", recorder)) }
        let result = await scheduler(jobs: 4).run(try builder.build())
        #expect(result.status == .passed)
        let intervals = recorder.values
        #expect(intervals.count == 4)
        let latestStart = intervals.map(\.start).max()!
        let earliestEnd = intervals.map(\.end).min()!
        #expect(latestStart < earliestEnd, "all four intervals overlap")
    }

    @Test func jobsBoundsConcurrency() async throws {
        let recorder = Recorder<Interval>()
        var builder = GraphBuilder()
        for index in 0..<3 { builder.add(NodeID("work", key: "\(index)"), sleeper("\(index)", recorder, duration: .milliseconds(100))) }
        _ = await scheduler(jobs: 1).run(try builder.build())
        let intervals = recorder.values.sorted { $0.start < $1.start }
        #expect(intervals.count == 3)
        for (first, second) in zip(intervals, intervals.dropFirst()) {
            #expect(first.end <= second.start, "\(first.id) and \(second.id) do not overlap")
        }
    }

    @Test func nodesSharingAResourceDoNotOverlap() async throws {
        let recorder = Recorder<Interval>()
        var builder = GraphBuilder()
        for index in 0..<2 {
            builder.add(
                NodeID("test", key: "\(index)"), sleeper("\(index)", recorder, duration: .milliseconds(100)), policy: NodePolicy(.gate, resources: ["swiftpm"]))
        }
        _ = await scheduler(jobs: 4).run(try builder.build())
        let intervals = recorder.values.sorted { $0.start < $1.start }
        #expect(intervals.count == 2)
        #expect(intervals[0].end <= intervals[1].start)
    }

    @Test func dependentsOfAFailedGateAreBlockedNotFailed() async throws {
        var builder = GraphBuilder()
        builder.add("test", Probe { _ in throw StageFailure.failed("3 tests failed") })
        builder.add("build", Probe(dependencies: ["test"]))
        builder.add("deploy", Probe(dependencies: ["build"]))
        builder.add("lint", Probe())
        let result = await scheduler().run(try builder.build())
        #expect(result.status == .failed)
        #expect(result["test"]?.status == .failed)
        #expect(result["test"]?.reason == "3 tests failed")
        #expect(result["build"]?.status == .blocked)
        #expect(result["build"]?.reason == "test failed")
        #expect(result["deploy"]?.status == .blocked)
        #expect(result["lint"]?.status == .passed)
    }

    @Test func anAllowedFailureBlocksNothing() async throws {
        var builder = GraphBuilder()
        builder.add("sonar", Probe { _ in throw StageFailure.failed("quality gate red") }, policy: .allowFailure)
        builder.add("build", Probe(dependencies: ["sonar"]))
        let result = await scheduler().run(try builder.build())
        #expect(result["sonar"]?.status == .failed)
        #expect(result["build"]?.status == .passed)
        #expect(result.status == .passed)
    }

    @Test func typedOutputsFlowToDependents() async throws {
        var builder = GraphBuilder()
        let number = builder.add("number", Produce { 41 })
        let next = builder.add("next", AddOne(input: number))
        let result = await scheduler().run(try builder.build())
        #expect(result.outputs[next] == 42)
        #expect(result.encodedOutputs["next"].map { String(decoding: $0, as: UTF8.self) } == "42")
    }

    @Test func readingAnUndeclaredDependencyFails() async throws {
        var builder = GraphBuilder()
        let number = builder.add("number", Produce { 1 })
        builder.add("sneaky", Probe(dependencies: []) { context in _ = try context.value(number) }, after: [])
        let result = await scheduler().run(try builder.build())
        #expect(result["sneaky"]?.status == .failed)
        #expect(result["sneaky"]?.reason?.contains("not one of its dependencies") == true)
    }

    @Test func conditionsSkipNodesAndTheirDependents() async throws {
        var builder = GraphBuilder()
        let number = builder.add("number", Produce { 1 })
        builder.add("odd", Probe(dependencies: [number.id]), when: { outputs in try outputs.value(number) % 2 == 1 ? nil : "even" })
        builder.add("even", Probe(dependencies: [number.id]), when: { outputs in try outputs.value(number) % 2 == 0 ? nil : "unchanged: odd" })
        builder.add("after-even", Probe(dependencies: ["even"]))
        let result = await scheduler().run(try builder.build())
        #expect(result["odd"]?.status == .passed)
        #expect(result["even"]?.status == .skipped)
        #expect(result["even"]?.reason == "unchanged: odd")
        #expect(result["after-even"]?.status == .skipped)
        #expect(result.status == .passed)
    }

    @Test func manualNodesNeedApproval() async throws {
        var builder = GraphBuilder()
        builder.add("deploy", Probe(), policy: .manual)
        let graph = try builder.build()
        #expect(await scheduler().run(graph)["deploy"]?.status == .skipped)
        #expect(await scheduler(approvals: ["deploy"]).run(graph)["deploy"]?.status == .passed)
    }

    @Test func aTimeoutEndsTheAttemptAndBlocksDependents() async throws {
        var builder = GraphBuilder()
        builder.add(
            "slow", Probe { _ in try await Task.sleep(for: .seconds(120)) },
            policy: NodePolicy(.gate, timeout: .milliseconds(200), retries: 2, retryDelay: .zero))
        builder.add("next", Probe(dependencies: ["slow"]))
        let started = ContinuousClock.now
        let result = await scheduler().run(try builder.build())
        #expect(started.secondsSinceNow < 60, "the 120 s sleep was cut short")
        #expect(result["slow"]?.status == .timedOut)
        #expect(result["slow"]?.attempts == 1)
        #expect(result["next"]?.status == .blocked)
        #expect(result.status == .failed)
    }

    @Test func transientFailuresAreRetried() async throws {
        let attempts = Mutex(0)
        var builder = GraphBuilder()
        builder.add(
            "push",
            Probe { _ in
                let attempt = attempts.withLock {
                    $0 += 1
                    return $0
                }
                if attempt < 3 { throw StageFailure.transient("HTTP 503 from registry") }
            }, policy: NodePolicy(.gate, retries: 3, retryDelay: .milliseconds(1)))
        let result = await scheduler().run(try builder.build())
        #expect(result["push"]?.status == .passed)
        #expect(result["push"]?.attempts == 3)
        #expect(attempts.withLock { $0 } == 3)
    }

    /// A client's or tool's error let through by a stage is classified by its own type: retried when transient, an
    /// infrastructure failure (exit 3) when the environment is broken, a verdict otherwise.
    @Test func clientErrorsClassifyThemselves() async throws {
        let errors: [(any Error & Sendable, StageFailure.Kind)] = [
            (RegistryError(.unreachable, "connection refused"), .transient),
            (RegistryError(.protocolError, "bad gateway", status: 502), .transient),
            (RegistryError(.notFound, "no such tag", status: 404), .failed),
            (VaultError(code: .sealed, path: "secret/data/ci", message: "Vault is sealed"), .transient),
            (VaultError(code: .invalidCredentials, path: "auth/approle/login", message: "login refused"), .infrastructure),
            (VaultError(code: .notFound, path: "secret/data/ci", message: "no secret"), .failed),
            (HTTPClientError(code: .couldNotConnect, url: "http://127.0.0.1:1", message: "refused"), .transient),
            (LedgerError(path: "/state/dev.ledger.jsonl", message: "cannot write"), .infrastructure),
        ]
        for (error, kind) in errors {
            let attempts = Mutex(0)
            var builder = GraphBuilder()
            builder.add(
                "call",
                Probe { _ in
                    attempts.withLock { $0 += 1 }
                    throw error
                }, policy: NodePolicy(.gate, retries: 1, retryDelay: .zero))
            let result = await scheduler().run(try builder.build())
            #expect(result["call"]?.failureKind == kind, "\(error)")
            #expect(attempts.withLock { $0 } == (kind == .transient ? 2 : 1), "\(error)")
            #expect(result.hasInfrastructureFailure == (kind != .failed), "\(error)")
        }
    }

    @Test func retriesStopAtTheLimit() async throws {
        let attempts = Mutex(0)
        var builder = GraphBuilder()
        builder.add(
            "pull",
            Probe { _ in
                attempts.withLock { $0 += 1 }
                throw StageFailure.transient("HTTP 429")
            }, policy: NodePolicy(.gate, retries: 2, retryDelay: .zero))
        let result = await scheduler().run(try builder.build())
        #expect(result["pull"]?.status == .failed)
        #expect(result["pull"]?.attempts == 3)
        #expect(result["pull"]?.failureKind == .transient)
        #expect(attempts.withLock { $0 } == 3)
    }

    @Test func aFailedVerdictIsNeverRetried() async throws {
        let attempts = Mutex(0)
        var builder = GraphBuilder()
        builder.add(
            "scan",
            Probe { _ in
                attempts.withLock { $0 += 1 }
                throw StageFailure.failed("2 critical vulnerabilities")
            }, policy: NodePolicy(.gate, retries: 5, retryDelay: .zero))
        builder.add(
            "other",
            Probe { _ in
                attempts.withLock { $0 += 100 }
                throw CocoaError(.fileNoSuchFile)
            }, policy: NodePolicy(.gate, retries: 5, retryDelay: .zero))
        let result = await scheduler().run(try builder.build())
        #expect(result["scan"]?.attempts == 1)
        #expect(result["other"]?.attempts == 1)
        #expect(attempts.withLock { $0 } == 101)
    }

    @Test func aCacheHitSkipsTheNodeAndAChangedInputMissesIt() async throws {
        let root = temporaryDirectory()
        let cache = OutputCache(directory: root + "/cache")
        let input = Mutex("v1")
        let runs = Mutex(0)
        func graph() throws -> PipelineGraph {
            var builder = GraphBuilder()
            let number = builder.add(
                "number",
                Produce {
                    runs.withLock {
                        $0 += 1
                        return 10 * $0
                    }
                }, cacheInputs: { _ in [input.withLock { $0 }] })
            builder.add("next", AddOne(input: number))
            return try builder.build()
        }
        let first = await scheduler(root: root, cache: cache).run(try graph())
        #expect(first["number"]?.status == .passed)
        let second = await scheduler(root: root, cache: cache).run(try graph())
        #expect(second["number"]?.status == .cached)
        #expect(second["number"]?.cacheKey == first["number"]?.cacheKey)
        #expect(second.outputs[StageRef<Int>("next")] == 11, "the cached output feeds dependents")
        #expect(runs.withLock { $0 } == 1)

        input.withLock { $0 = "v2" }
        let third = await scheduler(root: root, cache: cache).run(try graph())
        #expect(third["number"]?.status == .passed)
        #expect(third["number"]?.cacheKey != first["number"]?.cacheKey)
        #expect(runs.withLock { $0 } == 2)
    }

    @Test func aMissingToolIsAnInfrastructureFailure() async throws {
        var builder = GraphBuilder()
        builder.add(
            "scan", Probe { context in _ = try await context.run(Command("stockops-no-such-scanner", [])) },
            policy: NodePolicy(.gate, retries: 3, retryDelay: .zero))
        let result = await scheduler().run(try builder.build())
        #expect(result["scan"]?.status == .failed)
        #expect(result["scan"]?.failureKind == .infrastructure)
        #expect(result["scan"]?.attempts == 1)
        #expect(result.hasInfrastructureFailure)
    }

    @Test func failedResultsAreNotCached() async throws {
        let root = temporaryDirectory()
        let cache = OutputCache(directory: root + "/cache")
        let runs = Mutex(0)
        var builder = GraphBuilder()
        builder.add(
            "flaky",
            Probe { _ in
                runs.withLock { $0 += 1 }
                throw StageFailure.failed("no")
            }, cacheInputs: { _ in ["same"] })
        let graph = try builder.build()
        _ = await scheduler(root: root, cache: cache).run(graph)
        let second = await scheduler(root: root, cache: cache).run(graph)
        #expect(second["flaky"]?.status == .failed)
        #expect(runs.withLock { $0 } == 2)
    }

    @Test func finallyRunsAfterAFailure() async throws {
        let cleaned = Mutex(false)
        var builder = GraphBuilder()
        builder.add("deploy", Probe { _ in throw StageFailure.failed("smoke test failed") })
        builder.add("rollback", Probe(dependencies: ["deploy"]))
        builder.add("cleanup", Probe(dependencies: ["rollback"]) { _ in cleaned.withLock { $0 = true } }, policy: .finally)
        let result = await scheduler().run(try builder.build())
        #expect(result["rollback"]?.status == .blocked)
        #expect(result["cleanup"]?.status == .passed)
        #expect(cleaned.withLock { $0 })
    }

    @Test func cancellingARunStopsItsProcessesAndStillRunsFinally() async throws {
        let pid = Mutex<Int32?>(nil)
        let cleaned = Mutex(false)
        var builder = GraphBuilder()
        builder.add(
            "long",
            Probe { context in
                _ = try await context.runner.run(Command("sleep", ["300"]), log: context.log) { spawned in pid.withLock { $0 = spawned } }
            })
        builder.add("after", Probe(dependencies: ["long"]))
        builder.add(
            "notify",
            Probe(dependencies: ["after"]) { _ in
                try Task.checkCancellation()
                cleaned.withLock { $0 = true }
            }, policy: .finally)
        let graph = try builder.build()
        let run = Task { await scheduler().run(graph) }
        let waitStart = ContinuousClock.now
        while pid.withLock({ $0 }) == nil && waitStart.secondsSinceNow < 120 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let child = try #require(pid.withLock { $0 })
        #expect(kill(child, 0) == 0, "the child runs before cancellation")
        let cancelled = ContinuousClock.now
        run.cancel()
        let result = await run.value
        #expect(cancelled.secondsSinceNow < 120, "the 300 s sleep was cut short")
        #expect(result.status == .cancelled)
        #expect(result["long"]?.status == .cancelled)
        #expect(result["after"]?.status == .cancelled)
        #expect(result["notify"]?.status == .passed)
        #expect(cleaned.withLock { $0 })
        #expect(kill(child, 0) == -1 && errno == ESRCH, "no child survives the run")
    }

    @Test func planRunsOnlyPlanningNodes() async throws {
        let ran = Recorder<String>()
        var builder = GraphBuilder()
        let number = builder.add(
            "filter",
            Produce {
                ran.append("filter")
                return 2
            }, policy: NodePolicy(.gate, runsInPlan: true))
        builder.add("even", Probe(dependencies: [number.id]) { _ in ran.append("even") }, when: { try $0.value(number) % 2 == 0 ? nil : "odd" })
        builder.add("odd", Probe(dependencies: [number.id]) { _ in ran.append("odd") }, when: { try $0.value(number) % 2 == 1 ? nil : "unchanged" })
        let result = await scheduler(mode: .plan).run(try builder.build())
        #expect(ran.values == ["filter"])
        #expect(result["even"]?.status == .wouldRun)
        #expect(result["odd"]?.status == .skipped)
    }

    @Test func aThousandNodeGraphRunsEveryNodeOnce() async throws {
        // A layered DAG: node i waits for up to three of the nodes before it. How quickly it runs is measured by
        // scripts/bench-pipeline.sh, not asserted here.
        let ran = Recorder<Int>()
        var builder = GraphBuilder()
        for index in 0..<1000 {
            let dependencies = [7, 14, 21].compactMap { offset in index >= offset ? NodeID("noop", key: "\(index - offset)") : nil }
            builder.add(NodeID("noop", key: "\(index)"), Probe(dependencies: dependencies) { _ in ran.append(index) })
        }
        let result = await scheduler().run(try builder.build())
        #expect(result.status == .passed)
        #expect(result.results.count == 1000)
        #expect(result.results.allSatisfy { $0.result.status == .passed })
        #expect(ran.values.sorted() == Array(0..<1000), "every node ran exactly once")
    }
}
