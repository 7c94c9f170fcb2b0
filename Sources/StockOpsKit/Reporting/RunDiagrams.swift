import Foundation

/// The two pictures of a recorded run, as SVG: the graph coloured by status and the timeline of every node. Both link
/// each node to its section of the report (`#node-…`).
public enum RunDiagrams {
    /// Fill and stroke of a node in a given status.
    static func colors(_ status: NodeStatus) -> (fill: String, stroke: String) {
        switch status {
        case .passed: ("#d3f9d8", "#2b8a3e")
        case .cached, .external: ("#d0ebff", "#1971c2")
        case .failed, .timedOut: ("#ffe3e3", "#c92a2a")
        case .blocked: ("#fff3bf", "#e67700")
        case .skipped, .wouldRun: ("#f1f3f5", "#868e96")
        case .cancelled: ("#e9ecef", "#495057")
        }
    }

    /// The anchor of a node's section in the report.
    public static func anchor(_ id: NodeID) -> String {
        "node-" + GraphFormat.identifier(id)
    }

    // MARK: The graph

    /// The graph in Graphviz's language, each node filled by its status and linked to its section.
    public static func dot(_ record: RunRecord) -> String {
        var lines = ["digraph run {", "  rankdir=LR;", "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];"]
        for node in record.nodes {
            let (fill, stroke) = colors(node.status)
            lines.append(
                "  \"\(node.id)\" [label=\"\(node.id)\\n\(node.status.rawValue)\", fillcolor=\"\(fill)\", color=\"\(stroke)\", URL=\"#\(anchor(node.id))\", id=\"graph-\(anchor(node.id))\", tooltip=\"\(node.id): \(node.status.rawValue)\"];"
            )
        }
        for (dependency, node) in edges(record) {
            lines.append("  \"\(dependency)\" -> \"\(node)\";")
        }
        return (lines + ["}"]).joined(separator: "\n") + "\n"
    }

    /// The edges worth drawing: a dependency that another path already implies is left out (the `finally` nodes depend
    /// on every node, which would hide the shape of the graph).
    static func edges(_ record: RunRecord) -> [(NodeID, NodeID)] {
        var ancestors: [NodeID: Set<NodeID>] = [:]
        for node in record.nodes {
            var all = Set<NodeID>()
            for dependency in node.dependencies ?? [] {
                all.insert(dependency)
                all.formUnion(ancestors[dependency] ?? [])
            }
            ancestors[node.id] = all
        }
        return record.nodes.flatMap { node in
            let direct = node.dependencies ?? []
            return direct.filter { dependency in
                !direct.contains { other in other != dependency && ancestors[other]?.contains(dependency) == true }
            }.map { ($0, node.id) }
        }
    }

    /// The `<svg>` element of Graphviz's output, without the XML prolog and doctype an inline SVG must not carry.
    static func inlineSVG(_ document: String) -> String? {
        guard let start = document.range(of: "<svg") else { return nil }
        return "<svg class=\"graph\"" + document[start.upperBound...]
    }

