import Foundation

extension RegistryClient {
    /// The label of an image saying which commit it was built from.
    public static let revisionLabel = "org.opencontainers.image.revision"

    /// The labels of the image `reference` names: `config.Labels` of its config blob. For an index (a multi-platform
    /// image, or buildx's image plus attestations) those of its first image that is not an attestation.
    public func labels(_ repository: String, _ reference: ManifestReference) async throws -> [String: String] {
        let manifest = try await self.manifest(repository, reference)
        guard let object = try JSONSerialization.jsonObject(with: manifest.bytes) as? [String: Any] else {
            throw RegistryError(.protocolError, "\(repository)@\(manifest.digest): the manifest is not a JSON object")
        }
        if let entries = object["manifests"] as? [[String: Any]] {
            let image = entries.first { entry in
                let platform = entry["platform"] as? [String: Any]
                let attestation = (entry["annotations"] as? [String: Any])?["vnd.docker.reference.type"] as? String == "attestation-manifest"
                return !attestation && platform?["os"] as? String != "unknown"
            }
            guard let digestText = image?["digest"] as? String, let digest = ImageDigest(digestText) else {
                throw RegistryError(.protocolError, "\(repository)@\(manifest.digest): the index names no image")
            }
            return try await labels(repository, .digest(digest))
        }
        guard let config = object["config"] as? [String: Any], let configText = config["digest"] as? String, let configDigest = ImageDigest(configText) else {
            throw RegistryError(.protocolError, "\(repository)@\(manifest.digest): the manifest names no config blob")
        }
        let blob = try await self.blob(configDigest, in: repository)
        let image = try JSONSerialization.jsonObject(with: blob) as? [String: Any]
        let labels = (image?["config"] as? [String: Any])?["Labels"] as? [String: Any] ?? [:]
        return labels.compactMapValues { $0 as? String }
    }
}
