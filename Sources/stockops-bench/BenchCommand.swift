import ArgumentParser
import Foundation
import StockOpsKit

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Measure the scheduler on synthetic graphs."
    )

    @Option(help: "Synthetic no-op nodes.")
    var nodes: Int = 1000

    @Option(help: "Independent chains of sleeping nodes.")
    var chains: Int = 4

    @Option(help: "Sleeping nodes per chain.")
    var length: Int = 5

    @Option(help: "Sleep per node, in milliseconds.")
    var sleepMs: Int = 200

    @Option(help: "Concurrent nodes.")
    var jobs: Int = 4

    func run() async throws {
        let dag = try Benchmark.noOpGraph(count: nodes)
        let noOp = await Benchmark.measure(dag, jobs: jobs)
        print(String(format: "no-op DAG: %d nodes in %.3f s (%@)", nodes, noOp.seconds, noOp.result.status.rawValue))

        let chainGraph = try Benchmark.chainGraph(chains: chains, length: length, sleep: .milliseconds(sleepMs))
        let sleeping = await Benchmark.measure(chainGraph, jobs: jobs)
        let critical = Double(length * sleepMs) / 1000
        print(
            String(
                format: "chains: %d×%d × %d ms at --jobs %d in %.3f s; critical path %.3f s; ratio %.3f (%@)", chains, length, sleepMs, jobs, sleeping.seconds,
                critical, sleeping.seconds / critical, sleeping.result.status.rawValue))
        if noOp.result.status != .passed || sleeping.result.status != .passed { throw ExitCode(1) }
    }
}
