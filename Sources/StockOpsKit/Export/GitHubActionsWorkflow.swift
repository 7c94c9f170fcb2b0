import Foundation

/// A GitHub Actions workflow in which every node of a ``PipelineGraph`` is a job, or with ``matrix`` an entry of a
/// matrix job (`stockops export github-actions`).
///
/// One job, `stockops`, builds stockops once per run and hands the binary on as the artifact `stockops-binary`. A node
/// job's `needs:` are that job and exactly its node's dependencies (with ``matrix``: those of its entries). Each node
/// job checks out, downloads the binary and the outputs of its dependencies (artifacts `stockops-output-<node>`), runs
/// `stockops run --only <node> --outputs-dir <dir>` and uploads its own output and run record. Outputs are stored
/// with their secrets removed, so a node that reads the secrets of `fetch-secrets` fetches them in its own job, and
/// revokes that token at the job's end (``readsVault(_:)``): only those jobs get the AppRole, and no token outlives
/// its job (there is no separate `revoke-vault-token` job). `finally` nodes run `if: always()`; manual nodes run in the `prod`
/// environment, whose required reviewers approve them; jobs that promote or deploy run in the environment's GitHub
/// environment (stage, prod) and its concurrency group, never cancelled. Every job runs on the environment's
/// self-hosted runner (``runner``). A pull request runs only the job `pull-request` (tests and scans, no secret, on
/// ``pullRequestRunner``).
public struct GitHubActionsWorkflow: Sendable {
    /// Actions used by the jobs, pinned by commit.
    public enum Pin {
        public static let checkout = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
        public static let cache = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"
        public static let uploadArtifact = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
        public static let downloadArtifact = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"
    }

    public var name = "stockops nodes"
    /// The environment the graph deploys to: its runner, GitHub environment and concurrency group.
    public var environment: Environment = .dev
    /// `runs-on` labels of the node jobs: the runner that reaches the environment's Docker engine.
    public var runner = RunnerLabels.defaults(for: .dev)
    /// The ref pattern of the environment (`environments.<env>.ref`): the pushes that run the workflow.
    public var triggerRef = "refs/heads/develop"
    /// `runs-on` labels of the pull-request job.
    public var pullRequestRunner = RunnerLabels.pullRequests
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
    /// The node that logs in to Vault and reads the secrets.
    static let fetchSecrets = StockOpsPipeline.fetchSecrets.id
    /// The node that revokes the token of ``fetchSecrets``: it runs inside every job that logs in, not as a job.
    static let revokeVaultToken = NodeID("revoke-vault-token")

