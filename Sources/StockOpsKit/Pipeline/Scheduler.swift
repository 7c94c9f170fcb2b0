import Foundation

/// Runs a ``PipelineGraph``: ready nodes run concurrently up to `jobs`, dependents of a failed gate are blocked,
/// transient failures are retried, cached results are reused, `finally` nodes always run.
///
/// Cancel the task calling ``run(_:)`` to interrupt the run: running stages are cancelled (their processes
/// are terminated), pending nodes are recorded `cancelled`, `finally` nodes still run.
public struct Scheduler: Sendable {
    /// Whether nodes are executed or only planned.
    public enum Mode: Sendable {
        case execute
        /// Run only `runsInPlan` nodes; report the others as cached, skipped or would-run.
        case plan
    }

    public var jobs: Int
    public var mode: Mode
    public var runner: ProcessRunner
    public var paths: RunPaths
    /// Manual nodes allowed to run.
    public var approvals: Set<NodeID>
    /// Nodes left out of the run, with the reason (see ``PipelineGraph/exclusions(only:skip:)``).
    public var exclusions: [NodeID: String]
    public var cache: OutputCache?
    public var observer: (any RunObserver)?
    /// Whether node logs are written to `paths.logsDirectory`.
    public var writesLogs: Bool
    /// Encoded outputs of nodes run elsewhere: such nodes are not run but recorded `external` with this output.
    public var externalOutputs: [NodeID: Data]

    public init(
        jobs: Int = ProcessInfo.processInfo.activeProcessorCount,
        mode: Mode = .execute,
        runner: ProcessRunner = ProcessRunner(),
        paths: RunPaths,
        approvals: Set<NodeID> = [],
        exclusions: [NodeID: String] = [:],
        cache: OutputCache? = nil,
        observer: (any RunObserver)? = nil,
        writesLogs: Bool = true,
        externalOutputs: [NodeID: Data] = [:]
    ) {
        self.jobs = max(1, jobs)
        self.mode = mode
        self.runner = runner
        self.paths = paths
        self.approvals = approvals
        self.exclusions = exclusions
        self.cache = cache
        self.observer = observer
        self.writesLogs = writesLogs
        self.externalOutputs = externalOutputs
    }

    private struct Completion: Sendable {
        let id: NodeID
        let result: NodeResult
        let value: StageValue?
    }

    private enum Decision {
        case settle(NodeResult, StageValue? = nil)
        case launch
    }

    public func run(_ graph: PipelineGraph) async -> RunResult {
        let started = Date()
        var state = State(graph: graph)

        await withTaskGroup(of: Completion.self) { group in
            var running = 0
            var busy: [String: Int] = [:]
            var launchable: [NodeID] = []
            var ready = graph.nodes.filter { $0.dependencies.isEmpty }.map(\.id)
            var interrupted = false

            func drainReady() {
                while !ready.isEmpty {
                    let id = ready.removeFirst()
                    switch decide(id, state: state) {
                    case .settle(let result, let value):
                        observer?.nodeFinished(id, policy: state.nodes[id]!.policy, result: result, log: nil)
                        ready.append(contentsOf: state.settle(id, result: result, value: value))
                    case .launch:
                        launchable.append(id)
                    }
                }
            }

            func launch() {
                var index = 0
                while running < jobs, index < launchable.count {
                    let node = state.nodes[launchable[index]]!
                    if node.policy.resources.contains(where: { busy[$0, default: 0] > 0 }) {
                        index += 1
                        continue
                    }
                    launchable.remove(at: index)
                    running += 1
                    for resource in node.policy.resources { busy[resource, default: 0] += 1 }
                    let outputs = state.outputs
                    group.addTask { await self.execute(node, outputs: outputs) }
                }
            }

            drainReady()
            launch()
            while running > 0 {
                guard let completion = await group.next() else { break }
                running -= 1
                for resource in state.nodes[completion.id]!.policy.resources { busy[resource, default: 0] -= 1 }
                ready.append(contentsOf: state.settle(completion.id, result: completion.result, value: completion.value))
                if Task.isCancelled { interrupted = true }
                if !interrupted {
                    drainReady()
                    launch()
                }
            }
            if Task.isCancelled { interrupted = true }
            state.interrupted = interrupted
        }

        if state.interrupted {
            for node in graph.nodes where state.results[node.id] == nil && node.policy.kind != .finally {
                let result = NodeResult(status: .cancelled, reason: "the run was interrupted before it started")
                observer?.nodeFinished(node.id, policy: node.policy, result: result, log: nil)
                _ = state.settle(node.id, result: result, value: nil)
            }
            let pendingFinally = graph.nodes.filter { state.results[$0.id] == nil }
            let snapshot = state.outputs
            let completions = await Task {
                var completions: [Completion] = []
                for node in pendingFinally {
                    completions.append(await self.execute(node, outputs: snapshot))
                }
                return completions
            }.value
            for completion in completions {
                _ = state.settle(completion.id, result: completion.result, value: completion.value)
            }
        }

        let results = graph.nodes.map { (id: $0.id, policy: $0.policy, result: state.results[$0.id] ?? NodeResult(status: .cancelled)) }
        let status: RunStatus
        if results.contains(where: { $0.result.status.isFailure && $0.policy.kind != .allowFailure }) {
            status = .failed
        } else if results.contains(where: { $0.result.status == .cancelled }) {
            status = .cancelled
        } else {
            status = .passed
        }
        return RunResult(status: status, results: results, outputs: state.outputs, encodedOutputs: state.encoded, started: started, finished: Date())
    }

