import Foundation

/// The signatures cosign stores beside an image: an OCI manifest tagged `sha256-<hex>.sig` in the image's repository,
/// with one layer per signature (the payload blob, its signature in the layer annotation ``signatureAnnotation``).
public struct CosignSignatureManifest: Sendable, Equatable {
    public static let configMediaType = "application/vnd.oci.image.config.v1+json"
    public static let layerMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"

    /// A layer: a payload blob and its annotations.
    public struct Layer: Sendable, Equatable, Codable {
        public var mediaType: String
        public var size: Int
        public var digest: ImageDigest
        public var annotations: [String: String]?

        public init(mediaType: String = CosignSignatureManifest.layerMediaType, size: Int, digest: ImageDigest, annotations: [String: String]?) {
            self.mediaType = mediaType
            self.size = size
            self.digest = digest
            self.annotations = annotations
        }

        /// The base64 DER signature of the payload, when the layer carries one.
        public var signature: String? { annotations?[CosignSignatureManifest.signatureAnnotation] }
    }

    public var layers: [Layer]

    public init(layers: [Layer] = []) {
        self.layers = layers
    }

    /// `sha256-<hex>.sig`: the tag of the signatures of the image `digest`.
    public static func tag(for digest: ImageDigest) -> RegistryTag {
        guard let tag = RegistryTag("sha256-\(digest.hex).sig") else { preconditionFailure("a sha256 .sig tag is always valid") }
        return tag
    }

    /// The layers of a signature manifest fetched from a registry.
    public init(parsing manifest: ImageManifest) throws(SigningError) {
        struct Body: Decodable { var layers: [Layer]? }
        guard !manifest.isIndex else {
            throw SigningError(.invalidPayload, "the signature manifest \(manifest.digest) is an index, not an image manifest")
        }
        do {
            layers = try JSONDecoder().decode(Body.self, from: manifest.bytes).layers ?? []
        } catch {
            throw SigningError(.invalidPayload, "the signature manifest \(manifest.digest) is not an image manifest: \(error)")
        }
    }

    /// The config blob: an empty image configuration whose `rootfs.diff_ids` are the layers (they are uncompressed).
    public var config: Data {
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        let history = layers.map { _ in #"{"created":"0001-01-01T00:00:00Z"}"# }.joined(separator: ",")
        return Data(
            #"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[\#(history)],"os":"","rootfs":{"type":"layers","diff_ids":[\#(diffIDs)]},"config":{}}"#
                .utf8)
    }

    /// The OCI image manifest over ``config`` and ``layers``.
    public var manifest: ImageManifest {
        struct Body: Encodable {
            var schemaVersion = 2
            var mediaType = ImageManifest.ociManifest
            var config: ContentDescriptor
            var layers: [Layer]
        }
        let config = self.config
        let body = Body(config: ContentDescriptor(mediaType: Self.configMediaType, digest: ImageDigest.of(config), size: config.count), layers: layers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a body of strings, numbers and descriptors cannot throw; a failure would be a bug, not an input error.
        guard let bytes = try? encoder.encode(body) else { preconditionFailure("a manifest of strings and numbers always encodes") }
        return ImageManifest(mediaType: ImageManifest.ociManifest, bytes: bytes)
    }
}