    /// Whether the job of `node` logs in to Vault: `fetch-secrets` itself, and every node that reads its output.
    public static func readsVault(_ node: GraphNode) -> Bool {
        node.id == fetchSecrets || node.dependencies.contains(fetchSecrets)
    }
    /// The stages that change an environment: their jobs run in its GitHub environment and concurrency group.
    static let deployingStages: Set<String> = ["promote", "deploy", "gitops-deploy"]
    /// The id of the job that builds stockops.
    public static let buildJob = "stockops"
    /// The id of the pull-request job.
    public static let pullRequestJob = "pull-request"
    /// The artifact holding the stockops binary.
    static let binaryArtifact = "stockops-binary"
    /// Where node jobs put the downloaded binary, relative to the repository root.
    static let binaryDirectory = ".stockops/bin"

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
        for node in graph.nodes where node.id != Self.revokeVaultToken {
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
            for dependency in group.flatMap(\.dependencies) where dependency != Self.revokeVaultToken {
                let job = jobOfNode[dependency]!
                if job == id {
                    throw StockOpsError(
                        .usage, "--matrix cannot fold the \(group[0].id.name) nodes into one job: one of them depends on \(dependency); export without --matrix"
                    )
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
            throw StockOpsError(
                .usage, "--matrix makes the jobs \(needs.keys.sorted().joined(separator: ", ")) need each other in a cycle; export without --matrix")
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
            "# It deploys \(environment.rawValue) (pushes to \(triggerRef)); pull requests run tests and scans only.",
            "on:",
            "  push:",
            triggerRef.hasPrefix("refs/tags/")
                ? "    tags: [\(Self.quote(String(triggerRef.dropFirst("refs/tags/".count))))]"
                : "    branches: [\(Self.quote(triggerRef.hasPrefix("refs/heads/") ? String(triggerRef.dropFirst("refs/heads/".count)) : triggerRef))]",
            "  pull_request:",
            "",
            "permissions:",
            "  contents: read",
            "",
            "jobs:",
        ]
        lines += renderBuildJob() + renderPullRequestJob()
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
        lines.append("    needs: [" + ([Self.buildJob] + job.needs).joined(separator: ", ") + "]")
        // A pull request runs the pull-request job instead; a finally node runs whatever happened before it.
        lines.append(kind == .finally ? "    if: ${{ always() && github.event_name != 'pull_request' }}" : "    if: ${{ github.event_name != 'pull_request' }}")
        let deploying = nodes.contains { Self.deployingStages.contains($0.id.name) }
        if kind == .manual {
            lines.append("    environment: prod")
        } else if deploying && environment != .dev {
            lines.append("    environment: \(environment.rawValue)")
        }
        if deploying || kind == .manual {
            // One run at a time changes the environment; a deploy in progress is never cancelled.
            lines += ["    concurrency:", "      group: stockops-\(environment.rawValue)", "      cancel-in-progress: false"]
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
        lines += ["    runs-on: \(Self.labels(runner))", "    permissions:", "      contents: read"]
        if kind == .manual {
            // stockops reads the environment's review from GitHub's review history of the run.
            lines.append("      actions: read")
        }
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
            "      - name: Download stockops",
            "        uses: \(Pin.downloadArtifact)",
            "        with:",
            "          name: \(Self.binaryArtifact)",
            "          path: \(Self.binaryDirectory)",
            "      - name: Make stockops executable",
            "        run: chmod +x \(Self.binaryDirectory)/stockops",
        ]
        var downloaded: Set<NodeID> = []
        for dependency in nodes.flatMap(\.dependencies) where dependency != Self.revokeVaultToken && downloaded.insert(dependency).inserted {
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
        ]
        let readsVault = nodes.contains(where: Self.readsVault)
        if readsVault {
            lines += [
                "          VAULT_ADDR: ${{ secrets.VAULT_ADDR }}",
                "          VAULT_ROLE_ID: ${{ secrets.VAULT_ROLE_ID }}",
                "          VAULT_SECRET_ID: ${{ secrets.VAULT_SECRET_ID }}",
            ]
        }
        if kind == .manual {
            // The job runs in the prod environment, whose reviewers approved it: stockops reads that review from GitHub.
            lines.append("          GITHUB_TOKEN: ${{ github.token }}")
        }
        lines += [
            "        run: |",
            "          args=(run --only \"$NODE\" --outputs-dir \(outputsDirectory))",
        ]
        if kind == .manual {
            lines.append("          args+=(--approve \"$NODE\")")
        }
        if readsVault {
            // Secrets never travel between jobs: log in here, and revoke the token however the node ends.
            lines.append("          args+=(--only \(Self.fetchSecrets) --only \(Self.revokeVaultToken))")
        }
        lines += [
            "          \(Self.binaryDirectory)/stockops \"${args[@]}\"",
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

    /// `[a, b]`: a flow sequence of runner labels (letters, digits, `-`, `_`, `.`: no quoting needed).
    static func labels(_ labels: [String]) -> String { "[" + labels.joined(separator: ", ") + "]" }

    /// The job that builds stockops once (or takes the runner's, repository variable `STOCKOPS_BIN`) and uploads it.
    private func renderBuildJob() -> [String] {
        [
            "  \(Self.buildJob):",
            "    name: build stockops",
            "    if: ${{ github.event_name != 'pull_request' }}",
            "    runs-on: \(Self.labels(runner))",
            "    permissions:",
            "      contents: read",
            "    steps:",
            "      - uses: \(Pin.checkout)",
            "        with:",
            "          persist-credentials: false",
            "      - name: Install the Debian packages stockops needs",
            "        if: ${{ vars.STOCKOPS_BIN == '' }}",
            "        run: scripts/install-deps.sh",
            "      - name: Restore the SwiftPM build # zizmor: ignore[cache-poisoning] never restored for tags (if:)",
            "        if: ${{ vars.STOCKOPS_BIN == '' && !startsWith(github.ref, 'refs/tags/') }}",
            "        uses: \(Pin.cache)",
            "        with:",
            "          path: .build",
            "          key: stockops-${{ runner.os }}-${{ hashFiles('Package.swift', 'Package.resolved') }}",
            "      - name: Build stockops",
            "        if: ${{ vars.STOCKOPS_BIN == '' }}",
            "        run: swift build -c release --product stockops",
            "      - name: Take the runner's stockops",
            "        if: ${{ vars.STOCKOPS_BIN != '' }}",
            "        env:",
            "          STOCKOPS_BIN: ${{ vars.STOCKOPS_BIN }}",
            "        run: mkdir -p .build/release && cp \"$STOCKOPS_BIN\" .build/release/stockops",
            "      - name: Upload stockops",
            "        uses: \(Pin.uploadArtifact)",
            "        with:",
            "          name: \(Self.binaryArtifact)",
            "          path: .build/release/stockops",
            "          if-no-files-found: error",
        ]
    }

    /// The pull-request job: tests and scans of the proposed code, no secret, nothing signed, promoted or deployed.
    private func renderPullRequestJob() -> [String] {
        [
            "  \(Self.pullRequestJob):",
            "    name: pull request (tests and scans)",
            "    if: ${{ github.event_name == 'pull_request' }}",
            "    runs-on: \(Self.labels(pullRequestRunner))",
            "    concurrency:",
            "      group: stockops-pr-${{ github.ref }}",
            "      cancel-in-progress: true",
            "    permissions:",
            "      contents: read",
            "    steps:",
            "      - uses: \(Pin.checkout)",
            "        with:",
            "          fetch-depth: 0",
            "          persist-credentials: false",
            "      - name: Install the Debian packages stockops needs",
            "        run: scripts/install-deps.sh",
            "      - name: Build stockops",
            "        if: ${{ vars.STOCKOPS_BIN == '' }}",
            "        run: swift build -c release --product stockops",
            "      - name: Test and scan",
            "        env:",
            "          STOCKOPS: ${{ vars.STOCKOPS_BIN || '.build/release/stockops' }}",
            "        run: '\"$STOCKOPS\" run --env dev --only test --only secret-scan --only sast --only sca'",
            "      - name: Upload the run record",
            "        if: always()",
            "        uses: \(Pin.uploadArtifact)",
            "        with:",
            "          name: stockops-runs-pr",
            "          path: .stockops/runs/",
            "          if-no-files-found: ignore",
        ]
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
