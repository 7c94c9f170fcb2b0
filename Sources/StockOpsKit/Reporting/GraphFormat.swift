/// Text renderings of a pipeline graph.
public enum GraphFormat: String, Sendable, CaseIterable {
    case mermaid
    case dot

    public func render(_ graph: PipelineGraph) -> String {
        switch self {
        case .mermaid:
            var lines = ["flowchart LR"]
            for node in graph.nodes {
                lines.append("  \(Self.identifier(node.id))[\"\(node.id)\\n\(node.policy.kind.rawValue)\"]")
            }
            for node in graph.nodes {
                for dependency in node.dependencies {
                    lines.append("  \(Self.identifier(dependency)) --> \(Self.identifier(node.id))")
                }
            }
            return lines.joined(separator: "\n") + "\n"
        case .dot:
            var lines = ["digraph stockops {", "  rankdir=LR;", "  node [shape=box];"]
            for node in graph.nodes {
                let style = node.policy.kind == .gate ? "" : ", style=dashed"
                lines.append("  \"\(node.id)\" [label=\"\(node.id)\\n\(node.policy.kind.rawValue)\"\(style)];")
            }
            for node in graph.nodes {
                for dependency in node.dependencies {
                    lines.append("  \"\(dependency)\" -> \"\(node.id)\";")
                }
            }
            return (lines + ["}"]).joined(separator: "\n") + "\n"
        }
    }

    private static func identifier(_ id: NodeID) -> String {
        String(id.description.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
