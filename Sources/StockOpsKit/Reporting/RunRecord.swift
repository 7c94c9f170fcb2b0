import Foundation

/// `run.json`: everything a run did, outputs included with secrets removed.
public struct RunRecord: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var id: NodeID
        public var kind: NodePolicy.Kind
        public var status: NodeStatus
        public var reason: String?
        public var failureKind: StageFailure.Kind?
        public var attempts: Int
        public var started: Date?
        public var finished: Date?
        public var duration: Double
        public var cached: Bool
        public var cacheKey: String?
        /// The node's log, relative to the run directory.
        public var log: String?
        public var output: JSONValue?
        /// The nodes it depends on; absent from records written before reports drew the graph.
        public var dependencies: [NodeID]?
    }

    /// The version of this format: 1. Records written before it existed have none.
    public var schemaVersion: Int? = RunRecord.currentSchemaVersion
    public static let currentSchemaVersion = 1
    public var runID: String
    public var environment: String?
    public var status: RunStatus
    public var exitCode: Int32
    public var started: Date
    public var finished: Date
    public var duration: Double
    public var nodes: [Entry]

    public init(runID: String, environment: String?, exitCode: Int32, result: RunResult, paths: RunPaths?, graph: PipelineGraph? = nil) {
        self.runID = runID
        self.environment = environment
        self.status = result.status
        self.exitCode = exitCode
        self.started = result.started
        self.finished = result.finished
        self.duration = result.finished.timeIntervalSince(result.started)
        self.nodes = result.results.map { item in
            let logPath = paths.map { $0.logPath(for: item.id) }
            let hasLog = logPath.map { FileManager.default.fileExists(atPath: $0) } ?? false
            return Entry(
                id: item.id,
                kind: item.policy.kind,
                status: item.result.status,
                reason: item.result.reason,
                failureKind: item.result.failureKind,
                attempts: item.result.attempts,
                started: item.result.started,
                finished: item.result.finished,
                duration: item.result.duration,
                cached: item.result.status == .cached,
                cacheKey: item.result.cacheKey,
                log: hasLog ? "logs/\(item.id.fileName).log" : nil,
                // Outputs are JSON the node encoded; one that does not decode is left out rather than losing the record.
                output: result.encodedOutputs[item.id].flatMap { try? JSONDecoder().decode(JSONValue.self, from: $0) },
                dependencies: graph?.node(item.id)?.dependencies
            )
        }
    }

    /// The record as JSON, with every secret registered in ``SecretMasker/shared`` masked.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Data(SecretMasker.shared.mask(String(decoding: try encoder.encode(self), as: UTF8.self)).utf8)
    }

    /// Writes `run.json` into the run directory.
    public func write(to paths: RunPaths) throws {
        try FileManager.default.createDirectory(atPath: paths.runDirectory, withIntermediateDirectories: true)
        try PrivateFile.write(try encoded(), to: paths.runDirectory + "/run.json")
    }

    /// A new run id: UTC timestamp and a random suffix.
    public static func newRunID(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: now) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}
