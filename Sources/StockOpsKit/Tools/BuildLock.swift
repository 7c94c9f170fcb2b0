import Foundation

/// One build of a commit's image at a time on this host: `flock(2)` on `<state>/builds/<name>.lock`. Two overlapping
/// runs of one commit take turns, and the later one finds the first one's image in the registry and reuses it, so
/// `git-<sha7>` is written once. The kernel releases the lock when its holder dies.
public final class BuildLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    /// Takes the lock `name` under `directory`, polling every 200 ms while another process holds it, up to `wait`;
    /// `waiting` is called once when it has to wait.
    public static func acquire(directory: String, name: String, wait: Duration, waiting: @Sendable () -> Void) async throws -> BuildLock {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" } + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StageFailure.infrastructure("cannot open the build lock \(path): \(String(cString: strerror(errno)))") }
        let deadline = ContinuousClock.now + wait
        var announced = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard ContinuousClock.now < deadline else {
                close(fd)
                throw StageFailure.transient("another run has been building \(name) for more than \(wait) (\(path))")
            }
            if !announced {
                announced = true
                waiting()
            }
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                close(fd)
                throw error
            }
        }
        return BuildLock(fd: fd)
    }

    /// Releases the lock.
    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
