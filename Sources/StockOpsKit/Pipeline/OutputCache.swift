import Foundation

/// Outputs of passed nodes, stored by node and cache key under `.stockops/cache`.
public struct OutputCache: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    private func path(node: NodeID, key: String) -> String {
        "\(directory)/\(node.fileName)/\(key).json"
    }

    /// The stored output for `key`, if a passed result of `node` had that key.
    public func lookup(node: NodeID, key: String) -> Data? {
        FileManager.default.contents(atPath: path(node: node, key: key))
    }

    public func store(node: NodeID, key: String, output: Data) {
        let target = path(node: node, key: key)
        let fileManager = FileManager.default
        // A cache that cannot be written costs a recomputation next time, nothing else.
        try? fileManager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = target + ".\(getpid()).tmp"
        guard fileManager.createFile(atPath: temporary, contents: output) else { return }
        // Cleanup of the temporary file; the entry is simply not cached.
        if rename(temporary, target) != 0 { try? fileManager.removeItem(atPath: temporary) }
    }

    /// What ``prune(keep:)`` did.
    public struct PruneReport: Sendable, Equatable {
        public var removed: Int
        public var kept: Int
    }

    /// Keeps the `keep` most recent entries of each node and removes the rest (`keep: 0` empties the cache).
    @discardableResult
    public func prune(keep: Int) throws -> PruneReport {
        let fileManager = FileManager.default
        var report = PruneReport(removed: 0, kept: 0)
        // No cache directory means nothing to prune.
        guard let nodes = try? fileManager.contentsOfDirectory(atPath: directory) else { return report }
        for node in nodes {
            let nodeDirectory = directory + "/" + node
            // Files beside the nodes' directories (the remembered tool versions) are not entries.
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: nodeDirectory, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let entries = try fileManager.contentsOfDirectory(atPath: nodeDirectory).map { name -> (String, Date) in
                let path = nodeDirectory + "/" + name
                // An entry without a readable date counts as the oldest.
                let modified = (try? fileManager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
                return (path, modified)
            }.sorted { $0.1 > $1.1 }
            for (index, entry) in entries.enumerated() {
                if index < keep {
                    report.kept += 1
                } else {
                    try fileManager.removeItem(atPath: entry.0)
                    report.removed += 1
                }
            }
            // Its entries are gone; an empty directory left behind is harmless.
            if keep == 0 { try? fileManager.removeItem(atPath: nodeDirectory) }
        }
        return report
    }
}
