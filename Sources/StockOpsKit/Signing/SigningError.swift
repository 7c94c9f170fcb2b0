/// A key, signature or signature manifest that could not be read, made or verified.
public struct SigningError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The key file or public key is not in a format that is read here.
        case invalidKey = "invalid-key"
        /// The key is well-formed but of a kind cosign does not sign with (such as a SEC1 EC key).
        case unsupportedKey = "unsupported-key"
        /// The password does not open the key file.
        case wrongPassword = "wrong-password"
        /// A payload that is not a simple-signing payload.
        case invalidPayload = "invalid-payload"
        /// A signature that is not base64 of a DER ECDSA signature, or that no key verifies.
        case invalidSignature = "invalid-signature"
        /// The payload vouches for another image digest.
        case digestMismatch = "digest-mismatch"
        /// The image has no signature that the keys verify.
        case unsigned
        /// libsodium could not be initialised or failed.
        case cryptoFailure = "crypto-failure"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "signing \(code.rawValue): \(message)" }
}
