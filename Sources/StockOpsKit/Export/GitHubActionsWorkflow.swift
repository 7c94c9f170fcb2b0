import Foundation

/// A GitHub Actions workflow in which every node of a ``PipelineGraph`` is a job, or with ``matrix`` an entry of a
/// matrix job (`stockops export github-actions`).
///
/// A job's `needs:` are exactly its node's dependencies (with ``matrix``: those of its entries). Each job checks out,
/// builds stockops, downloads the outputs of its dependencies (artifacts `stockops-output-<node>`), runs
/// `stockops run --only <node> --outputs-dir <dir>` and uploads its own output and run record. `finally` nodes run
/// `if: always()`; manual nodes run in the `prod` environment, whose required reviewers approve them.
public struct GitHubActionsWorkflow: Sendable {
    /// Actions used by the jobs, pinned by commit.
    public enum Pin {
        public static let checkout = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
        public static let cache = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"
        public static let uploadArtifact = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
        public static let downloadArtifact = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"
    }

    public var name = "stockops nodes"
    public var runner = "ubuntu-24.04"
    /// Where jobs exchange outputs, relative to the repository root.
    public var outputsDirectory = ".stockops/outputs"
    /// The pipeline file the graph came from, named in the header.
    public var configPath = PipelineConfig.defaultPath
    /// Folds the keyed nodes of one stage (`test[stock-listing]`, `test[trade]`) into one job with a matrix entry per
    /// node. Such a job needs the jobs of all its entries' dependencies, so an entry may wait for a sibling's
    /// dependency: shorter workflow, coarser edges. Without it every node is a job and `needs:` is the graph's edges.
    public var matrix = false
    /// Whether images are signed keyless (`images.sign.keyless`): the jobs running `sign` then get `id-token: write`,
    /// the GitHub OIDC token cosign exchanges with Fulcio for a signing certificate.
    public var keylessSigning = false

    /// The stage that signs images.
    static let signStage = "sign"

    public init() {}

    /// A job of the workflow: one node, or the nodes of one stage as matrix entries.
    public struct Job: Sendable, Equatable {
        public var id: String
        public var nodes: [NodeID]
        /// Job ids, in the order the graph lists the nodes.
        public var needs: [String]
        public var isMatrix: Bool { nodes.count > 1 }
    }

    /// The jobs of `graph`: one per node, or with ``matrix`` one per stage of two or more keyed nodes of one kind.
    /// Throws when folding makes a job need itself or jobs need each other in a cycle.
    public func jobs(for graph: PipelineGraph) throws(StockOpsError) -> [Job] {
        let nodeJobIDs = Self.jobIDs(for: graph)
        var groups: [[GraphNode]] = []
        var groupOfStage: [String: Int] = [:]
        for node in graph.nodes {
            if matrix, node.id.key != nil {
                if let index = groupOfStage[node.id.name] {
                    if groups[index][0].policy.kind == node.policy.kind {
                        groups[index].append(node)
                        continue
                    }
                } else {
                    groupOfStage[node.id.name] = groups.count
                }
            }
            groups.append([node])
        }
        var taken = Set(groups.filter { $0.count == 1 }.map { nodeJobIDs[$0[0].id]! })
        var jobOfNode: [NodeID: String] = [:]
        var ids: [String] = []
        for group in groups {
            var id = nodeJobIDs[group[0].id]!
            if group.count > 1 {
                let base = Self.sanitize(group[0].id.name)
                id = base
                var suffix = 2
                while taken.contains(id) {
                    id = "\(base)-\(suffix)"
                    suffix += 1
                }
                taken.insert(id)
            }
            ids.append(id)
            for node in group { jobOfNode[node.id] = id }
        }
        var jobs: [Job] = []
        for (group, id) in zip(groups, ids) {
            var needs: [String] = []
            for dependency in group.flatMap(\.dependencies) {
                let job = jobOfNode[dependency]!
                if job == id {
                    throw StockOpsError(.usage, "--matrix cannot fold the \(group[0].id.name) nodes into one job: one of them depends on \(dependency); export without --matrix")
                }
                if !needs.contains(job) { needs.append(job) }
            }
            jobs.append(Job(id: id, nodes: group.map(\.id), needs: needs))
        }
        try Self.checkAcyclic(jobs)
        return jobs
    }