    private func decide(_ id: NodeID, state: State) -> Decision {
        let node = state.nodes[id]!
        if let reason = exclusions[id] {
            return .settle(NodeResult(status: .skipped, reason: reason))
        }
        if let data = externalOutputs[id] {
            do {
                return .settle(NodeResult(status: .external, reason: "output produced elsewhere"), try node.decode(data))
            } catch {
                return .settle(NodeResult(status: .failed, reason: "its external output could not be read: \(error)", failureKind: .infrastructure))
            }
        }
        if node.policy.kind != .finally {
            let settled = node.dependencies.map { ($0, state.results[$0]!) }
            if let (dependency, _) = settled.first(where: { $0.1.status.isFailure && state.nodes[$0.0]!.policy.kind != .allowFailure }) {
                return .settle(NodeResult(status: .blocked, reason: "\(dependency) failed"))
            }
            if let (dependency, result) = settled.first(where: { $0.1.status == .blocked }) {
                return .settle(NodeResult(status: .blocked, reason: "\(dependency) is blocked" + (result.reason.map { " (\($0))" } ?? "")))
            }
            if let (dependency, _) = settled.first(where: { $0.1.status == .cancelled }) {
                return .settle(NodeResult(status: .cancelled, reason: "\(dependency) was cancelled"))
            }
            if let (dependency, _) = settled.first(where: { $0.1.status == .skipped && state.nodes[$0.0]!.policy.skipPropagates }) {
                return .settle(NodeResult(status: .skipped, reason: "\(dependency) was skipped"))
            }
        }
        if node.policy.kind == .manual && !approvals.contains(id) {
            return .settle(NodeResult(status: .skipped, reason: "manual node awaiting approval (--approve \(id))"))
        }
        if let condition = node.skipCondition {
            do {
                if let reason = try condition(state.outputs.restricted(to: node.dependencies)) {
                    return .settle(NodeResult(status: .skipped, reason: reason))
                }
            } catch {
                if mode == .execute {
                    return .settle(NodeResult(status: .failed, reason: "its condition could not be evaluated: \(error)", failureKind: .failed))
                }
            }
        }
        return .launch
    }

