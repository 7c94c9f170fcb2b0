import Foundation
import Synchronization

/// A private key from cosign's encrypted key file (`cosign generate-key-pair`): a PEM block of type
/// `ENCRYPTED SIGSTORE PRIVATE KEY` (older: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is the JSON
/// `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`.
///
/// The key is scrypt(password, salt, N, r, p) of 32 bytes; the ciphertext opens with NaCl secretbox to the PKCS#8 DER
/// of an ECDSA P-256 key. Like cosign, a SEC1 (`EC PRIVATE KEY`) body is rejected.
public struct CosignPrivateKey: Sendable {
    /// The PEM types of cosign key files, current first.
    public static let pemTypes = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"]

    public let signingKey: P256.Signing.PrivateKey

    public init(signingKey: P256.Signing.PrivateKey) {
        self.signingKey = signingKey
    }

    /// Decrypts the key file `pem` with `password` (cosign's `COSIGN_PASSWORD`; empty when the key has none).
    public init(pem: String, password: Secret) throws(SigningError) {
        guard let block = try PEMBlock.all(in: pem).first(where: { Self.pemTypes.contains($0.type) }) else {
            throw SigningError(
                .invalidKey, "no " + Self.pemTypes.joined(separator: " or ") + " PEM block: not a cosign key file")
        }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(block.bytes))
        } catch {
            throw SigningError(.invalidKey, "the \(block.type) is not cosign's encrypted key JSON: \(error)")
        }
        var der = try envelope.decrypt(password: Array(password.reveal().utf8))
        defer { Sodium.wipe(&der) }
        signingKey = try Self.p256Key(pkcs8: der)
    }

    /// The key of `pem` and `password`, opened once per process: scrypt makes each opening cost a noticeable
    /// fraction of a second, and a run's sign, attest, deploy and promote nodes all use the same key.
    public static func opened(pem: String, password: Secret) throws(SigningError) -> CosignPrivateKey {
        let key = ImageDigest.of(Data((pem + "\u{0}" + password.reveal()).utf8)).description
        if let known = Opened.shared.keys.withLock({ $0[key] }) { return known }
        let opened = try CosignPrivateKey(pem: pem, password: password)
        Opened.shared.keys.withLock { $0[key] = opened }
        return opened
    }

    private final class Opened: Sendable {
        static let shared = Opened()
        let keys = Mutex<[String: CosignPrivateKey]>([:])
    }

    /// The public key, as PEM `PUBLIC KEY` (the `cosign.pub` format).
    public var publicKeyPEM: String { signingKey.publicKey.pemRepresentation }

    /// The base64 DER ECDSA P-256 signature of `payload` (over its SHA-256), as cosign writes it.
    public func signature(of payload: Data) throws(SigningError) -> String {
        do {
            return try signingKey.signature(for: payload).derRepresentation.base64EncodedString()
        } catch {
            throw SigningError(.cryptoFailure, "ECDSA signing failed: \(error)")
        }
    }

    private struct Envelope: Decodable {
        struct KDF: Decodable {
            struct Parameters: Decodable {
                var N: UInt64
                var r: UInt32
                var p: UInt32
            }
            var name: String
            var params: Parameters
            var salt: Data
        }
        struct Cipher: Decodable {
            var name: String
            var nonce: Data
        }
        var kdf: KDF
        var cipher: Cipher
        var ciphertext: Data

        /// Cosign's scrypt costs; anything else is refused rather than risking a huge allocation.
        static let costs: Set<UInt64> = [32768, 65536, 131072]

        func decrypt(password: [UInt8]) throws(SigningError) -> [UInt8] {
            guard kdf.name == "scrypt" else { throw SigningError(.invalidKey, "unsupported key derivation \"\(kdf.name)\"; cosign uses scrypt") }
            guard Self.costs.contains(kdf.params.N), kdf.params.r == 8, kdf.params.p == 1 else {
                throw SigningError(
                    .invalidKey,
                    "unsupported scrypt parameters N=\(kdf.params.N) r=\(kdf.params.r) p=\(kdf.params.p); cosign uses N in \(Self.costs.sorted()), r=8, p=1")
            }
            guard cipher.name == "nacl/secretbox" else {
                throw SigningError(.invalidKey, "unsupported cipher \"\(cipher.name)\"; cosign uses nacl/secretbox")
            }
            var key = try Sodium.scrypt(
                password: password, salt: [UInt8](kdf.salt), cost: kdf.params.N, blockSize: kdf.params.r,
                parallelism: kdf.params.p, length: 32)
            defer { Sodium.wipe(&key) }
            guard let plaintext = try Sodium.secretboxOpen([UInt8](ciphertext), nonce: [UInt8](cipher.nonce), key: key) else {
                throw SigningError(.wrongPassword, "the password does not decrypt the cosign key (or the key file is corrupt)")
            }
            return plaintext
        }
    }

    /// `id-ecPublicKey` (1.2.840.10045.2.1) and `prime256v1` (1.2.840.10045.3.1.7) as DER object identifiers.
    private static let ecPublicKeyOID: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    private static let p256OID: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]

    /// The P-256 key of a PKCS#8 `PrivateKeyInfo`; a SEC1 `ECPrivateKey` or another algorithm is refused.
    static func p256Key(pkcs8 der: [UInt8]) throws(SigningError) -> P256.Signing.PrivateKey {
        var reader = DERReader(der)
        guard let info = reader.element(tag: 0x30) else { throw SigningError(.invalidKey, "the decrypted key is not DER") }
        var fields = DERReader(info)
        guard let version = fields.element(tag: 0x02) else { throw SigningError(.invalidKey, "the decrypted key has no version") }
        if version == [0x01], fields.peekTag == 0x04 {
            throw SigningError(
                .unsupportedKey, "the decrypted key is a SEC1 EC private key; cosign keys are PKCS#8 (re-create the key with cosign generate-key-pair)")
        }
        guard version == [0x00], let algorithm = fields.element(tag: 0x30) else {
            throw SigningError(.invalidKey, "the decrypted key is not a PKCS#8 PrivateKeyInfo")
        }
        guard algorithm.starts(with: ecPublicKeyOID) else {
            throw SigningError(.unsupportedKey, "the key is not an elliptic-curve key; only ECDSA P-256 keys are supported")
        }
        guard Array(algorithm.dropFirst(ecPublicKeyOID.count)) == p256OID else {
            throw SigningError(.unsupportedKey, "the key is not on curve P-256; only ECDSA P-256 keys are supported")
        }
        do {
            return try P256.Signing.PrivateKey(derRepresentation: der)
        } catch {
            throw SigningError(.invalidKey, "the PKCS#8 P-256 key does not parse: \(error)")
        }
    }
}

/// Reads consecutive DER tag-length-value elements (definite lengths only).
struct DERReader {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: some Collection<UInt8>) { self.bytes = ArraySlice(bytes) }

    var peekTag: UInt8? { bytes.first }

    /// The contents of the next element when its tag is `tag`; nil (consuming nothing) otherwise.
    mutating func element(tag: UInt8) -> [UInt8]? {
        var rest = bytes
        guard rest.popFirst() == tag, let first = rest.popFirst() else { return nil }
        var length = Int(first)
        if first & 0x80 != 0 {
            let count = Int(first & 0x7F)
            guard count >= 1, count <= 4, rest.count >= count else { return nil }
            length = rest.prefix(count).reduce(0) { $0 << 8 | Int($1) }
            rest = rest.dropFirst(count)
        }
        guard rest.count >= length else { return nil }
        bytes = rest.dropFirst(length)
        return Array(rest.prefix(length))
    }
}
