import Crypto

/// A SHA-256 digest.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Lowercase hexadecimal rendering.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { "sha256:" + hex }

    public static func sha256(_ text: String) -> Digest {
        sha256(Array(text.utf8))
    }

    public static func sha256<Bytes: Collection<UInt8>>(_ message: Bytes) -> Digest {
        var hasher = Hasher()
        hasher.update(message)
        return hasher.finalize()
    }

    /// An incremental SHA-256: swift-crypto's (BoringSSL's on Linux).
    public struct Hasher: Sendable {
        private var state = Crypto.SHA256()

        public init() {}

        public mutating func update<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
            if bytes.withContiguousStorageIfAvailable({ state.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
                state.update(data: Array(bytes))
            }
        }

        public consuming func finalize() -> Digest {
            Digest(bytes: Array(state.finalize()))
        }
    }
}
