import Foundation

/// One run of `.stockops/runs/`: a pipeline run (`run.json`) or a rollback (`rollback.json`).
public struct RunSummary: Codable, Sendable, Equatable {
    public var runID: String
    /// `run` or `rollback`.
    public var kind: String
    public var environment: String?
    /// `passed`, `failed` or `cancelled`.
    public var status: String
    public var exitCode: Int32?
    public var started: Date?
    public var duration: Double?
    /// The failed and timed-out nodes of a run; the error of a rollback.
    public var failed: [String]
    public var directory: String
}

/// The runs kept under `<root>/.stockops/runs/`: listed newest first, read back, pruned. Returns values; the CLI
/// renders them.
public enum RunHistory {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static func directory(root: String) -> String { root + "/.stockops/runs" }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Every run, newest first (run ids begin with their UTC start time); directories without a readable record are
    /// listed as `unknown`.
    public static func list(root: String) -> [RunSummary] {
        let base = directory(root: root)
        // No runs directory means no runs yet.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { !$0.hasPrefix(".") }.sorted(by: >)
        return names.map { summary(runID: $0, directory: base + "/" + $0) }
    }

    static func summary(runID: String, directory: String) -> RunSummary {
        // Directories without a readable record are listed as unknown.
        if let data = FileManager.default.contents(atPath: directory + "/run.json"), let record = try? decoder.decode(RunRecord.self, from: data) {
            return RunSummary(
                runID: runID, kind: "run", environment: record.environment, status: record.status.rawValue, exitCode: record.exitCode, started: record.started,
                duration: record.duration, failed: record.nodes.filter { $0.status == .failed || $0.status == .timedOut }.map(\.id.description),
                directory: directory)
        }
        struct Rollback: Decodable {
            var status: String
            var error: String?
            var deployment: Deployment?
        }
        // Not a rollback record either: listed as unknown below.
        if let data = FileManager.default.contents(atPath: directory + "/rollback.json"), let rollback = try? decoder.decode(Rollback.self, from: data) {
            return RunSummary(
                runID: runID, kind: "rollback", environment: rollback.deployment?.environment.rawValue, status: rollback.status, exitCode: nil, started: nil,
                duration: rollback.deployment?.seconds, failed: rollback.error.map { [$0] } ?? [], directory: directory)
        }
        return RunSummary(
            runID: runID, kind: "unknown", environment: nil, status: "unknown", exitCode: nil, started: nil, duration: nil, failed: [], directory: directory)
    }

    /// The record of `runID` (the newest run when nil).
    public static func record(root: String, runID: String?) throws(Failure) -> (RunRecord, RunPaths) {
        let runs = list(root: root).filter { $0.kind == "run" }
        guard let chosen = runID.map({ id in runs.first { $0.runID == id || $0.runID.hasPrefix(id) } }) ?? runs.first else {
            throw Failure(
                message: runID.map { "no pipeline run \($0) under \(directory(root: root)); `stockops runs list` shows them" }
                    ?? "no pipeline run under \(directory(root: root)) yet")
        }
        guard let data = FileManager.default.contents(atPath: chosen.directory + "/run.json") else {
            throw Failure(message: "\(chosen.directory)/run.json cannot be read")
        }
        do {
            return (try decoder.decode(RunRecord.self, from: data), RunPaths(root: root, runDirectory: chosen.directory))
        } catch {
            throw Failure(message: "\(chosen.directory)/run.json is not a run record: \(error)")
        }
    }

    /// The failed nodes of a recorded run, with the end of their logs.
    public static func failures(_ record: RunRecord, paths: RunPaths, lines: Int = 20) -> [FailedNode] {
        record.nodes.filter { $0.status == .failed || $0.status == .timedOut }.map { node in
            let path = paths.logPath(for: node.id)
            return FailedNode(id: node.id, reason: node.reason ?? node.status.rawValue, logPath: path, tail: FailureDigest.tail(of: path, lines: lines))
        }
    }

    /// Deletes all but the `keep` newest runs; returns the ids removed.
    public static func prune(root: String, keep: Int) throws(Failure) -> [String] {
        let removed = list(root: root).dropFirst(max(0, keep))
        for run in removed {
            do {
                try FileManager.default.removeItem(atPath: run.directory)
            } catch {
                throw Failure(message: "cannot remove \(run.directory): \(error.localizedDescription)")
            }
        }
        return removed.map(\.runID)
    }
}
