import Foundation

/// Files that may hold what a run saw (records, reports): readable by their owner only (0600).
public enum PrivateFile {
    /// Writes `data` to `path` through a temporary file created 0600 in the same directory, then renamed over it.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".partial-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        let failed = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                offset += written
            }
            return false
        }
        // The mode given to open is narrowed by the umask only; fchmod makes it exactly 0600.
        let modeSet = fchmod(fd, 0o600) == 0
        close(fd)
        guard !failed, modeSet, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
