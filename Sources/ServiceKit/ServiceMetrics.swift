import CoreMetrics
import Hummingbird
import Metrics
import Prometheus
import Synchronization

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

    /// Latency buckets from 0.5 ms to 5 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        self.factory = factory
    }

    /// Counts one request and records its latency.
    public func record(route: String, method: String, status: Int, duration: Duration) {
        let key = Key(route: route, method: method, status: status)
        let instruments = instruments.withLock { cache in
            if let existing = cache[key] { return existing }
            let dimensions = [("route", route), ("method", method), ("status", String(status))]
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
