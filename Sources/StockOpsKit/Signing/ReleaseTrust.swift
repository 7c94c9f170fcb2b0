import Foundation

/// The keys a deploy or rollback trusts, and the key that vouches for a passed stage.
///
/// A **stage proof** is a cosign signature (the same `.sig` manifest, key and payload format as `sign[*]`) whose
/// payload carries the annotation `stockops.passed: stage`. Only the stage deploy writes it, after its smoke test
/// passed; prod accepts a digest only with one. Pushing a tag proves nothing: only the signing key can make a proof.
public struct ReleaseTrust: Sendable {
    /// Verifies signatures and proofs; nil when no public key is configured.
    public var verifier: CosignVerifier?
    /// Signs stage proofs; nil without `SIGNING_KEY`.
    public var proofKey: CosignPrivateKey?
    /// Where the public keys came from, for messages.
    public var keySources: [String]

    public init(verifier: CosignVerifier? = nil, proofKey: CosignPrivateKey? = nil, keySources: [String] = []) {
        self.verifier = verifier
        self.proofKey = proofKey
        self.keySources = keySources
    }

    /// The payload annotation of a stage proof, and its value.
    public static let passedAnnotation = "stockops.passed"
    public static let passedStage = "stage"

    /// The keys of `images.sign.public-keys` (files relative to `root`), `SIGNING_PUBLIC_KEY` and the public half of
    /// `SIGNING_KEY` of `secrets`; the proof key is `SIGNING_KEY` opened with `SIGNING_KEY_PASSWORD`.
    public static func resolve(config: PipelineConfig, root: String, secrets: FetchedSecrets?) throws(SigningError) -> ReleaseTrust {
        try resolve(publicKeyFiles: config.images.publicKeyFiles, root: root, secrets: secrets)
    }

    /// The keys of `publicKeyFiles` (relative to `root`) and of `secrets`, as ``resolve(config:root:secrets:)``.
    public static func resolve(publicKeyFiles: [String], root: String, secrets: FetchedSecrets?) throws(SigningError) -> ReleaseTrust {
        var pem = ""
        var sources: [String] = []
        for file in publicKeyFiles {
            let path = file.hasPrefix("/") ? file : root + "/" + file
            // The failure below names the file and what to do; the underlying read error adds little.
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SigningError(
                    .invalidKey, "images.sign.public-keys: cannot read \(file) (\(path)); commit the public key there or remove it from the list")
            }
            pem += text + "\n"
            sources.append(file)
        }
        if let stored = secrets?[SignImageStage.publicKeyKey] {
            pem += stored.reveal() + "\n"
            sources.append(SignImageStage.publicKeyKey + " (Vault)")
        }
        var proofKey: CosignPrivateKey?
        if let key = secrets?[SignImageStage.keyKey] {
            do {
                proofKey = try CosignPrivateKey.opened(pem: key.reveal(), password: secrets?[SignImageStage.passwordKey] ?? Secret(""))
            } catch {
                throw SigningError(error.code, "\(SignImageStage.keyKey) from Vault: \(error.message)")
            }
            pem += proofKey!.publicKeyPEM + "\n"
            sources.append(SignImageStage.keyKey + " (Vault)")
        }
        guard !sources.isEmpty else { return ReleaseTrust(proofKey: proofKey) }
        return ReleaseTrust(verifier: try CosignVerifier(publicKeysPEM: pem), proofKey: proofKey, keySources: sources)
    }

    /// Verifies the signatures of every image. An unsigned image or one no key verifies is a finding of the result;
    /// an unreachable registry throws.
    public func check(_ images: [String: PinnedImageReference], registry: RegistryClient) async throws -> SignatureCheck {
        guard let verifier else {
            return SignatureCheck(
                verified: [:],
                failures: images.mapValues { _ in "no public key to verify with: list one under images.sign.public-keys or store SIGNING_PUBLIC_KEY in Vault" })
        }
        let native = NativeVerifier(verifier: verifier, registry: registry)
        var check = SignatureCheck(verified: [:], failures: [:])
        for (service, image) in images.sorted(by: { $0.key < $1.key }) {
            do {
                check.verified[service] = try await native.verify(image: image)
            } catch let error as SigningError {
                check.failures[service] = error.message
            }
        }
        return check
    }

    /// Signs the stage proof of `image`: a signature whose payload says it passed stage.
    @discardableResult
    public func writeStageProof(_ image: PinnedImageReference, registry: RegistryClient) async throws -> NativeSigner.Outcome {
        guard let proofKey else { throw SigningError(.invalidKey, "no \(SignImageStage.keyKey) to sign the stage proof of \(image) with") }
        return try await NativeSigner(key: proofKey, registry: registry).sign(image, annotations: [Self.passedAnnotation: Self.passedStage])
    }
}

/// What verifying a release's signatures found, per service.
public struct SignatureCheck: Sendable {
    /// The services whose image has a signature that verifies.
    public var verified: [String: SignatureVerification]
    /// Why the others did not verify.
    public var failures: [String: String]

    /// Whether `service`'s image has a verified stage proof.
    public func passedStage(_ service: String) -> Bool {
        verified[service]?.verified.contains { $0.payload.annotations?[ReleaseTrust.passedAnnotation] == ReleaseTrust.passedStage } ?? false
    }

    /// The failures as one sentence: `trade (repo@sha256:…): reason; …`.
    func describeFailures(_ images: [String: PinnedImageReference]) -> String {
        failures.keys.sorted().map { "\($0) (\(images[$0].map(\.description) ?? "?")): \(failures[$0] ?? "")" }.joined(separator: "; ")
    }
}
