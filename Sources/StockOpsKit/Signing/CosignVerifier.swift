import Foundation

/// Verifies cosign key-based signatures: a base64 DER ECDSA P-256 signature over SHA-256 of a simple-signing payload,
/// made by one of ``publicKeys``, whose payload vouches for the expected image digest.
///
/// Like `cosign verify --key`, `critical.type` and `docker-reference` are not checked.
public struct CosignVerifier: Sendable {
    public let publicKeys: [P256.Signing.PublicKey]

    public init(publicKeys: [P256.Signing.PublicKey]) {
        self.publicKeys = publicKeys
    }

    /// The keys of every `PUBLIC KEY` block of `pem` (one `cosign.pub` or several concatenated); at least one.
    public init(publicKeysPEM pem: String) throws(SigningError) {
        let blocks = try PEMBlock.all(in: pem).filter { $0.type == "PUBLIC KEY" }
        guard !blocks.isEmpty else { throw SigningError(.invalidKey, "no PUBLIC KEY PEM block") }
        var keys: [P256.Signing.PublicKey] = []
        for (index, block) in blocks.enumerated() {
            do {
                keys.append(try P256.Signing.PublicKey(derRepresentation: block.bytes))
            } catch {
                throw SigningError(.unsupportedKey, "public key \(index + 1) is not an ECDSA P-256 key: \(error)")
            }
        }
        publicKeys = keys
    }

    /// The index in ``publicKeys`` of the key that made `signature` (base64 DER) over `payload`.
    public func signer(of payload: Data, signature: String) throws(SigningError) -> Int {
        guard let der = Data(base64Encoded: signature.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SigningError(.invalidSignature, "the signature is not base64")
        }
        let parsed: P256.Signing.ECDSASignature
        do {
            parsed = try P256.Signing.ECDSASignature(derRepresentation: der)
        } catch {
            throw SigningError(.invalidSignature, "the signature is not a DER ECDSA signature: \(error)")
        }
        guard let index = publicKeys.firstIndex(where: { $0.isValidSignature(parsed, for: payload) }) else {
            throw SigningError(
                .invalidSignature, publicKeys.count == 1 ? "the key did not make this signature" : "none of the \(publicKeys.count) keys made this signature")
        }
        return index
    }

    /// Verifies `signature` over `payload` and that the payload vouches for `digest`; returns the parsed payload and
    /// the index of the key that verified it.
    @discardableResult
    public func verify(payload: Data, signature: String, digest: ImageDigest) throws(SigningError)
        -> (payload: SimpleSigningPayload, keyIndex: Int)
    {
        let keyIndex = try signer(of: payload, signature: signature)
        let parsed = try SimpleSigningPayload.parse(payload)
        guard parsed.digest == digest else {
            throw SigningError(.digestMismatch, "the signed payload is for \(parsed.digest), not \(digest)")
        }
        return (parsed, keyIndex)
    }
}
