import Foundation

/// Signs images the way `cosign sign --key` does, without cosign: ECDSA P-256 over SHA-256 of the simple-signing
/// payload, stored as a layer of the image's `sha256-<hex>.sig` manifest in its repository.
///
/// The registry client must be the one of the image's registry. A signature is appended to the existing ones; like
/// cosign, signing again with the same key does not add a duplicate when a signature of that key over the same payload
/// is there already.
public struct NativeSigner: Sendable {
    public let key: CosignPrivateKey
    public let registry: RegistryClient

    public init(key: CosignPrivateKey, registry: RegistryClient) {
        self.key = key
        self.registry = registry
    }

    /// What signing stored.
    public struct Outcome: Sendable, Equatable {
        /// The `.sig` tag and the digest of the manifest now under it.
        public var tag: RegistryTag
        public var manifest: ImageDigest
        /// The base64 DER signature of this image's payload by this key (an existing one when ``appended`` is false).
        public var signature: String
        /// How many signatures the manifest now holds.
        public var signatureCount: Int
        /// Whether a new layer was added; false when the key's signature over the same payload was already there.
        public var appended: Bool
    }

    /// Signs `image`, which must exist in the registry, and pushes the updated `.sig` manifest.
    @discardableResult
    public func sign(_ image: PinnedImageReference, annotations: [String: String]? = nil) async throws -> Outcome {
        let repository = image.repository
        let tag = CosignSignatureManifest.tag(for: image.digest)
        async let descriptor = registry.manifestDescriptor(repository, .digest(image.digest))
        async let existing = existingSignatures(repository, tag)
        guard try await descriptor != nil else {
            throw RegistryError(.notFound, "\(image) not found in \(registry.baseURL): push the image before signing it")
        }
        let (stored, storedDigest) = try await existing
        var signatures = stored
        let payload = SimpleSigningPayload(image: image, annotations: annotations).bytes
        let payloadDigest = ImageDigest.of(payload)
        let ownKey = CosignVerifier(publicKeys: [key.signingKey.publicKey])
        // A signature this key does not verify is not ours: a new one is appended.
        if let existing = signatures.layers.first(where: { layer in
            layer.digest == payloadDigest && layer.mediaType == CosignSignatureManifest.layerMediaType
                && layer.signature.map { (try? ownKey.signer(of: payload, signature: $0)) != nil } == true
        }), let signature = existing.signature, let storedDigest {
            return Outcome(tag: tag, manifest: storedDigest, signature: signature, signatureCount: signatures.layers.count, appended: false)
        }
        let signature = try key.signature(of: payload)
        signatures.layers.append(
            CosignSignatureManifest.Layer(
                size: payload.count, digest: payloadDigest, annotations: [CosignSignatureManifest.signatureAnnotation: signature]))
        async let payloadUpload = registry.uploadBlob(payload, to: repository)
        async let configUpload = registry.uploadBlob(signatures.config, to: repository)
        _ = try await (payloadUpload, configUpload)
        let manifest = try await registry.putManifest(signatures.manifest, in: repository, as: .tag(tag))
        return Outcome(tag: tag, manifest: manifest, signature: signature, signatureCount: signatures.layers.count, appended: true)
    }

    /// The signatures under `tag` and the digest of their manifest; none (and no digest) when the tag does not exist.
    private func existingSignatures(_ repository: String, _ tag: RegistryTag) async throws -> (CosignSignatureManifest, ImageDigest?) {
        do {
            let manifest = try await registry.manifest(repository, .tag(tag))
            return (try CosignSignatureManifest(parsing: manifest), manifest.digest)
        } catch let error as RegistryError where error.code == .notFound {
            return (CosignSignatureManifest(), nil)
        }
    }
}

/// Which signatures of an image verified, and why the others did not.
public struct SignatureVerification: Sendable, Equatable {
    public struct Verified: Sendable, Equatable {
        /// The payload blob.
        public var layer: ImageDigest
        /// The index of the public key that verified it.
        public var keyIndex: Int
        public var payload: SimpleSigningPayload
    }

    public struct Rejected: Sendable, Equatable {
        public var layer: ImageDigest
        public var reason: String
    }

    public var image: PinnedImageReference
    /// The digest of the `.sig` manifest that was read.
    public var signatureManifest: ImageDigest
    /// Never empty: verification throws when no signature verifies.
    public var verified: [Verified]
    public var rejected: [Rejected]
}

/// Verifies an image's signatures the way `cosign verify --key --insecure-ignore-tlog` does, without cosign: every
/// layer of its `sha256-<hex>.sig` manifest is checked against the public keys, and the payload must name the image's
/// digest.
public struct NativeVerifier: Sendable {
    public let verifier: CosignVerifier
    public let registry: RegistryClient

    public init(verifier: CosignVerifier, registry: RegistryClient) {
        self.verifier = verifier
        self.registry = registry
    }

    /// The signatures of `image` that verify; throws ``SigningError/Code/unsigned`` when there are none (no `.sig`
    /// manifest, or no layer verified), naming why each layer was rejected.
    public func verify(image: PinnedImageReference) async throws -> SignatureVerification {
        let repository = image.repository
        let tag = CosignSignatureManifest.tag(for: image.digest)
        let manifest: ImageManifest
        do {
            manifest = try await registry.manifest(repository, .tag(tag))
        } catch let error as RegistryError where error.code == .notFound {
            throw SigningError(.unsigned, "\(image) has no signatures (no \(repository):\(tag) in \(registry.baseURL))")
        }
        let signatures = try CosignSignatureManifest(parsing: manifest)
        var verified: [SignatureVerification.Verified] = []
        var rejected: [SignatureVerification.Rejected] = []
        for layer in signatures.layers {
            guard let signature = layer.signature else {
                rejected.append(.init(layer: layer.digest, reason: "no \(CosignSignatureManifest.signatureAnnotation) annotation"))
                continue
            }
            let payload = try await registry.blob(layer.digest, in: repository)
            do {
                let result = try verifier.verify(payload: payload, signature: signature, digest: image.digest)
                verified.append(.init(layer: layer.digest, keyIndex: result.keyIndex, payload: result.payload))
            } catch {
                rejected.append(.init(layer: layer.digest, reason: error.message))
            }
        }
        guard !verified.isEmpty else {
            let reasons = rejected.map { "\($0.layer.short()): \($0.reason)" }.joined(separator: "; ")
            throw SigningError(
                .unsigned,
                "no signature of \(image) verifies with the \(verifier.publicKeys.count == 1 ? "key" : "\(verifier.publicKeys.count) keys")"
                    + (reasons.isEmpty ? " (the signature manifest is empty)" : ": " + reasons))
        }
        return SignatureVerification(image: image, signatureManifest: manifest.digest, verified: verified, rejected: rejected)
    }
}
