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

    /// Deletes the directories under `parent` whose owning process is gone (a run that was killed); returns them.
    @discardableResult
    public static func removeAbandoned(parent: String = defaultParent) -> [String] {
        // No parent directory means no run has left a login behind.
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
        var removed: [String] = []
        for name in names {
            let directory = parent + "/" + name
            // A directory without a readable owner.pid has no live owner to keep it.
            let owner = (try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8))
                .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let owner, owner > 0, kill(owner, 0) == 0 || errno == EPERM { continue }
            if (try? FileManager.default.removeItem(atPath: directory)) != nil { removed.append(directory) }
        }
        return removed
    }
}