    /// The graph drawn by stockops, for when Graphviz is missing: a column per depth, dependencies to the left.
    public static func graphSVG(_ record: RunRecord) -> String {
        var depth: [NodeID: Int] = [:]
        for node in record.nodes {
            depth[node.id] = 1 + ((node.dependencies ?? []).compactMap { depth[$0] }.max() ?? -1)
        }
        let columns = Dictionary(grouping: record.nodes) { depth[$0.id] ?? 0 }
        let (width, height, gapX, gapY, margin) = (176.0, 40.0, 44.0, 12.0, 10.0)
        var position: [NodeID: (x: Double, y: Double)] = [:]
        for (column, nodes) in columns {
            for (row, node) in nodes.enumerated() {
                position[node.id] = (margin + Double(column) * (width + gapX), margin + Double(row) * (height + gapY))
            }
        }
        let totalWidth = margin * 2 + Double(columns.keys.max().map { $0 + 1 } ?? 0) * (width + gapX) - gapX
        let totalHeight = margin * 2 + Double(columns.values.map(\.count).max() ?? 0) * (height + gapY) - gapY
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="\##(Int(totalWidth))" height="\##(Int(totalHeight))" viewBox="0 0 \##(Int(totalWidth)) \##(Int(totalHeight))">"##
        ]
        for (dependency, node) in edges(record) {
            guard let to = position[node], let from = position[dependency] else { continue }
            let (x1, y1, x2, y2) = (from.x + width, from.y + height / 2, to.x, to.y + height / 2)
            svg.append(##"<path d="M\##(x1),\##(y1) C\##(x1 + gapX / 2),\##(y1) \##(x2 - gapX / 2),\##(y2) \##(x2),\##(y2)" fill="none" stroke="#adb5bd"/>"##)
        }
        for node in record.nodes {
            guard let at = position[node.id] else { continue }
            let (fill, stroke) = colors(node.status)
            svg.append(
                ##"<a href="#\##(anchor(node.id))" id="graph-\##(anchor(node.id))"><title>\##(HTML.escape(node.id.description)): \##(node.status.rawValue)</title>"##
                    + ##"<rect x="\##(at.x)" y="\##(at.y)" width="\##(width)" height="\##(height)" rx="6" fill="\##(fill)" stroke="\##(stroke)"/>"##
                    + ##"<text x="\##(at.x + width / 2)" y="\##(at.y + 17)" text-anchor="middle" class="name">\##(HTML.escape(node.id.description))</text>"##
                    + ##"<text x="\##(at.x + width / 2)" y="\##(at.y + 32)" text-anchor="middle" class="status">\##(node.status.rawValue)</text></a>"##)
        }
        return (svg + ["</svg>"]).joined(separator: "\n")
    }

    // MARK: The timeline

    /// A row per node: a bar from its start to its end on the run's clock (retries and cache hits marked), or its
    /// status where it did not run.
    public static func timelineSVG(_ record: RunRecord) -> String {
        let (labelWidth, barWidth, rowHeight, top) = (200.0, 640.0, 22.0, 26.0)
        let noteWidth = 200.0
        let total = max(record.duration, 0.001)
        let scale = barWidth / total
        let height = top + Double(record.nodes.count) * rowHeight + 8
        let width = labelWidth + barWidth + noteWidth
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="\##(Int(width))" height="\##(Int(height))" viewBox="0 0 \##(Int(width)) \##(Int(height))">"##
        ]
        let step = tickStep(total)
        var tick = 0.0
        while tick <= total + 0.0001 {
            let x = labelWidth + tick * scale
            svg.append(
                ##"<line x1="\##(x)" y1="\##(top - 6)" x2="\##(x)" y2="\##(height - 4)" stroke="#e9ecef"/><text x="\##(x)" y="\##(top - 10)" text-anchor="middle" class="tick">\##(clock(tick))</text>"##
            )
            tick += step
        }
        for (row, node) in record.nodes.enumerated() {
            let y = top + Double(row) * rowHeight
            let (fill, stroke) = colors(node.status)
            var item =
                ##"<a href="#\##(anchor(node.id))" id="timeline-\##(anchor(node.id))"><title>\##(HTML.escape(node.id.description)): \##(node.status.rawValue), \##(String(format: "%.1f s", node.duration))</title>"##
            item += ##"<text x="\##(labelWidth - 8)" y="\##(y + 15)" text-anchor="end" class="name">\##(HTML.escape(node.id.description))</text>"##
            var note = node.status.rawValue
            if let started = node.started {
                let offset = max(0, started.timeIntervalSince(record.started))
                let length = max(2, node.duration * scale)
                item +=
                    ##"<rect x="\##(labelWidth + offset * scale)" y="\##(y + 4)" width="\##(length)" height="\##(rowHeight - 8)" rx="2" fill="\##(fill)" stroke="\##(stroke)"/>"##
                note += ", " + String(format: "%.1f s", node.duration)
                if node.attempts > 1 { note += ", \(node.attempts) attempts" }
                if node.cached { note += ", cache hit" }
                item += ##"<text x="\##(labelWidth + offset * scale + length + 6)" y="\##(y + 15)" class="note">\##(HTML.escape(note))</text>"##
            } else {
                if node.cached { note += ", cache hit" }
                item += ##"<circle cx="\##(labelWidth + 5)" cy="\##(y + rowHeight / 2)" r="4" fill="\##(fill)" stroke="\##(stroke)"/>"##
                item += ##"<text x="\##(labelWidth + 14)" y="\##(y + 15)" class="note">\##(HTML.escape(note))</text>"##
            }
            svg.append(item + "</a>")
        }
        return (svg + ["</svg>"]).joined(separator: "\n")
    }

    /// Seconds between the axis' ticks: ten ticks at most, on round values.
    static func tickStep(_ total: Double) -> Double {
        [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].first { total / $0 <= 10 } ?? 7200
    }

    static func clock(_ seconds: Double) -> String {
        seconds < 60
            ? (seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds))
            : String(format: "%d:%02d", Int(seconds) / 60, Int(seconds) % 60)
    }
}

/// Escaping for text placed in HTML, SVG and XML (JUnit reports).
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
