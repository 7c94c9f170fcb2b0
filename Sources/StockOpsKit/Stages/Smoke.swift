import CurlHTTP
import Foundation

/// An API request a smoke test makes once the services are healthy (`services[].smoke` in `pipelines/stockops.yml`).
public struct SmokeCheck: Sendable, Equatable, Codable {
    public enum Expectation: String, Sendable, Codable, CaseIterable {
        /// The answer is 200.
        case ok
        /// The answer is 200 with a JSON array of at least one element.
        case nonEmptyList = "non-empty-list"
    }

    /// Path and query, such as `/stocks?limit=1`.
    public var path: String
    public var expect: Expectation

    public init(path: String, expect: Expectation) {
        self.path = path
        self.expect = expect
    }
}

/// What a smoke test found, per service.
public struct SmokeReport: Sendable, Equatable, Codable {
    public struct Result: Sendable, Equatable, Codable {
        public var service: String
        public var url: String
        /// The HTTP status, nil when there was no answer.
        public var status: Int?
        public var passed: Bool
        public var detail: String?
    }

    public var results: [Result]
    /// Seconds until every service answered its health check.
    public var healthySeconds: Double?
    public var passed: Bool { !results.isEmpty && results.allSatisfy(\.passed) }

    /// The first failure, as a sentence.
    public var failure: String? {
        results.first { !$0.passed }.map { "\($0.service): \($0.detail ?? "GET \($0.url) failed")" }
    }
}

/// The smoke test of an environment: every service's health endpoint answers 200 (polled until `timeout`), then
/// each service's API checks pass.
public struct SmokeTest: Sendable {
    /// One service to check.
    public struct Target: Sendable, Equatable {
        public var service: String
        /// `http://127.0.0.1:8000`.
        public var baseURL: String
        public var healthPath: String
        public var checks: [SmokeCheck]

        public init(service: String, baseURL: String, healthPath: String = "/health", checks: [SmokeCheck] = []) {
            self.service = service
            self.baseURL = baseURL
            self.healthPath = healthPath
            self.checks = checks
        }
    }

    public var targets: [Target]
    /// How long the services may take to become healthy.
    public var timeout: Duration
    /// Time between two health polls.
    public var interval: Duration
    public var http: HTTPClientConfiguration

    public static let defaultTimeout: Duration = .seconds(60)

    public init(
        targets: [Target], timeout: Duration = SmokeTest.defaultTimeout, interval: Duration = .milliseconds(250), http: HTTPClientConfiguration = SmokeTest.http
    ) {
        self.targets = targets
        self.timeout = timeout
        self.interval = interval
        self.http = http
    }

    /// Short per-request limits and no retries: the health loop is the retry.
    public static let http = HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(5), retry: .none)

    /// The targets of `config`'s services in `environment`, on `host` and the given published ports.
    public static func targets(config: PipelineConfig, host: String, ports: [String: Int]) -> [Target] {
        config.services.map { service in
            Target(service: service.name, baseURL: "http://\(host):\(ports[service.name] ?? 0)", healthPath: service.healthPath, checks: service.smoke)
        }
    }

    /// Runs the test; `log` gets one line per result.
    public func run(log: @Sendable (String) -> Void = { _ in }) async -> SmokeReport {
        let client = HTTPClient(configuration: http)
        let started = ContinuousClock.now
        let deadline = started + timeout
        var results: [SmokeReport.Result] = []
        for target in targets {
            let url = target.baseURL + target.healthPath
            var last = "no answer yet"
            var healthy = false
            while true {
                do {
                    let response = try await client.send(HTTPRequest(url: url))
                    if response.status == 200 {
                        healthy = true
                        break
                    }
                    last = "answered \(response.status)"
                } catch let error as HTTPClientError {
                    last = error.code.description
                } catch {
                    last = "\(error)"
                }
                if Task.isCancelled || ContinuousClock.now >= deadline { break }
                // Sleep throws only on cancellation; the loop then stops at its Task.isCancelled check.
                try? await Task.sleep(for: interval)
            }
            if !healthy {
                let result = SmokeReport.Result(
                    service: target.service, url: url, status: nil, passed: false,
                    detail: "GET \(target.healthPath) did not answer 200 within \(Self.seconds(timeout)) s (last: \(last))")
                log("✗ \(target.service): \(result.detail!)")
                return SmokeReport(results: results + [result], healthySeconds: nil)
            }
            log("✓ \(target.service): GET \(target.healthPath) 200")
            results.append(SmokeReport.Result(service: target.service, url: url, status: 200, passed: true))
        }
        let healthySeconds = Self.seconds(ContinuousClock.now - started)
        for target in targets {
            for check in target.checks {
                let result = await Self.check(check, of: target, client: client)
                log(
                    (result.passed ? "✓ " : "✗ ") + "\(target.service): GET \(check.path) " + (result.status.map(String.init) ?? "no answer")
                        + (result.detail.map { " — \($0)" } ?? ""))
                results.append(result)
            }
        }
        return SmokeReport(results: results, healthySeconds: healthySeconds)
    }

    static func check(_ check: SmokeCheck, of target: Target, client: HTTPClient) async -> SmokeReport.Result {
        let url = target.baseURL + check.path
        let response: HTTPResponse
        do {
            response = try await client.send(HTTPRequest(url: url))
        } catch {
            let reason = (error as? HTTPClientError)?.code.description ?? "\(error)"
            return .init(service: target.service, url: url, status: nil, passed: false, detail: "GET \(check.path) got no answer (\(reason))")
        }
        guard response.status == 200 else {
            return .init(
                service: target.service, url: url, status: response.status, passed: false, detail: "GET \(check.path) answered \(response.status), expected 200"
            )
        }
        if check.expect == .nonEmptyList {
            // A body that is not JSON fails the check like one that is not an array.
            guard let list = try? JSONSerialization.jsonObject(with: response.body) as? [Any] else {
                return .init(service: target.service, url: url, status: 200, passed: false, detail: "GET \(check.path) did not answer a JSON array")
            }
            guard !list.isEmpty else {
                return .init(service: target.service, url: url, status: 200, passed: false, detail: "GET \(check.path) answered an empty list")
            }
        }
        return .init(service: target.service, url: url, status: 200, passed: true)
    }

    static func seconds(_ duration: Duration) -> Double {
        (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18).rounded(toPlaces: 2)
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        let factor = pow(10, Double(places))
        return (self * factor).rounded() / factor
    }
}