    private static func checkAcyclic(_ jobs: [Job]) throws(StockOpsError) {
        var needs = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, Set($0.needs)) })
        while let ready = needs.first(where: { $0.value.isEmpty })?.key {
            needs[ready] = nil
            for key in needs.keys { needs[key]?.remove(ready) }
        }
        if !needs.isEmpty {
            throw StockOpsError(.usage, "--matrix makes the jobs \(needs.keys.sorted().joined(separator: ", ")) need each other in a cycle; export without --matrix")
        }
    }

    /// Job ids by node: the id with every run of characters other than letters, digits, `-` and `_` turned into `-`
    /// (`test[trade]` → `test-trade`), made unique with a numeric suffix.
    public static func jobIDs(for graph: PipelineGraph) -> [NodeID: String] {
        var ids: [NodeID: String] = [:]
        var taken: Set<String> = []
        for node in graph.nodes {
            let base = sanitize(node.id.description)
            var id = base
            var suffix = 2
            while taken.contains(id) {
                id = "\(base)-\(suffix)"
                suffix += 1
            }
            taken.insert(id)
            ids[node.id] = id
        }
        return ids
    }

    /// `text` as a job id: every run of characters other than letters, digits, `-` and `_` turned into `-`, and
    /// `node-` in front when it would not start with a letter or `_`.
    static func sanitize(_ text: String) -> String {
        var id = ""
        for character in text {
            if character.isASCII && (character.isLetter || character.isNumber || character == "_" || character == "-") {
                id.append(character)
            } else if !id.hasSuffix("-") {
                id.append("-")
            }
        }
        while id.hasSuffix("-") { id.removeLast() }
        if id.first.map({ !$0.isLetter && $0 != "_" }) ?? true { id = "node-" + id }
        return id
    }

    /// The workflow as YAML.
    public func render(_ graph: PipelineGraph) throws(StockOpsError) -> String {
        let artifactIDs = Self.jobIDs(for: graph)
        let nodes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0) })
        var lines = [
            "# Generated by `stockops export github-actions` from \(configPath): one job per node of the pipeline graph.",
            "# Regenerate it after changing the graph rather than editing it.",
            "name: \(Self.quote(name))",
            "",
            "on:",
            "  push:",
            "    branches: [develop, \"release/**\"]",
            "    tags: [\"v*.*.*\"]",
            "  pull_request:",
            "",
            "permissions:",
            "  contents: read",
            "",
            "concurrency:",
            "  group: stockops-nodes-${{ github.ref }}",
            "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}",
            "",
            "jobs:",
        ]
        for job in try jobs(for: graph) {
            lines += render(job, nodes: job.nodes.map { nodes[$0]! }, artifactIDs: artifactIDs)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The YAML of `job`, whose nodes are `nodes` (all of one kind).
    private func render(_ job: Job, nodes: [GraphNode], artifactIDs: [NodeID: String]) -> [String] {
        let kind = nodes[0].policy.kind
        // What the steps name the node, its artifact and its output file by: literals, or the matrix entry's fields.
        let node = job.isMatrix ? "${{ matrix.node }}" : nodes[0].id.description
        let artifact = job.isMatrix ? "${{ matrix.artifact }}" : artifactIDs[nodes[0].id]!
        let outputFile = job.isMatrix ? "${{ matrix.output }}" : nodes[0].id.fileName + ".json"
        var lines = ["  \(job.id):", "    name: \(Self.quote(node))"]
        if !job.needs.isEmpty {
            lines.append("    needs: [" + job.needs.joined(separator: ", ") + "]")
        }
        if kind == .finally {
            lines.append("    if: always()")
        }
        if kind == .manual {
            lines.append("    environment: prod")
        }
        if job.isMatrix {
            lines += ["    strategy:", "      fail-fast: false", "      matrix:", "        include:"]
            for entry in nodes {
                lines += [
                    "          - node: \(Self.quote(entry.id.description))",
                    "            artifact: \(artifactIDs[entry.id]!)",
                    "            output: \(Self.quote(entry.id.fileName + ".json"))",
                ]
            }
        }
        lines += ["    runs-on: \(runner)", "    permissions:", "      contents: read"]
        if keylessSigning && nodes.contains(where: { $0.id.name == Self.signStage }) {
            lines.append("      id-token: write")
        }
        lines += [
            "    steps:",
            "      - uses: \(Pin.checkout)",
            "        with:",
            "          fetch-depth: 0",
            "          persist-credentials: false",
            "      - name: Install the Debian packages stockops needs",
            "        run: scripts/install-deps.sh",
            "      - name: Restore the SwiftPM build # zizmor: ignore[cache-poisoning] never restored for tags (if:)",
            "        if: ${{ !startsWith(github.ref, 'refs/tags/') }}",
            "        uses: \(Pin.cache)",
            "        with:",
            "          path: .build",
            "          key: stockops-${{ runner.os }}-${{ hashFiles('Package.swift', 'Package.resolved') }}",
            "      - name: Build stockops",
            "        run: swift build -c release --product stockops",
        ]
        var downloaded: Set<NodeID> = []
        for dependency in nodes.flatMap(\.dependencies) where downloaded.insert(dependency).inserted {
            lines += [
                "      - name: \(Self.quote("Download the output of \(dependency)"))",
                "        uses: \(Pin.downloadArtifact)",
                "        continue-on-error: true",
                "        with:",
                "          name: stockops-output-\(artifactIDs[dependency]!)",
                "          path: \(outputsDirectory)",
            ]
        }
        lines += [
            "      - name: \(Self.quote("Run \(node)"))",
            "        env:",
            "          NODE: \(Self.quote(node))",
            "          VAULT_ADDR: ${{ secrets.VAULT_ADDR }}",
            "          VAULT_ROLE_ID: ${{ secrets.VAULT_ROLE_ID }}",
            "          VAULT_SECRET_ID: ${{ secrets.VAULT_SECRET_ID }}",
        ]
        if kind == .manual {
            // The job runs in the prod environment, whose reviewers approved it: the deploy records that approval.
            lines.append("          STOCKOPS_GITHUB_ENVIRONMENT: prod")
        }
        lines += [
            "        run: |",
            "          args=(run --only \"$NODE\" --outputs-dir \(outputsDirectory))",
            "          if [ \"$GITHUB_EVENT_NAME\" = pull_request ]; then args+=(--env dev); fi",
        ]
        if kind == .manual {
            lines.append("          args+=(--approve \"$NODE\")")
        }
        lines += [
            "          .build/release/stockops \"${args[@]}\"",
            "      - name: \(Self.quote("Upload the output of \(node)"))",
            "        if: always()",
            "        uses: \(Pin.uploadArtifact)",
            "        with:",
            "          name: stockops-output-\(artifact)",
            "          path: \(outputsDirectory)/\(outputFile)",
            "          if-no-files-found: ignore",
            "      - name: Upload the run record",
            "        if: always()",
            "        uses: \(Pin.uploadArtifact)",
            "        with:",
            "          name: stockops-run-\(artifact)",
            "          path: .stockops/runs/",
            "          if-no-files-found: ignore",
        ]
        return lines
    }

    /// A YAML double-quoted scalar.
    static func quote(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            default:
                if scalar.value < 0x20 {
                    quoted += String(format: "\\x%02x", scalar.value)
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }
}
