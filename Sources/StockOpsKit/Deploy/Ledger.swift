import Foundation

/// One line of an environment's deploy ledger: a deploy or rollback, what it put live and how it ended.
public struct LedgerEntry: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        /// A pipeline deploy of a newly promoted tag.
        case deploy
        /// `stockops rollback`.
        case rollback
        /// The return to the previous good tag after a deploy or rollback failed its smoke test.
        case autoRollback = "auto-rollback"
    }

    public enum Outcome: String, Codable, Sendable {
        /// The tag is live and passed its smoke test.
        case succeeded
        /// The tag was started but failed to come up or failed its smoke test.
        case failed
    }

    /// When the entry was written (UTC).
    public var time: Date
    public var environment: Environment
    public var action: Action
    public var tag: String
    /// The manifest digest of each service's image under `tag`.
    public var images: [String: String]
    public var outcome: Outcome
    /// Who ran it: the GitHub actor in Actions, else the local user.
    public var actor: String
    /// Who approved it, for environments that need an approval.
    public var approver: String?
    /// The tag live before this entry.
    public var previousTag: String?
    /// True when `--force-unverified` overrode a check: that the digests passed stage, their signatures, or that a
    /// rollback target was trusted.
    public var forceUnverified: Bool?
    /// True when every digest's signature verified before it ran; false when it did not and `--force-unverified`
    /// overrode it; nil where the environment does not verify (`verify: none`).
    public var signaturesVerified: Bool?
    /// The run (`.stockops/runs/<run-id>`) that wrote the entry.
    public var runID: String?
    /// Why it failed, or what it rolled back from.
    public var detail: String?
    /// Seconds from taking the lock to the end of the smoke test.
    public var seconds: Double?
    /// A canary deploy's analysis: both versions' figures and the verdict.
    public var analysis: CanaryAnalysis?

    public init(
        time: Date = Date(), environment: Environment, action: Action, tag: String, images: [String: String], outcome: Outcome,
        actor: String, approver: String? = nil, previousTag: String? = nil, forceUnverified: Bool? = nil, signaturesVerified: Bool? = nil,
        runID: String? = nil, detail: String? = nil, seconds: Double? = nil
    ) {
        self.signaturesVerified = signaturesVerified
        self.time = time
        self.environment = environment
        self.action = action
        self.tag = tag
        self.images = images
        self.outcome = outcome
        self.actor = actor
        self.approver = approver
        self.previousTag = previousTag
        self.forceUnverified = forceUnverified
        self.runID = runID
        self.detail = detail
        self.seconds = seconds
    }
}

/// A line of the ledger that could not be read.
public struct LedgerProblem: Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    public var message: String

    public var description: String { "line \(line): \(message)" }
}

/// What reading a ledger found: the entries in order, and the lines that were skipped.
public struct LedgerContents: Sendable {
    public var entries: [LedgerEntry]
    public var problems: [LedgerProblem]

    /// The last entry: what was last put live.
    public var last: LedgerEntry? { entries.last }

    /// The newest entry that succeeded with another tag than `tag`: where a failed `tag` returns to.
    public func previousGood(excluding tag: String?) -> LedgerEntry? {
        entries.last { $0.outcome == .succeeded && $0.tag != tag }
    }

    /// The newest successful entry.
    public var lastGood: LedgerEntry? { entries.last { $0.outcome == .succeeded } }
}

/// The ledger could not be written or read.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "ledger \(path): \(message)" }
}

/// The append-only deploy ledger of one environment: `<state>/<env>.ledger.jsonl`, one JSON object per line.
///
/// Appends use `O_APPEND` and `fsync`, so an entry that was reported written survives a crash. Reading is tolerant:
/// a torn last line (a write cut short) or a line that is not an entry is reported as a ``LedgerProblem`` and skipped.
public struct Ledger: Sendable {
    public let path: String
    public let environment: Environment

