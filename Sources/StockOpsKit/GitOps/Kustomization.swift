import Foundation
import Yams

/// One entry of a Kustomization's `images:` list: which image name is replaced, and by what.
public struct KustomizeImage: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The image name as the manifests use it.
    public var name: String
    public var newName: String?
    public var newTag: String?
    /// `sha256:…`; when set, Kustomize pins by digest.
    public var digest: String?

    public init(name: String, newName: String? = nil, newTag: String? = nil, digest: String? = nil) {
        self.name = name
        self.newName = newName
        self.newTag = newTag
        self.digest = digest
    }

    /// The reference the manifests end up with: `newName@digest`, `newName:newTag` or the name alone.
    public var description: String {
        let base = newName ?? name
        if let digest { return base + "@" + digest }
        if let newTag { return base + ":" + newTag }
        return base
    }

    /// The same replacement (ignoring which name it applies to).
    func pins(sameAs other: KustomizeImage) -> Bool {
        (newName ?? name) == (other.newName ?? other.name) && newTag == other.newTag && digest == other.digest
    }
}

/// A `kustomization.yaml` edited structurally: the document is parsed, only the `images:` entry of one
/// name changes, and the rest of the mapping keeps its keys and order. Comments are not kept.
public struct Kustomization {
    private var root: Node.Mapping

    /// Parses the file's text; it must be a mapping.
    public init(yaml: String) throws(KustomizationError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw KustomizationError("not valid YAML: \(error)")
        }
        guard let mapping = node?.mapping else { throw KustomizationError("the document is not a mapping of Kustomization fields") }
        root = mapping
    }

    /// The `images:` entries.
    public var images: [KustomizeImage] {
        (root["images"]?.sequence ?? []).compactMap { entry in
            guard let mapping = entry.mapping, let name = mapping["name"]?.string else { return nil }
            return KustomizeImage(name: name, newName: mapping["newName"]?.string, newTag: mapping["newTag"]?.string, digest: mapping["digest"]?.string)
        }
    }

    public func image(named name: String) -> KustomizeImage? {
        images.first { $0.name == name }
    }

    /// Replaces the entry named `image.name` (or appends one): `newName`, `newTag` and `digest` become
    /// exactly those of `image`; other keys of the entry stay.
    public mutating func setImage(_ image: KustomizeImage) throws(KustomizationError) {
        var list: Node.Sequence
        if let existing = root["images"] {
            guard let sequence = existing.sequence else { throw KustomizationError("images: is not a list") }
            list = sequence
        } else {
            list = Node.Sequence()
        }
        let index = list.firstIndex { $0.mapping?["name"]?.string == image.name }
        var entry = index.flatMap { list[$0].mapping } ?? Node.Mapping([("name", Self.string(image.name))])
        for (key, value) in [("newName", image.newName), ("newTag", image.newTag), ("digest", image.digest)] {
            entry[key] = value.map(Self.string)
        }
        if let index {
            list[index] = .mapping(entry)
        } else {
            list.append(.mapping(entry))
        }
        root["images"] = .sequence(list)
    }

    /// The document as YAML text.
    public func yaml() throws(KustomizationError) -> String {
        do {
            return try Yams.serialize(node: .mapping(root), indent: 2)
        } catch {
            throw KustomizationError("could not write YAML: \(error)")
        }
    }

    /// A string scalar, quoted so that values like `1.0` stay strings.
    private static func string(_ value: String) -> Node {
        Node(value, Tag(.str), .doubleQuoted)
    }
}

/// A `kustomization.yaml` that cannot be read or written.
public struct KustomizationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
