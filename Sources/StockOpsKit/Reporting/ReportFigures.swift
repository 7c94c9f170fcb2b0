import Foundation

/// The figures a reader of a run looks for, read from the nodes' recorded outputs by their shape: tests and coverage,
/// vulnerabilities by severity, findings, the images with their digests and signatures, and the deploy.
struct ReportFigures {
    struct Tests {
        var node: NodeID
        var tests: Int?
        var failures: Int?
        var coverage: Double?
        var minimum: Double?
    }

    struct Vulnerabilities {
        var node: NodeID
        var bySeverity: [String: Int]
    }

    struct Findings {
        var node: NodeID
        var count: Int
    }

    struct Image {
        var service: String
        var reference: String
        var digest: String
        var signed: String?
        var attested: Bool
    }

    struct Deploy {
        var node: NodeID
        var environment: String
        var seconds: Double?
        var signaturesVerified: Bool?
        var images: [(String, String)]
    }

    var tests: [Tests] = []
    var vulnerabilities: [Vulnerabilities] = []
    var findings: [Findings] = []
    var images: [Image] = []
    var deploys: [Deploy] = []

    init(_ record: RunRecord) {
        var signatures: [String: String] = [:]
        var attested: Set<String> = []
        for node in record.nodes {
            guard case .object(let output)? = node.output else { continue }
            if let coverage = output["coverage"]?.numberValue {
                let counts = output["counts"]?.objectValue
                tests.append(
                    Tests(
                        node: node.id, tests: counts?["tests"]?.intValue, failures: counts?["failures"]?.intValue, coverage: coverage,
                        minimum: output["minimumCoverage"]?.numberValue))
            } else if let counts = output["counts"]?.objectValue, output["digest"] != nil {
                vulnerabilities.append(Vulnerabilities(node: node.id, bySeverity: counts.compactMapValues(\.intValue)))
            }
            if case .array(let items)? = output["findings"] {
                findings.append(Findings(node: node.id, count: items.count))
            }
            if let digest = output["digest"]?.stringValue {
                if let repository = output["repository"]?.stringValue, let tag = output["tag"]?.stringValue {
                    images.append(
                        Image(service: output["service"]?.stringValue ?? "-", reference: repository + ":" + tag, digest: digest, signed: nil, attested: false))
                }
                if let mode = output["mode"]?.stringValue { signatures[digest] = mode + (output["tool"]?.stringValue.map { " (\($0))" } ?? "") }
                if output["provenance"] != nil { attested.insert(digest) }
            }
            if let environment = output["environment"]?.stringValue, case .object(let deployed)? = output["images"], output["smoke"] != nil {
                deploys.append(
                    Deploy(
                        node: node.id, environment: environment, seconds: output["seconds"]?.numberValue,
                        signaturesVerified: output["signaturesVerified"]?.boolValue,
                        images: deployed.compactMap { name, digest in digest.stringValue.map { (name, $0) } }.sorted { $0.0 < $1.0 }))
            }
        }
        images = images.map { image in
            var image = image
            image.signed = signatures[image.digest]
            image.attested = attested.contains(image.digest)
            return image
        }
    }

    var html: String {
        var parts: [String] = []
        if !tests.isEmpty {
            parts.append(
                table(
                    "Tests", ["node", "tests", "failed", "coverage", "minimum"],
                    tests.map { row in
                        [
                            link(row.node), row.tests.map(String.init) ?? "-", row.failures.map(String.init) ?? "-",
                            row.coverage.map { String(format: "%.1f %%", $0) } ?? "-", row.minimum.map { String(format: "%.0f %%", $0) } ?? "-",
                        ]
                    }))
        }
        if !vulnerabilities.isEmpty {
            let severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            parts.append(
                table(
                    "Vulnerabilities", ["node"] + severities.map { $0.lowercased() },
                    vulnerabilities.map { row in
                        [link(row.node)] + severities.map { String(row.bySeverity[$0] ?? 0) }
                    }))
        }
        if !findings.isEmpty {
            parts.append(table("Findings", ["node", "findings"], findings.map { [link($0.node), String($0.count)] }))
        }
        if !images.isEmpty {
            parts.append(
                table(
                    "Images", ["service", "image", "digest", "signature", "attestations"],
                    images.map { image in
                        [
                            HTML.escape(image.service), "<code>\(HTML.escape(image.reference))</code>", "<code>\(HTML.escape(image.digest))</code>",
                            HTML.escape(image.signed ?? "not signed"), image.attested ? "provenance, SBOM" : "none",
                        ]
                    }))
        }
        for deploy in deploys {
            var rows = deploy.images.map { ["<code>\(HTML.escape($0.0))</code>", "<code>\(HTML.escape($0.1))</code>"] }
            rows.append(["seconds", deploy.seconds.map { String(format: "%.1f", $0) } ?? "-"])
            rows.append(["signatures verified", deploy.signaturesVerified.map { $0 ? "yes" : "no" } ?? "-"])
            parts.append(table("Deploy to \(HTML.escape(deploy.environment)) (\(link(deploy.node)))", ["", ""], rows))
        }
        guard !parts.isEmpty else { return "" }
        return "<section id=\"figures\"><h2>Figures</h2>\(parts.joined(separator: "\n"))</section>"
    }

    private func link(_ id: NodeID) -> String {
        "<a href=\"#\(RunDiagrams.anchor(id))\"><code>\(HTML.escape(id.description))</code></a>"
    }

    /// A titled table; cells are HTML already.
    private func table(_ title: String, _ header: [String], _ rows: [[String]]) -> String {
        let head = header.allSatisfy(\.isEmpty) ? "" : "<tr>" + header.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>"
        return "<h3>\(title)</h3><table>\(head)" + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }
}
