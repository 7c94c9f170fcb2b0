import COpenSSL
import Foundation

/// ECDSA over NIST P-256 with SHA-256 (cosign's key-pair algorithm), from the system's libcrypto.
public enum P256 {
    public enum Signing {
        /// A P-256 private key.
        public struct PrivateKey: Sendable {
            let key: EVPKey

            /// A new random key.
            public init() {
                guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
                    preconditionFailure("libcrypto has no EC key generator: \(CryptoError.last("EVP_PKEY_CTX_new_from_name"))")
                }
                defer { EVP_PKEY_CTX_free(context) }
                var generated: OpaquePointer?
                guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1,
                    EVP_PKEY_generate(context, &generated) == 1, let generated
                else { preconditionFailure("generating a P-256 key failed: \(CryptoError.last("EVP_PKEY_generate"))") }
                key = EVPKey(generated)
            }

            /// The key of a PKCS#8 `PrivateKeyInfo` (or SEC1 `ECPrivateKey`) DER encoding.
            public init<Bytes: DataProtocol>(derRepresentation der: Bytes) throws(CryptoError) {
                key = try EVPKey.p256(decoding(der) { d2i_AutoPrivateKey(nil, $0, $1) }, orElse: "the private key is not DER")
            }

            /// Its public key.
            public var publicKey: PublicKey {
                // The SubjectPublicKeyInfo of a key that libcrypto generated or parsed always encodes and parses again.
                try! PublicKey(derRepresentation: key.subjectPublicKeyInfo())
            }

            /// The PKCS#8 `PrivateKeyInfo` DER encoding.
            public var derRepresentation: Data {
                guard let info = EVP_PKEY2PKCS8(key.pointer) else { preconditionFailure("\(CryptoError.last("EVP_PKEY2PKCS8"))") }
                defer { PKCS8_PRIV_KEY_INFO_free(info) }
                return Data(encoded { i2d_PKCS8_PRIV_KEY_INFO(info, $0) })
            }

            /// The ECDSA signature of SHA-256(`data`).
            public func signature<Bytes: DataProtocol>(for data: Bytes) throws(CryptoError) -> ECDSASignature {
                let message = [UInt8](data)
                guard let context = EVP_MD_CTX_new() else { throw CryptoError.last("EVP_MD_CTX_new") }
                defer { EVP_MD_CTX_free(context) }
                guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else {
                    throw CryptoError.last("EVP_DigestSignInit")
                }
                var length = 0
                guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw CryptoError.last("EVP_DigestSign") }
                var signature = [UInt8](repeating: 0, count: length)
                guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
                    throw CryptoError.last("EVP_DigestSign")
                }
                return try ECDSASignature(derRepresentation: signature.prefix(length))
            }
        }

        /// A P-256 public key.
        public struct PublicKey: Sendable {
            let key: EVPKey

            /// The key of a DER `SubjectPublicKeyInfo` (the body of a PEM `PUBLIC KEY` block).
            public init<Bytes: DataProtocol>(derRepresentation der: Bytes) throws(CryptoError) {
                key = try EVPKey.p256(
                    decoding(der) { d2i_PUBKEY(nil, $0, $1) }, orElse: "the public key is not a DER SubjectPublicKeyInfo")
            }

            /// The key of the first `PUBLIC KEY` block of `pem`.
            public init(pemRepresentation pem: String) throws(CryptoError) {
                let block: PEMBlock?
                do {
                    block = try PEMBlock.all(in: pem).first { $0.type == "PUBLIC KEY" }
                } catch {
                    throw CryptoError("\(error)")
                }
                guard let block else { throw CryptoError("no PUBLIC KEY PEM block") }
                try self.init(derRepresentation: block.bytes)
            }

            /// The DER `SubjectPublicKeyInfo`.
            public var derRepresentation: Data { Data(key.subjectPublicKeyInfo()) }

            /// The PEM `PUBLIC KEY` block (the `cosign.pub` format), base64 in lines of 64 characters.
            public var pemRepresentation: String {
                let base64 = derRepresentation.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                return "-----BEGIN PUBLIC KEY-----\n\(base64)\n-----END PUBLIC KEY-----"
            }

            /// True when `signature` is this key's ECDSA signature of SHA-256(`data`).
            public func isValidSignature<Bytes: DataProtocol>(_ signature: ECDSASignature, for data: Bytes) -> Bool {
                let message = [UInt8](data)
                guard let context = EVP_MD_CTX_new() else { return false }
                defer { EVP_MD_CTX_free(context) }
                guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else {
                    ERR_clear_error()
                    return false
                }
                let valid = EVP_DigestVerify(context, signature.der, signature.der.count, message, message.count) == 1
                ERR_clear_error()
                return valid
            }
        }

        /// An ECDSA signature: the DER `SEQUENCE { r INTEGER, s INTEGER }` cosign writes, base64-encoded.
        public struct ECDSASignature: Sendable {
            let der: [UInt8]

            /// A DER signature, checked and re-encoded canonically.
            public init<Bytes: DataProtocol>(derRepresentation der: Bytes) throws(CryptoError) {
                guard let parsed = decoding(der, { d2i_ECDSA_SIG(nil, $0, $1) }) else { throw CryptoError.last("the signature is not a DER ECDSA-Sig-Value") }
                defer { ECDSA_SIG_free(parsed) }
                self.der = encoded { i2d_ECDSA_SIG(parsed, $0) }
            }

            public var derRepresentation: Data { Data(der) }
        }
    }
}

