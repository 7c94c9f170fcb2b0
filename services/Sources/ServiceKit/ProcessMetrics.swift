import Foundation
import Prometheus
import Synchronization

/// What the process uses, read from `/proc/self` at each scrape, under the names Prometheus' own client libraries
/// give them: `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
/// `process_open_fds`, `process_max_fds` and `process_start_time_seconds`.
public struct ProcessSample: Sendable, Equatable {
    public var cpuSeconds: Double
    public var residentBytes: Double
    public var virtualBytes: Double
    public var startTimeSeconds: Double
    public var openFileDescriptors: Double
    public var maxFileDescriptors: Double

    /// The sample of this process; nil where `/proc` is not mounted.
    public static func current() -> ProcessSample? {
        // No /proc means no sample, as documented.
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let bootTime = bootTime(procStat: system)
        else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard var sample = parse(selfStat: stat, ticksPerSecond: ticks, pageSize: pageSize, bootTime: bootTime) else { return nil }
        // /proc was readable above; should /proc/self/fd not be, the count reads 0.
        sample.openFileDescriptors = Double(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { sample.maxFileDescriptors = Double(limit.rlim_cur) }
        return sample
    }

    /// CPU time, memory and start time from `/proc/self/stat` (proc(5)): fields 14 and 15 (utime, stime) and 22
    /// (starttime) in clock ticks, 23 (vsize) in bytes, 24 (rss) in pages. The command name, field 2, may hold spaces
    /// and parentheses, so the fields are counted after its last `)`.
    static func parse(selfStat: String, ticksPerSecond: Double, pageSize: Double, bootTime: Double) -> ProcessSample? {
        guard let close = selfStat.lastIndex(of: ")") else { return nil }
        let fields = selfStat[selfStat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state).
        func field(_ number: Int) -> Double? { number - 3 < fields.count ? Double(fields[number - 3]) : nil }
        guard ticksPerSecond > 0, let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24) else {
            return nil
        }
        return ProcessSample(
            cpuSeconds: (user + system) / ticksPerSecond, residentBytes: resident * pageSize, virtualBytes: virtual,
            startTimeSeconds: bootTime + start / ticksPerSecond, openFileDescriptors: 0, maxFileDescriptors: 0)
    }

    /// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
    static func bootTime(procStat: String) -> Double? {
        procStat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces)) }
    }
}

/// The process gauges of one registry, set from a ``ProcessSample`` at each scrape.
final class ProcessGauges: Sendable {
    private let cpu: Counter
    private let reportedCPU = Mutex<Double>(0)
    private let resident: Gauge
    private let virtual: Gauge
    private let start: Gauge
    private let open: Gauge
    private let max: Gauge

    init(registry: PrometheusCollectorRegistry) {
        cpu = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "process_cpu", unitName: "seconds_total", helpText: "User and system CPU time spent, in seconds"))
        resident = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "process_resident_memory", unitName: "bytes", helpText: "Resident memory size in bytes"))
        virtual = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "process_virtual_memory", unitName: "bytes", helpText: "Virtual memory size in bytes"))
        start = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "process_start_time", unitName: "seconds", helpText: "Start time of the process since the epoch, in seconds"))
        open = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "process_open", unitName: "fds", helpText: "Open file descriptors"))
        max = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "process_max", unitName: "fds", helpText: "The limit of open file descriptors"))
    }

    func set(_ sample: ProcessSample) {
        // A counter only goes up: it is advanced by what was used since the last scrape.
        let advance = reportedCPU.withLock { reported in
            let delta = Swift.max(0, sample.cpuSeconds - reported)
            reported += delta
            return delta
        }
        if advance > 0 { cpu.increment(by: advance) }
        resident.set(to: sample.residentBytes)
        virtual.set(to: sample.virtualBytes)
        start.set(to: sample.startTimeSeconds)
        open.set(to: sample.openFileDescriptors)
        max.set(to: sample.maxFileDescriptors)
    }
}
