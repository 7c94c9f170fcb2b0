import COpenSSL

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

    /// An incremental SHA-256 (the system's libcrypto); copying one copies its state.
    public struct Hasher: Sendable {
        private var state = SHA256_CTX()

        public init() {
            SHA256_Init(&state)
        }

        public mutating func update<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
            if bytes.withContiguousStorageIfAvailable({ SHA256_Update(&state, $0.baseAddress, $0.count) }) == nil {
                let copy = Array(bytes)
                SHA256_Update(&state, copy, copy.count)
            }
        }

        public consuming func finalize() -> Digest {
            var bytes = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
            SHA256_Final(&bytes, &state)
            return Digest(bytes: bytes)
        }
    }
}