/// A failure of libcrypto, with its own reason when it gave one.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// `context`, with the reason libcrypto queued last (the queue is then emptied).
    static func last(_ context: String) -> CryptoError {
        let code = ERR_peek_last_error()
        defer { ERR_clear_error() }
        guard code != 0 else { return CryptoError(context) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return CryptoError("\(context): \(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}

/// An `EVP_PKEY`, freed with its last reference; libcrypto allows concurrent signing and verifying with one key.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// `decoded` as a P-256 key; throws `failure` (with libcrypto's reason) when nothing was decoded.
    static func p256(_ decoded: OpaquePointer?, orElse failure: String) throws(CryptoError) -> EVPKey {
        guard let decoded else { throw CryptoError.last(failure) }
        let key = EVPKey(decoded)
        try key.requireP256()
        return key
    }

    /// Refuses a key that is not an elliptic-curve key on P-256 (`prime256v1`).
    func requireP256() throws(CryptoError) {
        guard EVP_PKEY_is_a(pointer, "EC") == 1 else { throw CryptoError("the key is not an elliptic-curve key") }
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 else {
            throw CryptoError.last("the key names no curve")
        }
        let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard curve == "prime256v1" || curve == "P-256" else { throw CryptoError("the key is on curve \(curve), not P-256") }
    }

    /// The DER `SubjectPublicKeyInfo` of the key's public part.
    func subjectPublicKeyInfo() -> [UInt8] { encoded { i2d_PUBKEY(pointer, $0) } }
}

/// What an OpenSSL `d2i_…` function decodes from `der` (given a cursor to the bytes and their count).
private func decoding<Bytes: DataProtocol>(
    _ der: Bytes, _ decode: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?
) -> OpaquePointer? {
    [UInt8](der).withUnsafeBufferPointer { buffer in
        var cursor = buffer.baseAddress
        return decode(&cursor, buffer.count)
    }
}

/// The bytes an OpenSSL `i2d_…` function writes: it is called once for the length, then to write.
private func encoded(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8] {
    let length = encode(nil)
    guard length > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: Int(length))
    bytes.withUnsafeMutableBufferPointer { buffer in
        var cursor = buffer.baseAddress
        _ = encode(&cursor)
    }
    return bytes
}
