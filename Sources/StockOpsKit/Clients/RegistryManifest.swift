import Foundation

/// A manifest or index as stored in a registry: its media type, its exact bytes and their digest.
///
/// The bytes are kept as received: re-tagging puts the same bytes back, so the digest cannot change.
public struct ImageManifest: Sendable, Equatable {
    /// `application/vnd.oci.image.manifest.v1+json`
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    /// `application/vnd.oci.image.index.v1+json`
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    /// `application/vnd.docker.distribution.manifest.v2+json`
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// What a manifest GET or HEAD accepts: an OCI manifest is not served to a client that only accepts Docker types.
    public static let acceptedMediaTypes = [ociManifest, ociIndex, dockerManifest, dockerManifestList]

    public let mediaType: String
    public let bytes: Data
    public let digest: ImageDigest

    /// A manifest of `mediaType` made of `bytes`; its digest is computed.
    public init(mediaType: String, bytes: Data) {
        self.mediaType = mediaType
        self.bytes = bytes
        digest = ImageDigest.of(bytes)
    }

    /// A manifest received from a registry: `claimed` (the `Docker-Content-Digest` header, or the digest it was
    /// requested by) must be the sha256 of `bytes`, else ``RegistryError/Code/invalidDigest`` is thrown.
    public static func verified(mediaType: String, bytes: Data, claimed: [ImageDigest], source: String) throws(RegistryError)
        -> ImageManifest
    {
        let manifest = ImageManifest(mediaType: mediaType, bytes: bytes)
        for digest in claimed where digest != manifest.digest {
            throw RegistryError(
                .invalidDigest,
                "the manifest of \(source) claims digest \(digest) but its bytes hash to \(manifest.digest)")
        }
        return manifest
    }

    /// Whether this is an index (OCI image index or Docker manifest list) rather than an image manifest.
    public var isIndex: Bool {
        mediaType == Self.ociIndex || mediaType == Self.dockerManifestList
    }

    /// The descriptor of this manifest, for an index entry or a manifest PUT.
    public var descriptor: ContentDescriptor {
        ContentDescriptor(mediaType: mediaType, digest: digest, size: bytes.count)
    }

    /// The digests an index lists, or the config and layer digests of an image manifest.
    public func referencedDigests() throws(RegistryError) -> [ImageDigest] {
        struct Body: Decodable {
            var config: ContentDescriptor?
            var layers: [ContentDescriptor]?
            var manifests: [ContentDescriptor]?
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: bytes)
        } catch {
            throw RegistryError(.protocolError, "manifest \(digest) is not a valid manifest: \(error)")
        }
        if isIndex { return (body.manifests ?? []).map(\.digest) }
        return (body.config.map { [$0] } ?? []).map(\.digest) + (body.layers ?? []).map(\.digest)
    }

    /// The media type a manifest names in its own `mediaType` field, if any.
    static func declaredMediaType(of bytes: Data) -> String? {
        struct Body: Decodable { var mediaType: String? }
        // A manifest that does not decode declares no media type; the caller's check handles nil.
        return (try? JSONDecoder().decode(Body.self, from: bytes))?.mediaType
    }
}

/// An OCI content descriptor: the media type, digest and size of a blob or manifest.
public struct ContentDescriptor: Sendable, Hashable, Codable {
    public var mediaType: String
    public var digest: ImageDigest
    public var size: Int

    public init(mediaType: String, digest: ImageDigest, size: Int) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
    }
}