    private func execute(_ node: GraphNode, outputs: Outputs) async -> Completion {
        let started = Date()
        let clock = ContinuousClock.now
        func finish(
            _ status: NodeStatus, reason: String? = nil, kind: StageFailure.Kind? = nil, attempts: Int = 0, key: String? = nil, value: StageValue? = nil,
            log: NodeLog? = nil
        ) -> Completion {
            let elapsed = ContinuousClock.now - clock
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let result = NodeResult(
                status: status, reason: reason.map(SecretMasker.shared.mask), failureKind: kind, attempts: attempts, started: started, finished: Date(),
                duration: seconds, cacheKey: key)
            observer?.nodeFinished(node.id, policy: node.policy, result: result, log: log)
            return Completion(id: node.id, result: result, value: value)
        }

        let runsNow = mode == .execute || node.policy.runsInPlan
        let log = NodeLog(path: writesLogs && mode == .execute ? paths.logPath(for: node.id) : nil)
        if runsNow { observer?.nodeStarted(node.id, at: started, log: log) }

        var key: String?
        if let inputs = node.cacheInputs, let cache {
            do {
                let parts = try await inputs(CacheKeyContext(root: paths.root, runner: runner, node: node.id, cacheDirectory: cache.directory))
                key = Digest.sha256(([node.id.description] + parts).joined(separator: "\u{0}")).hex
                // An entry that no longer decodes is a cache miss: the node runs again.
                if let data = cache.lookup(node: node.id, key: key!), let value = try? node.decode(data) {
                    log.write("cache hit \(key!)\n")
                    return finish(.cached, reason: "inputs unchanged (key \(key!.prefix(12)))", key: key, value: value, log: log)
                }
            } catch {
                log.write("cache key could not be computed: \(error)\n")
            }
        }
        guard runsNow else {
            return finish(.wouldRun, reason: key == nil ? nil : "cache miss (key \(key!.prefix(12)))", key: key)
        }

        var attempt = 0
        while true {
            attempt += 1
            let context = StageContext(
                node: node.id, attempt: attempt, log: log, runner: runner, paths: paths, outputs: outputs, dependencies: Set(node.dependencies))
            do {
                let value = try await Self.withTimeout(node.policy.timeout) { try await node.execute(context) }
                if let key { cache?.store(node: node.id, key: key, output: value.encoded) }
                return finish(.passed, attempts: attempt, key: key, value: value, log: log)
            } catch let timeout as TimeoutReached {
                log.write("timed out after \(timeout.limit)\n")
                return finish(.timedOut, reason: "timed out after \(timeout.limit)", kind: .failed, attempts: attempt, key: key, log: log)
            } catch {
                if Task.isCancelled {
                    log.write("cancelled\n")
                    return finish(.cancelled, reason: "interrupted while running", attempts: attempt, key: key, log: log)
                }
                let kind = (error as? any ClassifiedError)?.failureKind ?? .failed
                log.write("attempt \(attempt) failed (\(kind.rawValue)): \(error)\n")
                if kind == .transient && attempt <= node.policy.retries {
                    let delay = node.policy.retryDelay * (1 << min(attempt - 1, 16))
                    // Task.sleep throws only when cancelled, which is handled here.
                    if (try? await Task.sleep(for: delay)) == nil {
                        return finish(.cancelled, reason: "interrupted while waiting to retry", attempts: attempt, key: key, log: log)
                    }
                    continue
                }
                return finish(.failed, reason: "\(error)", kind: kind, attempts: attempt, key: key, log: log)
            }
        }
    }

    struct TimeoutReached: Error {
        let limit: Duration
    }

    static func withTimeout<T: Sendable>(_ limit: Duration?, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let limit else { return try await body() }
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw TimeoutReached(limit: limit)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

private struct State {
    let nodes: [NodeID: GraphNode]
    let dependents: [NodeID: [NodeID]]
    var remaining: [NodeID: Int]
    var results: [NodeID: NodeResult] = [:]
    var outputs = Outputs()
    var encoded: [NodeID: Data] = [:]
    var interrupted = false

    init(graph: PipelineGraph) {
        nodes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0) })
        dependents = graph.dependents
        remaining = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0.dependencies.count) })
    }

    /// Records a result and returns the dependents that became ready.
    mutating func settle(_ id: NodeID, result: NodeResult, value: StageValue?) -> [NodeID] {
        results[id] = result
        outputs.settled[id] = (nodes[id]!.policy.kind, result)
        if let value {
            outputs.values[id] = value.value
            encoded[id] = value.encoded
        }
        var ready: [NodeID] = []
        for dependent in dependents[id, default: []] {
            remaining[dependent]! -= 1
            if remaining[dependent] == 0 && results[dependent] == nil { ready.append(dependent) }
        }
        return ready
    }
}
