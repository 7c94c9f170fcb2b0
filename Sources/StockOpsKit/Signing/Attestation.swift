import Foundation

/// A DSSE envelope (Dead Simple Signing Envelope v1), as `cosign attest` stores it: the payload base64-encoded, each
/// signature an ECDSA P-256 signature (base64 DER) over the pre-authentication encoding of type and payload.
public struct DSSEEnvelope: Sendable, Equatable, Codable {
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public struct Signature: Sendable, Equatable, Codable {
        public var keyid: String
        public var sig: String
    }

    public var payloadType: String
    /// Base64 of the payload.
    public var payload: String
    public var signatures: [Signature]

    /// `DSSEv1 <len(type)> <type> <len(body)> <body>`: the bytes that are signed.
    public static func preAuthenticationEncoding(type: String, body: Data) -> Data {
        var bytes = Data("DSSEv1 \(type.utf8.count) \(type) \(body.count) ".utf8)
        bytes.append(body)
        return bytes
    }

    /// Signs `body` with `key`.
    public static func sign(_ body: Data, type: String = inTotoPayloadType, key: CosignPrivateKey) throws(SigningError) -> DSSEEnvelope {
        let signature = try key.signature(of: preAuthenticationEncoding(type: type, body: body))
        return DSSEEnvelope(payloadType: type, payload: body.base64EncodedString(), signatures: [Signature(keyid: "", sig: signature)])
    }

    /// The payload bytes, once a signature verifies with one of `verifier`'s keys.
    public func verifiedPayload(_ verifier: CosignVerifier) throws(SigningError) -> Data {
        guard let body = Data(base64Encoded: payload) else { throw SigningError(.invalidPayload, "the DSSE payload is not base64") }
        let signed = Self.preAuthenticationEncoding(type: payloadType, body: body)
        var reasons: [String] = []
        for signature in signatures {
            do {
                _ = try verifier.signer(of: signed, signature: signature.sig)
                return body
            } catch {
                reasons.append(error.message)
            }
        }
        throw SigningError(.invalidSignature, signatures.isEmpty ? "the envelope has no signature" : reasons.joined(separator: "; "))
    }

    /// The envelope as `cosign attest` writes the layer: compact JSON, keys in a fixed order.
    public var bytes: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // An envelope of strings cannot fail to encode; a failure would be a bug, not an input error.
        guard let data = try? encoder.encode(self) else { preconditionFailure("strings always encode") }
        return data
    }
}

/// An in-toto v1 statement about one image: its subject is the image's repository and digest.
public struct InTotoStatement: Sendable {
    public static let type = "https://in-toto.io/Statement/v1"
    /// The predicate types written here.
    public static let slsaProvenance = "https://slsa.dev/provenance/v1"
    public static let cycloneDX = "https://cyclonedx.org/bom"

    public var subjectName: String
    public var digest: ImageDigest
    public var predicateType: String
    /// The predicate as JSON.
    public var predicate: Data

    public init(subjectName: String, digest: ImageDigest, predicateType: String, predicate: Data) {
        self.subjectName = subjectName
        self.digest = digest
        self.predicateType = predicateType
        self.predicate = predicate
    }

    public var bytes: Data {
        var json = #"{"_type":"# + quoted(Self.type)
        json += #","subject":[{"name":"# + quoted(subjectName) + #","digest":{"sha256":"# + quoted(digest.hex) + "}}]"
        json += #","predicateType":"# + quoted(predicateType) + #","predicate":"#
        var data = Data(json.utf8)
        data.append(predicate)
        data.append(Data("}".utf8))
        return data
    }

    private func quoted(_ text: String) -> String { "\"" + JSONStringEscaping.escape(text) + "\"" }

    /// Parses a statement and checks that it is about `digest`.
    public static func parse(_ data: Data, about digest: ImageDigest) throws(SigningError) -> (predicateType: String, predicate: [String: Any]) {
        // Anything but a JSON object fails below; the parser's detail adds nothing.
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SigningError(.invalidPayload, "the attestation payload is not a JSON object")
        }
        guard let type = object["_type"] as? String, type.hasPrefix("https://in-toto.io/Statement/") else {
            throw SigningError(.invalidPayload, "the attestation payload is not an in-toto statement")
        }
        let subjects = object["subject"] as? [[String: Any]] ?? []
        guard subjects.contains(where: { ($0["digest"] as? [String: String])?["sha256"] == digest.hex }) else {
            throw SigningError(.digestMismatch, "the statement is not about \(digest)")
        }
        return (object["predicateType"] as? String ?? "", object["predicate"] as? [String: Any] ?? [:])
    }
}

