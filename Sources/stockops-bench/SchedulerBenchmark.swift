import Foundation
import StockOpsKit

/// Synthetic graphs measuring the scheduler itself.
public enum Benchmark {
    /// A stage that does nothing.
    public struct NoOp: Stage {
        public var dependencies: [NodeID]
        public func run(_ context: StageContext) async throws -> Done { Done() }
    }

    /// A stage that sleeps.
    public struct Sleep: Stage {
        public var dependencies: [NodeID]
        public var duration: Duration
        public func run(_ context: StageContext) async throws -> Done {
            try await Task.sleep(for: duration)
            return Done()
        }
    }

    /// `count` no-op nodes; node i depends on up to `fanIn` of the preceding ones (a layered DAG).
    public static func noOpGraph(count: Int, fanIn: Int = 3) throws(GraphError) -> PipelineGraph {
        var builder = GraphBuilder()
        for index in 0..<count {
            let dependencies = (1...fanIn).compactMap { offset -> NodeID? in
                let target = index - offset * 7
                return target >= 0 ? NodeID("noop", key: "\(target)") : nil
            }
            builder.add(NodeID("noop", key: "\(index)"), NoOp(dependencies: dependencies))
        }
        return try builder.build()
    }

    /// `chains` independent chains of `length` sleeping nodes each.
    public static func chainGraph(chains: Int, length: Int, sleep: Duration) throws(GraphError) -> PipelineGraph {
        var builder = GraphBuilder()
        for chain in 0..<chains {
            for step in 0..<length {
                let dependencies = step == 0 ? [] : [NodeID("sleep", key: "\(chain).\(step - 1)")]
                builder.add(NodeID("sleep", key: "\(chain).\(step)"), Sleep(dependencies: dependencies, duration: sleep))
            }
        }
        return try builder.build()
    }

    /// Runs `graph` without logs or cache and returns the result and the wall time in seconds.
    public static func measure(_ graph: PipelineGraph, jobs: Int) async -> (result: RunResult, seconds: Double) {
        let scheduler = Scheduler(
            jobs: jobs, paths: RunPaths(root: FileManager.default.currentDirectoryPath, runDirectory: NSTemporaryDirectory() + "/stockops-bench"),
            writesLogs: false)
        let start = ContinuousClock.now
        let result = await scheduler.run(graph)
        let elapsed = ContinuousClock.now - start
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
