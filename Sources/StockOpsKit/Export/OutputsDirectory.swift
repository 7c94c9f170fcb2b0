import Foundation

/// A directory of node outputs exchanged between runs on different machines (`run --only NODE --outputs-dir DIR`).
///
/// Each output is `<dir>/<node file name>.json` (`test[trade]` → `test_trade_.json`), the node's encoded output with
/// secrets removed. The nodes a run does not select are taken from the directory instead of being run.
public struct OutputsDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The file holding the output of `id`.
    public func file(for id: NodeID) -> String {
        path + "/" + id.fileName + ".json"
    }

    /// What a run selecting `only` takes from the directory.
    public struct Inputs: Sendable {
        /// Encoded outputs of the dependencies found in the directory.
        public var outputs: [NodeID: Data] = [:]
        /// Nodes left out: dependencies without an output, and unselected `finally` nodes.
        public var exclusions: [NodeID: String] = [:]
    }

    /// Loads the outputs of every node that `only` does not designate but the selected nodes depend on.
    ///
    /// A dependency without a file is left out (so its dependents are skipped): it did not produce an output where it ran.
    public func inputs(for graph: PipelineGraph, only: [String], excluded: [NodeID: String]) -> Inputs {
        let selected = Set(graph.nodes.map(\.id).filter { id in only.isEmpty || only.contains { id.matches(selector: $0) } })
        var needed: Set<NodeID> = []
        var stack = Array(selected)
        while let id = stack.popLast() {
            for dependency in graph.node(id)?.dependencies ?? [] where needed.insert(dependency).inserted {
                stack.append(dependency)
            }
        }
        var inputs = Inputs()
        for node in graph.nodes where !selected.contains(node.id) && excluded[node.id] == nil {
            if !needed.contains(node.id) {
                inputs.exclusions[node.id] = "not selected by --only"
            } else if let data = FileManager.default.contents(atPath: file(for: node.id)) {
                inputs.outputs[node.id] = data
            } else {
                inputs.exclusions[node.id] = "no output in \(path): it did not run where it was selected"
            }
        }
        return inputs
    }

    /// Writes the outputs the run produced for the nodes that `only` designates; returns the files written.
    @discardableResult
    public func write(_ result: RunResult, only: [String]) throws -> [String] {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var written: [String] = []
        for item in result.results where only.isEmpty || only.contains(where: { item.id.matches(selector: $0) }) {
            guard item.result.status != .external, let data = result.encodedOutputs[item.id] else { continue }
            try data.write(to: URL(fileURLWithPath: file(for: item.id)), options: .atomic)
            written.append(file(for: item.id))
        }
        return written
    }
}
