import ArgumentParser
import Foundation
import StockOpsKit

struct BenchSecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Measure the Vault client and its libcurl transport.",
        discussion: """
            With --paths: logs in with the AppRole of VAULT_ROLE_ID_FILE/VAULT_SECRET_ID_FILE at VAULT_ADDR and \
            reads the KV paths, --repetitions times. With --url: sends --requests sequential GETs to it.
            Prints `name count median_ms p90_ms total_ms` lines.
            """
    )

    @Option(parsing: .upToNextOption, help: "KV v2 paths (under secret/) to read after each login.")
    var paths: [String] = []

    @Option(help: "Login-and-read repetitions.")
    var repetitions: Int = 50

    @Option(help: "A URL to GET sequentially.")
    var url: String?

    @Option(help: "Sequential GETs.")
    var requests: Int = 1000

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        if !paths.isEmpty {
            guard let address = environment["VAULT_ADDR"], let roleFile = environment["VAULT_ROLE_ID_FILE"],
                let secretFile = environment["VAULT_SECRET_ID_FILE"]
            else {
                throw ValidationError("--paths needs VAULT_ADDR, VAULT_ROLE_ID_FILE and VAULT_SECRET_ID_FILE")
            }
            func secret(_ file: String) throws -> Secret {
                Secret(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let samples = try await SecretsBenchmark.loginAndRead(
                address: address, roleID: try secret(roleFile), secretID: try secret(secretFile), paths: paths,
                repetitions: repetitions)
            report("login+\(paths.count)-reads", samples)
        }
        if let url {
            report("http-get", try await SecretsBenchmark.sequentialGets(url: url, count: requests))
        }
    }

    private func report(_ name: String, _ samples: SecretsBenchmark.Samples) {
        print(String(format: "%@ %d %.3f %.3f %.3f", name, samples.milliseconds.count, samples.median, samples.quantile(0.9), samples.total))
    }
}
