import Foundation

/// Where a run keeps its Docker client configuration (`DOCKER_CONFIG`), which holds the registry login: outside the
/// repository and the run record (which workflows upload), 0700, with the PID of the run that owns it. The run's
/// `docker-logout` node deletes it; after a kill, the next run does (``removeAbandoned(parent:)``).
public enum DockerLoginDirectory {
    /// `$TMPDIR/stockops-docker-<uid>`: one per user, 0700.
    public static var defaultParent: String { NSTemporaryDirectory() + "/stockops-docker-\(getuid())" }

    /// The run's directory: its run id under `parent`.
    public static func path(for paths: RunPaths, parent: String = defaultParent) -> String {
        parent + "/" + (paths.runDirectory as NSString).lastPathComponent
    }

    /// Creates the run's directory (and `parent`) 0700 and records this process as its owner.
    public static func create(for paths: RunPaths, parent: String = defaultParent) throws -> String {
        let directory = path(for: paths, parent: parent)
        for path in [parent, directory] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard chmod(path, 0o700) == 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        }
        try PrivateFile.write(Data("\(getpid())\n".utf8), to: directory + "/owner.pid")
        return directory
    }

    /// What ``removeAbandoned(parent:)`` did.
    public struct Cleanup: Sendable, Equatable {
        /// The directories of runs that are gone, deleted.
        public var removed: [String] = []
        /// Directories of runs that are gone that could not be deleted, with why: they still hold a registry login.
        public var failed: [String: String] = [:]
    }

    /// How long a directory without `owner.pid` is left alone: the run creating it writes the file right after.
    static let ownerGrace: TimeInterval = 60

    /// Deletes the directories under `parent` whose owning process is gone (a run that was killed).
    @discardableResult
    public static func removeAbandoned(parent: String = defaultParent, now: Date = Date()) -> Cleanup {
        var cleanup = Cleanup()
        // No parent directory means no run has left a login behind.
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return cleanup }
        for name in names.sorted() {
            let directory = parent + "/" + name
            // A missing or unreadable owner.pid is handled below: no owner, so no live run keeps the directory.
            let owner = (try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8))
                .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let owner, owner > 0, kill(owner, 0) == 0 || errno == EPERM { continue }
            if owner == nil, let created = modificationDate(directory), now.timeIntervalSince(created) < ownerGrace { continue }
            do {
                try FileManager.default.removeItem(atPath: directory)
                cleanup.removed.append(directory)
            } catch {
                cleanup.failed[directory] = error.localizedDescription
            }
        }
        return cleanup
    }

    private static func modificationDate(_ path: String) -> Date? {
        // A directory that cannot be inspected counts as old: it is removed like any other without an owner.
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