/// The attestations cosign stores beside an image: an OCI manifest tagged `sha256-<hex>.att`, one DSSE envelope per
/// layer (media type ``layerMediaType``), with the statement's predicate type in the layer annotation `predicateType`.
public enum CosignAttestations {
    public static let layerMediaType = "application/vnd.dsse.envelope.v1+json"
    public static let predicateTypeAnnotation = "predicateType"

    /// `sha256-<hex>.att`.
    public static func tag(for digest: ImageDigest) -> RegistryTag {
        guard let tag = RegistryTag("sha256-\(digest.hex).att") else { preconditionFailure("a sha256 .att tag is always valid") }
        return tag
    }

    /// Signs `statement` with `key` and adds it to the image's `.att` manifest, replacing this key's earlier
    /// attestation of the same predicate type. Returns the envelope's digest.
    @discardableResult
    public static func attach(_ statement: InTotoStatement, to image: PinnedImageReference, key: CosignPrivateKey, registry: RegistryClient) async throws
        -> ImageDigest
    {
        let envelope = try DSSEEnvelope.sign(statement.bytes, key: key).bytes
        let digest = ImageDigest.of(envelope)
        let tag = tag(for: image.digest)
        var manifest: CosignSignatureManifest
        do {
            manifest = try CosignSignatureManifest(parsing: try await registry.manifest(image.repository, .tag(tag)))
        } catch let error as RegistryError where error.code == .notFound {
            manifest = CosignSignatureManifest()
        }
        // Like `cosign attest --replace`: this key's earlier attestation of the same predicate type is replaced, so a
        // retried or repeated node does not pile them up; other keys' attestations stay.
        let ownKey = CosignVerifier(publicKeys: [key.signingKey.publicKey])
        var replaced: Set<ImageDigest> = []
        for layer in manifest.layers where layer.mediaType == layerMediaType && layer.annotations?[predicateTypeAnnotation] == statement.predicateType {
            let earlier = try await registry.blob(layer.digest, in: image.repository)
            // An envelope that does not parse or is not this key's is kept; only this key's earlier one is replaced.
            if let envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: earlier), (try? envelope.verifiedPayload(ownKey)) != nil {
                replaced.insert(layer.digest)
            }
        }
        manifest.layers.removeAll { replaced.contains($0.digest) }
        manifest.layers.append(
            CosignSignatureManifest.Layer(
                mediaType: layerMediaType, size: envelope.count, digest: digest,
                annotations: [CosignSignatureManifest.signatureAnnotation: "", predicateTypeAnnotation: statement.predicateType]))
        let config = manifest.config
        async let envelopeUpload = registry.uploadBlob(envelope, to: image.repository)
        async let configUpload = registry.uploadBlob(config, to: image.repository)
        _ = try await (envelopeUpload, configUpload)
        _ = try await registry.putManifest(manifest.manifest, in: image.repository, as: .tag(tag))
        return digest
    }

    /// One attestation of an image that verified.
    public struct Verified: @unchecked Sendable {
        public var predicateType: String
        public var predicate: [String: Any]
        public var layer: ImageDigest
    }

    /// The attestations of `image` that verify with `verifier` and are about its digest, and why the others did not.
    public static func verify(_ image: PinnedImageReference, verifier: CosignVerifier, registry: RegistryClient) async throws -> (
        verified: [Verified], rejected: [String]
    ) {
        let manifest: CosignSignatureManifest
        do {
            manifest = try CosignSignatureManifest(parsing: try await registry.manifest(image.repository, .tag(tag(for: image.digest))))
        } catch let error as RegistryError where error.code == .notFound {
            return ([], [])
        }
        var verified: [Verified] = []
        var rejected: [String] = []
        for layer in manifest.layers where layer.mediaType == layerMediaType {
            do {
                let envelope = try JSONDecoder().decode(DSSEEnvelope.self, from: try await registry.blob(layer.digest, in: image.repository))
                guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
                    throw SigningError(.invalidPayload, "payload type \(envelope.payloadType), not \(DSSEEnvelope.inTotoPayloadType)")
                }
                let statement = try InTotoStatement.parse(try envelope.verifiedPayload(verifier), about: image.digest)
                verified.append(Verified(predicateType: statement.predicateType, predicate: statement.predicate, layer: layer.digest))
            } catch let error as SigningError {
                rejected.append("\(layer.digest.short()): \(error.message)")
            } catch let error as DecodingError {
                rejected.append("\(layer.digest.short()): not a DSSE envelope (\(error))")
            }
        }
        return (verified, rejected)
    }
}
