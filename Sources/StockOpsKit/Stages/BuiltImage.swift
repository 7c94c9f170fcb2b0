/// What `build[<service>]` produces: the image pushed to the registry, pinned by digest.
///
/// Later nodes (scan, sbom, sign, promote, deploy) read this and address the image by `digest`,
/// never by tag, so they all see exactly the bytes that were built.
public struct BuiltImage: Codable, Sendable, Equatable {
    /// The service the image belongs to.
    public var service: String
    /// `host/project/service`, without tag or digest.
    public var repository: String
    /// The build tag: `git-<sha7>`, or `uncommitted-<sha7>-<content hash>` for a working tree with changes.
    public var tag: String
    /// `sha256:…` of the manifest in the registry.
    public var digest: String
    /// True when the registry already held the tag and nothing was built.
    public var reused: Bool
    /// The uncommitted files the image was built with (its tag is `uncommitted-…`); nil for a commit's image.
    public var uncommittedFiles: [String]?

    public init(service: String, repository: String, tag: String, digest: String, reused: Bool, uncommittedFiles: [String]? = nil) {
        self.service = service
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.reused = reused
        self.uncommittedFiles = uncommittedFiles
    }

    /// `repository@digest`.
    public var pinnedReference: String { repository + "@" + digest }
}

extension StockOpsPipeline {
    /// The node building a service's image.
    public static func build(_ service: String) -> StageRef<BuiltImage> {
        StageRef(NodeID("build", key: service))
    }
}