    public init(stateDirectory: String, environment: Environment) {
        self.environment = environment
        path = stateDirectory + "/" + environment.rawValue + ".ledger.jsonl"
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Appends `entry` as one line and flushes it to disk.
    public func append(_ entry: LedgerEntry) throws(LedgerError) {
        var line: Data
        do {
            line = try Self.encoder.encode(entry)
        } catch {
            throw LedgerError(path: path, message: "the entry cannot be encoded: \(error)")
        }
        line.append(UInt8(ascii: "\n"))
        let directory = (path as NSString).deletingLastPathComponent
        let existed = FileManager.default.fileExists(atPath: path)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LedgerError(path: path, message: "cannot create \(directory): \(error.localizedDescription); set STOCKOPS_STATE_DIR to a writable directory")
        }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LedgerError(
                path: path, message: "cannot open for appending: \(String(cString: strerror(errno))); set STOCKOPS_STATE_DIR to a writable directory")
        }
        defer { close(fd) }
        // A torn last line (a crash mid-write) stays on a line of its own.
        if Self.endsWithoutNewline(fd) { line.insert(UInt8(ascii: "\n"), at: 0) }
        let failure: Int32? = line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure {
            throw LedgerError(path: path, message: "write failed: \(String(cString: strerror(failure)))")
        }
        guard fsync(fd) == 0 else {
            throw LedgerError(path: path, message: "fsync failed: \(String(cString: strerror(errno)))")
        }
        if !existed {
            let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directoryFD >= 0 {
                _ = fsync(directoryFD)
                close(directoryFD)
            }
        }
    }

    private static func endsWithoutNewline(_ fd: Int32) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return false }
        var last: UInt8 = 0
        return pread(fd, &last, 1, info.st_size - 1) == 1 && last != UInt8(ascii: "\n")
    }

    /// Every readable entry, oldest first; a missing file is an empty ledger.
    public func read() throws(LedgerError) -> LedgerContents {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw LedgerError(path: path, message: "cannot be read; check its permissions")
            }
            return LedgerContents(entries: [], problems: [])
        }
        return Self.parse(data)
    }

    /// Parses ledger text: entries in order and the lines skipped.
    static func parse(_ data: Data) -> LedgerContents {
        var entries: [LedgerEntry] = []
        var problems: [LedgerProblem] = []
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let complete = data.last == UInt8(ascii: "\n")
        for (index, line) in lines.enumerated() where !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) {
            do {
                entries.append(try decoder.decode(LedgerEntry.self, from: Data(line)))
            } catch {
                let isLast = index == lines.count - 1
                let message =
                    isLast && !complete
                    ? "incomplete last line (a write was interrupted); ignored"
                    : "not a ledger entry (\(Self.describe(error))); ignored"
                problems.append(LedgerProblem(line: index + 1, message: message))
            }
        }
        return LedgerContents(entries: entries, problems: problems)
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "no \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath.isEmpty ? "invalid JSON" : "invalid \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "invalid JSON"
        }
    }
}

/// Where deploy state (ledgers and locks) lives: `$STOCKOPS_STATE_DIR` (relative to the root when relative); on a CI
/// runner (`GITHUB_ACTIONS=true`), whose checkout wipes the workspace at the start of every job, outside it:
/// `/var/lib/stockops` when writable, else `$XDG_STATE_HOME/stockops` (`~/.local/state/stockops`); elsewhere
/// `<root>/.stockops/state`.
public enum StateDirectory {
    public static func resolve(root: String, environment: RunEnvironment) -> String {
        if let configured = environment.stateDirectory {
            return configured.hasPrefix("/") ? configured : root + "/" + configured
        }
        guard environment.isGitHubActions else { return root + "/.stockops/state" }
        if writable("/var/lib/stockops") { return "/var/lib/stockops" }
        return environment.userStateDirectory + "/stockops"
    }

    /// Where node results are cached: `$STOCKOPS_NODE_CACHE_DIR`; on a CI runner `$XDG_CACHE_HOME/stockops/results`
    /// (`~/.cache/stockops/results`); elsewhere `<root>/.stockops/cache`.
    public static func cache(root: String, environment: RunEnvironment) -> String {
        if let configured = environment.nodeCacheDirectory {
            return configured.hasPrefix("/") ? configured : root + "/" + configured
        }
        guard environment.isGitHubActions else { return root + "/.stockops/cache" }
        return environment.userCacheDirectory + "/stockops/results"
    }

    /// Where the SwiftPM builds of the test and build nodes live (`--scratch-path`), so that a runner's next job
    /// compiles only what changed: `$STOCKOPS_SWIFTPM_DIR/<scope>`; on a CI runner
    /// `$XDG_CACHE_HOME/stockops/swiftpm/<scope>`; elsewhere nil (the package's `.build`, `images.scratch-path`).
    /// The scope is the environment, or `pull-request` for a pull-request event: code of one trust domain never
    /// compiles into another's build directory.
    public static func swiftPM(root: String, environment: RunEnvironment, deploying: Environment) -> String? {
        let scope = environment.pullRequestEvent == nil ? deploying.rawValue : "pull-request"
        if let configured = environment.swiftPMDirectory {
            return (configured.hasPrefix("/") ? configured : root + "/" + configured) + "/" + scope
        }
        guard environment.isGitHubActions else { return nil }
        return environment.userCacheDirectory + "/stockops/swiftpm/" + scope
    }

    /// Whether `path` is a directory this process may write, or could be created as one.
    static func writable(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue && access(path, W_OK) == 0
        }
        let parent = (path as NSString).deletingLastPathComponent
        return access(parent, W_OK) == 0
    }
}
