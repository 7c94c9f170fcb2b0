import CSodium
import Foundation

/// The two libsodium primitives of cosign's key-file encryption: scrypt and NaCl secretbox (XSalsa20-Poly1305).
enum Sodium {
    /// `sodium_init()`, run once on first use.
    private static let ready: Bool = sodium_init() >= 0

    private static func requireReady() throws(SigningError) {
        guard ready else { throw SigningError(.cryptoFailure, "libsodium could not be initialised") }
    }

    /// scrypt(`password`, `salt`, N = `cost`, r, p) stretched to `length` bytes.
    static func scrypt(password: [UInt8], salt: [UInt8], cost: UInt64, blockSize: UInt32, parallelism: UInt32, length: Int)
        throws(SigningError) -> [UInt8]
    {
        try requireReady()
        guard length > 0 else { throw SigningError(.cryptoFailure, "scrypt needs a key length") }
        var key = [UInt8](repeating: 0, count: length)
        // libsodium wants non-null pointers even for an empty password or salt.
        let passwordStorage = password.isEmpty ? [0] : password
        let saltStorage = salt.isEmpty ? [0] : salt
        let status = passwordStorage.withUnsafeBufferPointer { passwordBuffer in
            saltStorage.withUnsafeBufferPointer { saltBuffer in
                key.withUnsafeMutableBufferPointer { keyBuffer in
                    crypto_pwhash_scryptsalsa208sha256_ll(
                        passwordBuffer.baseAddress!, password.count, saltBuffer.baseAddress!, salt.count, cost, blockSize,
                        parallelism, keyBuffer.baseAddress!, keyBuffer.count)
                }
            }
        }
        guard status == 0 else {
            throw SigningError(.cryptoFailure, "scrypt failed for N=\(cost), r=\(blockSize), p=\(parallelism) (out of memory?)")
        }
        return key
    }

    /// Overwrites `bytes` with zeros (key material no longer needed).
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            sodium_memzero(base, buffer.count)
        }
    }

    /// Opens a secretbox (`ciphertext` = 16-byte Poly1305 tag followed by the data); nil when the tag does not match.
    static func secretboxOpen(_ ciphertext: [UInt8], nonce: [UInt8], key: [UInt8]) throws(SigningError) -> [UInt8]? {
        try requireReady()
        guard nonce.count == Int(crypto_secretbox_NONCEBYTES), key.count == Int(crypto_secretbox_KEYBYTES) else {
            throw SigningError(
                .invalidKey, "a secretbox needs a \(crypto_secretbox_NONCEBYTES)-byte nonce and a \(crypto_secretbox_KEYBYTES)-byte key")
        }
        let tagLength = Int(crypto_secretbox_MACBYTES)
        guard ciphertext.count > tagLength else { return nil }
        var message = [UInt8](repeating: 0, count: ciphertext.count - tagLength)
        let status = ciphertext.withUnsafeBufferPointer { ciphertext in
            nonce.withUnsafeBufferPointer { nonce in
                key.withUnsafeBufferPointer { key in
                    message.withUnsafeMutableBufferPointer { message in
                        crypto_secretbox_open_easy(
                            message.baseAddress!, ciphertext.baseAddress!, UInt64(ciphertext.count), nonce.baseAddress!,
                            key.baseAddress!)
                    }
                }
            }
        }
        return status == 0 ? message : nil
    }
}
