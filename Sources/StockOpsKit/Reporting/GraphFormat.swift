import Foundation

/// Text renderings of a pipeline graph.
public enum GraphFormat: String, Sendable, CaseIterable {
    case mermaid
    case dot
    /// `{"schemaVersion": 1, "nodes": [{"id", "kind", "dependencies"}]}`.
    case json

    /// The graph without the `excluded` nodes (those `--only`/`--skip` leave out) and their edges.
    public func render(_ graph: PipelineGraph, excluding excluded: Set<NodeID> = []) -> String {
        let nodes = graph.nodes.filter { !excluded.contains($0.id) }
        switch self {
        case .json:
            struct Node: Encodable {
                var id: String
                var kind: String
                var dependencies: [String]
            }
            struct Graph: Encodable {
                var schemaVersion = 1
                var nodes: [Node]
            }
            let graph = Graph(
                nodes: nodes.map { node in
                    Node(
                        id: node.id.description, kind: node.policy.kind.rawValue,
                        dependencies: node.dependencies.filter { !excluded.contains($0) }.map(\.description))
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            // A graph of strings and integers always encodes.
            return String(decoding: (try? encoder.encode(graph)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
        case .mermaid:
            var lines = ["flowchart LR"]
            for node in nodes {
                lines.append("  \(Self.identifier(node.id))[\"\(node.id)\\n\(node.policy.kind.rawValue)\"]")
            }
            for node in nodes {
                for dependency in node.dependencies where !excluded.contains(dependency) {
                    lines.append("  \(Self.identifier(dependency)) --> \(Self.identifier(node.id))")
                }
            }
            return lines.joined(separator: "\n") + "\n"
        case .dot:
            var lines = ["digraph stockops {", "  rankdir=LR;", "  node [shape=box];"]
            for node in nodes {
                let style = node.policy.kind == .gate ? "" : ", style=dashed"
                lines.append("  \"\(node.id)\" [label=\"\(node.id)\\n\(node.policy.kind.rawValue)\"\(style)];")
            }
            for node in nodes {
                for dependency in node.dependencies where !excluded.contains(dependency) {
                    lines.append("  \"\(dependency)\" -> \"\(node.id)\";")
                }
            }
            return (lines + ["}"]).joined(separator: "\n") + "\n"
        }
    }

    static func identifier(_ id: NodeID) -> String {
        String(id.description.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
