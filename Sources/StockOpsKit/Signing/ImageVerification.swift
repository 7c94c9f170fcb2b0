import Foundation

/// What `stockops verify` found for one image: its signatures, stage proof, provenance and SBOM.
public struct ImageVerificationReport: Codable, Sendable, Equatable {
    public struct Signature: Codable, Sendable, Equatable {
        public var verified: Bool
        /// Signatures that verified with a trusted key.
        public var count: Int
        /// Whether one of them is a stage proof.
        public var stageProof: Bool
        /// Why it did not verify.
        public var detail: String?
    }

    public struct Provenance: Codable, Sendable, Equatable {
        public var verified: Bool
        public var commit: String?
        public var builder: String?
        public var invocation: String?
        public var packageResolved: String?
        public var detail: String?
    }

    public struct SBOM: Codable, Sendable, Equatable {
        public var verified: Bool
        public var components: Int?
        public var detail: String?
    }

    /// `host/repository@sha256:…`.
    public var image: String
    /// The tag that was resolved to the digest, when one was given.
    public var tag: String?
    public var keys: [String]
    public var signature: Signature
    public var provenance: Provenance
    public var sbom: SBOM

    /// Signature and provenance verified (the SBOM is reported, not required).
    public var passed: Bool { signature.verified && provenance.verified }
}

/// Checks an image's signatures and attestations against the trusted keys.
public struct ImageVerifier: Sendable {
    public var trust: ReleaseTrust
    public var registry: RegistryClient

    public init(trust: ReleaseTrust, registry: RegistryClient) {
        self.trust = trust
        self.registry = registry
    }

    /// Verifies `image` (its digest resolved from `tag` by the caller). Registry failures throw.
    public func report(_ image: PinnedImageReference, tag: RegistryTag?) async throws -> ImageVerificationReport {
        var signature = ImageVerificationReport.Signature(verified: false, count: 0, stageProof: false)
        var provenance = ImageVerificationReport.Provenance(verified: false)
        var sbom = ImageVerificationReport.SBOM(verified: false)
        guard let verifier = trust.verifier else {
            let detail = "no public key to verify with: list one under images.sign.public-keys or store SIGNING_PUBLIC_KEY in Vault"
            signature.detail = detail
            provenance.detail = detail
            sbom.detail = detail
            return ImageVerificationReport(image: image.description, tag: tag?.name, keys: [], signature: signature, provenance: provenance, sbom: sbom)
        }
        let check = try await trust.check(["image": image], registry: registry)
        if let verified = check.verified["image"] {
            signature = .init(verified: true, count: verified.verified.count, stageProof: check.passedStage("image"))
        } else {
            signature.detail = check.failures["image"]
        }
        let attestations = try await CosignAttestations.verify(image, verifier: verifier, registry: registry)
        let rejected = attestations.rejected.isEmpty ? nil : "not verified: " + attestations.rejected.joined(separator: "; ")
        if let found = attestations.verified.last(where: { $0.predicateType == InTotoStatement.slsaProvenance }) {
            let definition = found.predicate["buildDefinition"] as? [String: Any]
            let external = definition?["externalParameters"] as? [String: Any]
            let run = found.predicate["runDetails"] as? [String: Any]
            let dependencies = definition?["resolvedDependencies"] as? [[String: Any]] ?? []
            provenance = .init(
                verified: true, commit: external?["commit"] as? String, builder: (run?["builder"] as? [String: Any])?["id"] as? String,
                invocation: (run?["metadata"] as? [String: Any])?["invocationId"] as? String,
                packageResolved: dependencies.first { $0["uri"] as? String == "Package.resolved" }.flatMap { ($0["digest"] as? [String: String])?["sha256"] })
        } else {
            provenance.detail = rejected ?? "no SLSA provenance attestation (\(CosignAttestations.tag(for: image.digest)))"
        }
        if let found = attestations.verified.last(where: { $0.predicateType == InTotoStatement.cycloneDX }) {
            sbom = .init(verified: true, components: (found.predicate["components"] as? [Any])?.count ?? 0)
        } else {
            sbom.detail = rejected ?? "no CycloneDX SBOM attestation"
        }
        return ImageVerificationReport(
            image: image.description, tag: tag?.name, keys: trust.keySources, signature: signature, provenance: provenance, sbom: sbom)
    }
}

/// `stockops verify`'s options.
public struct VerifyRequest: Sendable {
    public var root: String
    public var configPath: String = PipelineConfig.defaultPath
    /// `IMAGE[:TAG][@DIGEST]`: a full reference, or a service name of the pipeline (`trade:v1.2.0`).
    public var image: String
    public var processEnvironment: RunEnvironment

    public init(root: String, image: String, processEnvironment: RunEnvironment) {
        self.root = root
        self.image = image
        self.processEnvironment = processEnvironment
    }
}

extension ImageVerificationReport {
    /// `stockops verify IMAGE`: the status of the image's signature, stage proof, provenance and SBOM
    /// (``passed`` when signature and provenance verify). A bad reference or an image that is not in the registry is
    /// a usage error; a registry or Vault that cannot be reached an infrastructure error.
    public static func verify(_ request: VerifyRequest) async throws(StockOpsError) -> ImageVerificationReport {
        let config = try EnvironmentRequest(
            root: request.root, configPath: request.configPath, environment: .dev, processEnvironment: request.processEnvironment
        ).pipelineConfig()
        var reference: ImageReference
        do {
            reference = try ImageReference.parse(request.image)
            if reference.registry == nil, config.services.contains(where: { $0.name == reference.repository }) {
                reference = try ImageReference(
                    registry: config.registry.host, repository: config.registry.repository(reference.repository), tag: reference.tag, digest: reference.digest)
            }
        } catch {
            throw StockOpsError(
                .usage,
                "\(request.image) is not an image reference (\(error.message)); pass host/project/service:tag, host/project/service@sha256:…, or <service>:<tag>"
            )
        }
        guard reference.registry == config.registry.host else {
            throw StockOpsError(
                .usage,
                "\(reference) is not in the pipeline's registry \(config.registry.host); pass an image of \(config.registry.host)/\(config.registry.project)"
            )
        }
        do {
            let (credentials, trust) = try await RegistryAccess.outsidePipeline(
                config: config, root: request.root, environment: request.processEnvironment, keys: true)
            let registry = RegistryAccess.client(config.registry, credentials: credentials)
            let digest: ImageDigest
            if let pinned = reference.digest {
                digest = pinned
            } else {
                let tag = reference.tag ?? RegistryTag("latest")!
                guard let found = try await registry.digest(of: tag, in: reference.repository) else {
                    throw StockOpsError(.usage, "\(reference.repository):\(tag) is not in \(config.registry.host); nothing to verify")
                }
                digest = found
            }
            return try await ImageVerifier(trust: trust, registry: registry).report(
                PinnedImageReference(registry: config.registry.host, repository: reference.repository, digest: digest),
                tag: reference.digest == nil ? reference.tag ?? RegistryTag("latest") : nil)
        } catch let error as StockOpsError {
            throw error
        } catch let error as RegistryError where error.code == .notFound {
            throw StockOpsError(.usage, "\(reference) is not in \(config.registry.host): \(error)")
        } catch {
            throw StockOpsError(.infrastructure, "cannot read \(reference) from \(config.registry.host): \(error)")
        }
    }
}
