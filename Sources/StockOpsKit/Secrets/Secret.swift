import Foundation

/// A sensitive string that does not print itself.
///
/// `description`, `debugDescription`, `dump` and string interpolation show `[REDACTED]`, and
/// `Codable` encodes `"[REDACTED]"`, so a secret embedded in a logged or recorded value never
/// leaks. The value is read with ``reveal()``, handed to a child process through
/// ``makeStandardInput()`` or ``withTemporaryFile(_:)`` (never through argv, which any user can
/// read from `/proc`), and masked in output once registered with ``SecretMasker``.
public struct Secret: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// What a secret prints as.
    public static let redacted = "[REDACTED]"

    private let value: String

    public init(_ value: String) { self.value = value }

    /// The value itself; keep it out of logs, arguments and records.
    public func reveal() -> String { value }

    public var isEmpty: Bool { value.isEmpty }

    public var description: String { Self.redacted }
    public var debugDescription: String { Self.redacted }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Registers the value with `masker` so that it is masked in output, and returns the secret.
    @discardableResult
    public func registered(in masker: SecretMasker = .shared) -> Secret {
        masker.register(self)
        return self
    }

    /// Decodes a plain string.
    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes `"[REDACTED]"`, never the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Self.redacted)
    }

    /// A read end of a pipe that yields the value and then end of file, for `Process.standardInput`.
    ///
    /// The value is written from a separate thread, so values larger than the pipe buffer do not block the caller.
    public func makeStandardInput() throws -> FileHandle {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SecretFileError(code: .pipeFailed, errno: errno) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let bytes = Array(value.utf8)
        Thread.detachNewThread {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { break }
                offset += written
            }
            close(writeEnd)
        }
        return FileHandle(fileDescriptor: readEnd, closeOnDealloc: true)
    }

    /// Writes the value to a new file readable only by this user (mode 0600), passes its path to
    /// `body`, and deletes the file when `body` returns or throws.
    public func withTemporaryFile<Result>(
        in directory: String = NSTemporaryDirectory(), _ body: (String) throws -> Result
    ) throws -> Result {
        let path = try writeTemporaryFile(in: directory)
        defer { unlink(path) }
        return try body(path)
    }

    /// Writes the value to a new file readable only by this user (mode 0600), passes its path to
    /// `body`, and deletes the file when `body` returns or throws.
    public func withTemporaryFile<Result>(
        in directory: String = NSTemporaryDirectory(), _ body: (String) async throws -> Result
    ) async throws -> Result {
        let path = try writeTemporaryFile(in: directory)
        defer { unlink(path) }
        return try await body(path)
    }

    private func writeTemporaryFile(in directory: String) throws -> String {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        var template = Array((base + "stockops-secret-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SecretFileError(code: .createFailed, errno: errno) }
        defer { close(fd) }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard fchmod(fd, 0o600) == 0 else {
            let error = errno
            unlink(path)
            throw SecretFileError(code: .createFailed, errno: error)
        }
        let bytes = Array(value.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let error = errno
                unlink(path)
                throw SecretFileError(code: .writeFailed, errno: error)
            }
            offset += written
        }
        return path
    }
}

/// Handing a secret to a child process failed.
public struct SecretFileError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case pipeFailed, createFailed, writeFailed
    }

    public let code: Code
    public let errno: Int32

    public var description: String { "\(code.rawValue): \(String(cString: strerror(errno)))" }
}
