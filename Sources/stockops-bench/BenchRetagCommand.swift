import ArgumentParser
import Foundation
import StockOpsKit

struct BenchRetagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retag",
        abstract: "Measure a promotion's re-tag (manifest GET + PUT) against a registry.",
        discussion: """
            For each repository, re-tags --from as bench-1 … bench-N, each time with a new client (a fresh \
            connection and, with STOCKOPS_BENCH_REGISTRY_USER/PASSWORD, a new authentication), and checks that \
            every new tag points at the source digest. Prints `name count median_ms p90_ms total_ms` lines.
            """
    )

    @Option(help: "The registry, host[:port] (plain HTTP on loopback).")
    var registry: String

    @Option(parsing: .upToNextOption, help: "Repositories to re-tag in, such as stockapp/trade.")
    var repository: [String]

    @Option(help: "The existing tag to re-tag.")
    var from: String

    @Option(help: "Re-tags per repository.")
    var count: Int = 20

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let credentials = environment["STOCKOPS_BENCH_REGISTRY_USER"].flatMap { user in
            environment["STOCKOPS_BENCH_REGISTRY_PASSWORD"].map { RegistryCredentials(username: user, password: Secret($0)) }
        }
        let baseURL = RegistryConfig(host: registry, project: "").baseURL
        let source = try RegistryTag.parse(from)
        for name in repository {
            guard let expected = try await RegistryClient(baseURL: baseURL, credentials: credentials).digest(of: source, in: name) else {
                throw ValidationError("\(name):\(from) does not exist in \(registry)")
            }
            var samples: [Double] = []
            for index in 1...count {
                let client = RegistryClient(baseURL: baseURL, credentials: credentials)
                let start = ContinuousClock.now
                let digest = try await client.retag(name, from: .tag(source), to: try RegistryTag.parse("bench-\(index)"))
                let elapsed = ContinuousClock.now - start
                guard digest == expected else { throw ValidationError("bench-\(index) points at \(digest), not \(expected)") }
                samples.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            }
            let sorted = SecretsBenchmark.Samples(samples)
            print(String(format: "retag:%@ %d %.3f %.3f %.3f", name, sorted.milliseconds.count, sorted.median, sorted.quantile(0.9), sorted.total))
        }
    }
}
