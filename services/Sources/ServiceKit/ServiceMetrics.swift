import CoreMetrics
import Foundation
import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// Which build of a service runs: its name, version (`git-<sha7>`) and full commit.
public struct BuildInfo: Sendable, Equatable {
    public var service: String
    public var version: String
    public var revision: String

    public init(service: String, version: String, revision: String) {
        self.service = service
        self.version = version
        self.revision = revision
    }

    /// From the image's `SERVICE_REVISION` (the commit it was built from, set by the build node): version
    /// `git-<sha7>`, or `unknown` for both outside an image.
    public static func fromEnvironment(service: String, _ environment: [String: String] = ProcessInfo.processInfo.environment) -> BuildInfo {
        let revision = environment["SERVICE_REVISION"].flatMap { value -> String? in
            value.count >= 7 && value.allSatisfy(\.isHexDigit) ? value.lowercased() : nil
        }
        return BuildInfo(service: service, version: revision.map { "git-" + $0.prefix(7) } ?? "unknown", revision: revision ?? "unknown")
    }
}

/// Per-route request counts and latency histograms, exported in the Prometheus text
/// format on `GET /metrics`. Each instance has its own registry, so applications built
/// side by side (as in tests) do not share counters.
public final class ServiceMetrics: Sendable {
    /// The registry that `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory writing into `registry` (bootstrap it globally if wanted).
    public let factory: PrometheusMetricsFactory

    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private struct Instruments: Sendable {
        var counter: CoreMetrics.Counter
        var timer: CoreMetrics.Timer
    }

    private let instruments = Mutex<[Key: Instruments]>([:])
    private let poolInUse: Prometheus.Gauge
    private let poolIdle: Prometheus.Gauge
    private let poolWaiting: Prometheus.Gauge
    private let process: ProcessGauges

    /// Latency buckets from 0.5 ms to 5 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5),
    ]

    /// `build` adds `stockops_build_info{service,version,revision} 1`: which build answers, seen from outside.
    public init(build: BuildInfo? = nil) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        self.factory = factory
        let connections = MetricNameDescriptor(metricName: "db_pool", unitName: "connections", helpText: "The database pool's connections by state")
        poolInUse = registry.makeGauge(descriptor: connections, labels: [("state", "in_use")])
        poolIdle = registry.makeGauge(descriptor: connections, labels: [("state", "idle")])
        poolWaiting = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "db_pool", unitName: "waiting", helpText: "Requests waiting for a database connection"))
        process = ProcessGauges(registry: registry)
        if let build {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "stockops", metricName: "build", unitName: "info", helpText: "The build of the service answering: 1"),
                labels: [("service", build.service), ("version", build.version), ("revision", build.revision)]
            ).set(to: 1)
        }
    }

    /// The methods counted under their own name; any other is counted as `other`, so a client cannot grow the label.
    public static let countedMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// Counts one request and records its latency.
    public func record(route: String, method: String, status: Int, duration: Duration) {
        let key = Key(route: route, method: Self.countedMethods.contains(method) ? method : "other", status: status)
        let instruments = instruments.withLock { cache in
            if let existing = cache[key] { return existing }
            let dimensions = [("route", key.route), ("method", key.method), ("status", String(status))]
            let created = Instruments(
                counter: CoreMetrics.Counter(label: "http_requests_total", dimensions: dimensions, factory: factory),
                timer: CoreMetrics.Timer(
                    label: "http_request_duration_seconds", dimensions: dimensions,
                    preferredDisplayUnit: .seconds, factory: factory))
            cache[key] = created
            return created
        }
        instruments.counter.increment()
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        instruments.timer.recordNanoseconds(nanoseconds)
    }

    /// Sets the pool and process gauges; `/metrics` calls it before rendering.
    public func observe(inUse: Int, idle: Int, waiting: Int, process sample: ProcessSample? = ProcessSample.current()) {
        poolInUse.set(to: Double(inUse))
        poolIdle.set(to: Double(idle))
        poolWaiting.set(to: Double(waiting))
        if let sample { process.set(sample) }
    }

    /// The metrics in the Prometheus text exposition format.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }

    /// The `GET /metrics` response.
    public func response() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: render())))
    }
}
