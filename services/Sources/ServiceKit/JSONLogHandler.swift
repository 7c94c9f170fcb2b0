import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler writing one JSON object per line to standard output:
/// `{"ts":…,"level":…,"service":…,"message":…,<metadata>}`, keys sorted.
public struct JSONLogHandler: LogHandler {
    /// The metadata key of the request id, which Hummingbird sets on each request's logger; written as `request_id`.
    public static let requestIDKey = "hb.request.id"

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        render(event).withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }

    /// The line `log(event:)` writes, newline included.
    public func render(_ event: LogEvent) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("ts", Self.timestamp())
        writer.field("level", event.level.rawValue)
        writer.field("service", label)
        writer.field("message", event.message.description)
        var merged = metadata
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        let named = merged.map { key, value in (key == Self.requestIDKey ? "request_id" : key, value) }
        for (key, value) in named.sorted(by: { $0.0 < $1.0 }) {
            writer.key(key)
            Self.writeValue(value, to: &writer)
        }
        if let error = event.error {
            writer.field("error", String(describing: error))
        }
        if event.level >= .error {
            writer.field("source", "\(event.source):\(event.line)")
        }
        writer.endObject()
        var line = writer.utf8
        line.append(UInt8(ascii: "\n"))
        return line
    }

    static func writeValue(_ value: Logger.MetadataValue, to writer: inout JSONWriter) {
        switch value {
        case .string(let string): writer.string(string)
        case .stringConvertible(let convertible as Int): writer.number(convertible)
        case .stringConvertible(let convertible as Double) where convertible.isFinite: writer.number(text: "\(convertible)")
        case .stringConvertible(let convertible): writer.string(convertible.description)
        case .array(let values):
            writer.beginArray()
            for value in values { writeValue(value, to: &writer) }
            writer.endArray()
        case .dictionary(let dictionary):
            writer.beginObject()
            for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                writeValue(value, to: &writer)
            }
            writer.endObject()
        }
    }

    /// The current time in RFC 3339 with milliseconds, UTC.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(spec.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(spec.tv_nsec / 1_000_000))
    }
}
