import Foundation

/// Cosign's "simple signing" payload: what a key-based cosign signature signs.
///
/// ``bytes`` are exactly what cosign writes (Go `json.Marshal` of sigstore's `payload.SimpleContainerImage`):
/// `{"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},"type":T},"optional":O}`
/// without whitespace, where `O` is `null` or the annotations with sorted keys.
public struct SimpleSigningPayload: Sendable, Equatable {
    /// `critical.type` of cosign's container image signatures.
    public static let containerImageType = "cosign container image signature"

    /// `critical.identity.docker-reference`: the repository, registry host included, without tag or digest.
    public var dockerReference: String
    /// `critical.image.docker-manifest-digest`: the signed image's manifest digest.
    public var digest: ImageDigest
    /// `critical.type`.
    public var type: String
    /// `optional`: annotations signed along with the image; nil is written as `null`.
    public var annotations: [String: String]?

    public init(dockerReference: String, digest: ImageDigest, type: String = Self.containerImageType, annotations: [String: String]? = nil) {
        self.dockerReference = dockerReference
        self.digest = digest
        self.type = type
        self.annotations = annotations
    }

    /// The payload cosign signs for `image`.
    public init(image: PinnedImageReference, annotations: [String: String]? = nil) {
        self.init(dockerReference: image.reference.name, digest: image.digest, annotations: annotations)
    }

    /// The exact bytes cosign writes.
    public var bytes: Data {
        var json = #"{"critical":{"identity":{"docker-reference":"#
        json += Self.goString(dockerReference)
        json += #"},"image":{"docker-manifest-digest":"#
        json += Self.goString(digest.description)
        json += #"},"type":"#
        json += Self.goString(type)
        json += #"},"optional":"#
        if let annotations {
            json += "{" + annotations.keys.sorted().map { Self.goString($0) + ":" + Self.goString(annotations[$0] ?? "") }.joined(separator: ",") + "}"
        } else {
            json += "null"
        }
        return Data((json + "}").utf8)
    }

    /// Parses a payload; its `critical` fields must be present and the digest a sha256 digest. `optional` is kept
    /// as ``annotations`` when it holds only strings.
    public static func parse(_ data: Data) throws(SigningError) -> SimpleSigningPayload {
        struct Body: Decodable {
            struct Critical: Decodable {
                struct Identity: Decodable {
                    var dockerReference: String
                    enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" }
                }
                struct Image: Decodable {
                    var dockerManifestDigest: String
                    enum CodingKeys: String, CodingKey { case dockerManifestDigest = "docker-manifest-digest" }
                }
                var identity: Identity
                var image: Image
                var type: String
            }
            var critical: Critical
        }
        struct Annotations: Decodable { var optional: [String: String]? }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            throw SigningError(.invalidPayload, "not a simple-signing payload: \(error)")
        }
        guard let digest = ImageDigest(body.critical.image.dockerManifestDigest) else {
            throw SigningError(
                .invalidPayload, "docker-manifest-digest \"\(body.critical.image.dockerManifestDigest)\" is not a sha256 digest")
        }
        // The annotations are optional: a payload without a readable map has none.
        return SimpleSigningPayload(
            dockerReference: body.critical.identity.dockerReference, digest: digest, type: body.critical.type,
            annotations: (try? JSONDecoder().decode(Annotations.self, from: data))?.optional)
    }

    /// `text` as Go's `encoding/json` writes a string: HTML-sensitive characters and U+2028/U+2029 escaped.
    static func goString(_ text: String) -> String {
        "\"" + JSONStringEscaping.escape(text, htmlSafe: true) + "\""
    }
}
