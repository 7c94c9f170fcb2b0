import Foundation

/// `report.html`: one self-contained page per run. The graph coloured by status, the timeline, the failed nodes with
/// the end of their logs, the gates' figures, the images and the deploy, and every node's note, output and log. No
/// script and nothing fetched: a Content-Security-Policy refuses anything that is not inline.
public enum RunReport {
    /// The part of each log the page carries; longer logs keep their end.
    static let logLimit = 64 * 1024

    /// Where a run's report is written.
    public static func path(_ paths: RunPaths) -> String { paths.runDirectory + "/report.html" }

    /// Writes the report of `record` next to its `run.json`; the graph is drawn by Graphviz's `dot` when it is on
    /// the PATH, by stockops otherwise. Returns the file's path.
    @discardableResult
    public static func write(_ record: RunRecord, paths: RunPaths, runner: ProcessRunner = ProcessRunner()) async throws -> String {
        try FileManager.default.createDirectory(atPath: paths.runDirectory, withIntermediateDirectories: true)
        let graph = await graphvizSVG(record, paths: paths, runner: runner)
        let file = path(paths)
        try PrivateFile.write(Data(render(record, paths: paths, graphSVG: graph).utf8), to: file)
        return file
    }

    /// `dot -Tsvg` of the run's graph, or nil when Graphviz is missing or fails.
    static func graphvizSVG(_ record: RunRecord, paths: RunPaths, runner: ProcessRunner) async -> String? {
        let source = paths.runDirectory + "/.report-graph.dot"
        let output = paths.runDirectory + "/.report-graph.svg"
        defer {
            unlink(source)
            unlink(output)
        }
        guard FileManager.default.createFile(atPath: source, contents: Data(RunDiagrams.dot(record).utf8)) else { return nil }
        let command = Command("dot", ["-Tsvg", "-o", output, source])
        // Graphviz is optional: without it, or when it fails, the page draws the graph itself.
        guard (try? runner.resolve(command)) != nil, let result = try? await runner.run(command), result.succeeded,
            let document = try? String(contentsOfFile: output, encoding: .utf8)
        else { return nil }
        return RunDiagrams.inlineSVG(document)
    }

    /// The page, with every secret registered in ``SecretMasker/shared`` masked. `graphSVG` is Graphviz's drawing;
    /// without it stockops draws the graph.
    public static func render(_ record: RunRecord, paths: RunPaths, graphSVG: String?) -> String {
        let title = "stockops run \(record.runID)"
        var body: [String] = []
        body.append("<header><h1>\(HTML.escape(title))</h1>")
        body.append(##"<p class="verdict \##(record.status.rawValue)">\##(record.status.rawValue)</p>"##)
        body.append(
            "<dl class=\"facts\">"
                + fact("environment", record.environment ?? "-") + fact("exit code", String(record.exitCode))
                + fact("started", timestamp(record.started)) + fact("duration", String(format: "%.1f s", record.duration))
                + fact("nodes", summaryCounts(record)) + "</dl></header>")

        let failed = RunHistory.failures(record, paths: paths)
        if !failed.isEmpty {
            body.append(#"<section class="failures"><h2>Failed</h2>"#)
            for node in failed {
                body.append(
                    ##"<article class="failure"><h3><a href="#\##(RunDiagrams.anchor(node.id))">\##(HTML.escape(node.id.description))</a></h3>"##
                        + "<p class=\"reason\">\(HTML.escape(node.reason))</p>"
                        + "<p class=\"path\">log: <code>\(HTML.escape(node.logPath))</code></p>"
                        + (node.tail.isEmpty ? "" : "<pre class=\"tail\">\(HTML.escape(node.tail.joined(separator: "\n")))</pre>") + "</article>")
            }
            body.append("</section>")
        }

        body.append("<section><h2>Graph</h2><div class=\"diagram\" id=\"graph\">\(graphSVG ?? RunDiagrams.graphSVG(record))</div></section>")
        body.append("<section><h2>Timeline</h2><div class=\"diagram\" id=\"timeline\">\(RunDiagrams.timelineSVG(record))</div></section>")
        body.append(ReportFigures(record).html)
        body.append("<section><h2>Nodes</h2>")
        for node in record.nodes {
            body.append(section(node, paths: paths))
        }
        body.append("</section>")
        body.append("<footer>record: <code>\(HTML.escape(paths.runDirectory))/run.json</code></footer>")

        let page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title))</title>
            <style>\(style)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
        return SecretMasker.shared.mask(page)
    }

    static func fact(_ name: String, _ value: String) -> String {
        "<dt>\(HTML.escape(name))</dt><dd>\(HTML.escape(value))</dd>"
    }

