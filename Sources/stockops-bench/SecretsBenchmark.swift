import CurlHTTP
import Foundation
import StockOpsKit

/// Timings of the Vault client and of the libcurl transport under it, for `stockops-bench secrets`.
public enum SecretsBenchmark {
    /// Durations of repeated runs, in milliseconds, sorted.
    public struct Samples: Sendable {
        public let milliseconds: [Double]

        public init(_ milliseconds: [Double]) { self.milliseconds = milliseconds.sorted() }

        /// The value at fraction `q` (0...1) of the sorted samples.
        public func quantile(_ q: Double) -> Double {
            guard !milliseconds.isEmpty else { return .nan }
            let index = Int((Double(milliseconds.count - 1) * q).rounded())
            return milliseconds[min(max(index, 0), milliseconds.count - 1)]
        }

        public var median: Double { quantile(0.5) }
        public var total: Double { milliseconds.reduce(0, +) }
    }

    /// Logs in with AppRole and reads every path of `paths` from KV v2, `repetitions` times, each
    /// time with a new client (a new login and fresh connections), after one unmeasured warm-up.
    public static func loginAndRead(
        address: String, roleID: Secret, secretID: Secret, paths: [String], repetitions: Int
    ) async throws -> Samples {
        var samples: [Double] = []
        for index in 0...repetitions {
            let client = VaultClient(address: address, masker: SecretMasker(environment: [:], output: { _ in }))
            let start = ContinuousClock.now
            try await client.loginAppRole(roleID: roleID, secretID: secretID)
            for path in paths {
                _ = try await client.read(path)
            }
            let elapsed = ContinuousClock.now - start
            if index > 0 { samples.append(milliseconds(elapsed)) }
            try? await client.revokeSelf()
        }
        return Samples(samples)
    }

    /// Sends `count` sequential GETs to `url` through one ``HTTPClient``, after one unmeasured
    /// warm-up request; returns the duration of each. Any status other than 2xx fails.
    public static func sequentialGets(url: String, count: Int) async throws -> Samples {
        let client = HTTPClient(configuration: HTTPClientConfiguration(retry: .none))
        let request = HTTPRequest(url: url)
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for index in 0...count {
            let start = ContinuousClock.now
            let response = try await client.send(request)
            let elapsed = ContinuousClock.now - start
            guard (200..<300).contains(response.status) else {
                throw HTTPClientError(code: .transferFailed, url: url, message: "GET \(url) answered \(response.status)")
            }
            if index > 0 { samples.append(milliseconds(elapsed)) }
        }
        return Samples(samples)
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