    static func summaryCounts(_ record: RunRecord) -> String {
        let counts = Dictionary(grouping: record.nodes, by: \.status).mapValues(\.count)
        return NodeStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }.joined(separator: ", ")
    }

    static func timestamp(_ date: Date?) -> String {
        guard let date else { return "-" }
        return ISO8601DateFormatter().string(from: date)
    }

    /// A node's section: its facts, note, output and log.
    static func section(_ node: RunRecord.Entry, paths: RunPaths) -> String {
        let failed = node.status.isFailure
        var html = ##"<details class="node \##(node.status.rawValue)" id="\##(RunDiagrams.anchor(node.id))"\##(failed ? " open" : "")>"##
        html += ##"<summary><span class="badge \##(node.status.rawValue)">\##(node.status.rawValue)</span> <code>\##(HTML.escape(node.id.description))</code>"##
        html +=
            " <span class=\"muted\">\(String(format: "%.1f s", node.duration))\(node.reason.map { " — " + HTML.escape(firstLine($0)) } ?? "")</span></summary>"
        html +=
            "<dl class=\"facts\">" + fact("kind", node.kind.rawValue) + fact("attempts", String(node.attempts))
            + fact("started", timestamp(node.started)) + fact("finished", timestamp(node.finished))
            + fact("cache", node.cached ? "hit" : node.cacheKey.map { "key " + String($0.prefix(16)) } ?? "not cacheable")
            + (node.failureKind.map { fact("failure kind", $0.rawValue) } ?? "") + "</dl>"
        if let reason = node.reason {
            html += "<p class=\"reason\">\(HTML.escape(reason))</p>"
        }
        if let output = node.output, output != .null {
            html += "<details><summary>output</summary><pre>\(HTML.escape(pretty(output)))</pre></details>"
        }
        if let log = node.log {
            let (text, cut) = logText(paths.runDirectory + "/" + log)
            let lines = text.isEmpty ? 0 : text.split(separator: "\n", omittingEmptySubsequences: false).count
            html +=
                "<details class=\"log\"\(failed ? " open" : "")><summary>log <code>\(HTML.escape(log))</code> (\(lines) lines\(cut ? ", its end" : ""))</summary>"
                + "<pre>\(HTML.escape(text))</pre></details>"
        }
        return html + "</details>"
    }

    /// The log's text, its last ``logLimit`` bytes when longer (and whether it was cut), masked.
    static func logText(_ path: String) -> (String, Bool) {
        guard let data = FileManager.default.contents(atPath: path) else { return ("(the log is gone)", false) }
        let cut = data.count > logLimit
        let text = String(decoding: cut ? data.suffix(logLimit) : data, as: UTF8.self)
        return (SecretMasker.shared.mask(text), cut)
    }

    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Only a non-finite number fails to encode, and values decoded from JSON hold none.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func firstLine(_ text: String) -> String {
        text.split(separator: "\n").first.map(String.init) ?? ""
    }

    static let style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#212529;margin:0 auto;max-width:1180px;padding:16px 24px}
        h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}h3{font-size:14px;margin:0 0 4px}
        code,pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,monospace}pre{background:#f8f9fa;border:1px solid #e9ecef;padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;word-break:break-all}
        .verdict{display:inline-block;font-weight:600;padding:2px 10px;border-radius:12px;margin:4px 0}
        .facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}.facts dt{color:#6c757d}.facts dd{margin:0}
        .badge{display:inline-block;min-width:64px;text-align:center;border-radius:10px;padding:0 6px;font-size:12px;border:1px solid}
        .passed{background:#d3f9d8;border-color:#2b8a3e}.cached,.external{background:#d0ebff;border-color:#1971c2}.failed,.timed-out{background:#ffe3e3;border-color:#c92a2a}
        .blocked{background:#fff3bf;border-color:#e67700}.skipped,.would-run{background:#f1f3f5;border-color:#868e96}.cancelled{background:#e9ecef;border-color:#495057}
        details.node{background:none;border:1px solid #dee2e6;border-radius:6px;margin:6px 0;padding:4px 10px}details.node>summary{cursor:pointer}
        details.node:target{outline:2px solid #1971c2}.muted{color:#6c757d}.reason{white-space:pre-wrap}
        .failure{border-left:4px solid #c92a2a;padding:4px 12px;margin:8px 0;background:#fff5f5}
        .diagram{overflow-x:auto;border:1px solid #e9ecef;border-radius:6px;padding:8px}.diagram svg.graph{max-width:100%;height:auto}
        svg text{font:11px system-ui,Helvetica,Arial,sans-serif;fill:#212529}svg text.status,svg text.note,svg text.tick{fill:#495057;font-size:10px}svg a:hover rect{stroke-width:2}
        table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f8f9fa}
        footer{margin:28px 0 8px;color:#6c757d}
        """
}
