import Foundation
import Testing

@testable import StockOpsKit

/// A bare infrastructure repository (`git init --bare`) with a Kustomize overlay for stage, as a GitOps target.
struct InfraRepository {
    let bare: String
    let runner = ProcessRunner()
    static let trade = "localhost:5000/stockapp/trade"

    init() async throws {
        let directory = temporaryDirectory("infra")
        bare = directory + "/infra.git"
        try await runner.run(Command("git", ["init", "-q", "--bare", "-b", "main", bare])).check("git init --bare")
        let seed = try await Repository()
        try seed.write("base/kustomization.yaml", "resources: [deployment.yaml]\n")
        try seed.write("base/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: trade}\n")
        try seed.write(
            "overlays/stage/kustomization.yaml",
            """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - ../../base
            images:
              - name: \(Self.trade)
                newName: \(Self.trade)
                newTag: git-0000000

            """)
        _ = try await seed.commit("stage overlay")
        try await seed.git("push", "-q", bare, "main:main")
    }

    func git(_ arguments: String...) async throws -> String {
        try await runner.run(Command("git", ["--git-dir", bare] + arguments)).check("git \(arguments.joined(separator: " "))").output
    }

    /// The overlay's trade entry on `main`.
    func trade(at revision: String = "main") async throws -> KustomizeImage? {
        try Kustomization(yaml: try await git("show", "\(revision):overlays/stage/kustomization.yaml")).image(named: Self.trade)
    }

    /// `(sha, "name <email>", subject)` of every commit on main, newest first.
    func log() async throws -> [(sha: String, author: String, subject: String)] {
        Git.parseLines(try await git("log", "--format=%H%x09%an <%ae>%x09%s", "main")).map {
            let parts = $0.split(separator: "\t", maxSplits: 2).map(String.init)
            return (parts[0], parts[1], parts[2])
        }
    }

    func target(pin: GitOpsTarget.Pin = .tag, argoCD: ArgoCDTarget? = nil) -> GitOpsTarget {
        GitOpsTarget(repository: bare, overlay: "overlays/stage", pin: pin, authorName: "Release Bot", authorEmail: "release@example.com", argoCD: argoCD)
    }
}

@Suite struct GitOpsTests {
    static let service = ServiceConfig(
        name: "trade", paths: ["services/trade/"], product: "trade", testTarget: "TradeServiceTests", healthPath: "/health", ports: [.stage: 8011])
    static let digestA = "sha256:" + String(repeating: "a", count: 64)
    static let digestB = "sha256:" + String(repeating: "b", count: 64)

    func built(_ tag: String, _ digest: String) -> BuiltImage {
        BuiltImage(service: "trade", repository: InfraRepository.trade, tag: tag, digest: digest, reused: false)
    }

    func deploy(_ infra: InfraRepository, _ image: BuiltImage, target: GitOpsTarget, secrets: FetchedSecrets? = nil) async throws -> (
        GitOpsDeployment, StageContext
    ) {
        let stage = GitOpsDeployStage(
            service: Self.service, environment: .stage, target: target, built: StockOpsPipeline.build("trade"),
            secrets: secrets == nil ? nil : StockOpsPipeline.fetchSecrets, pollInterval: .milliseconds(100))
        var outputs: [NodeID: any Sendable] = [StockOpsPipeline.build("trade").id: image]
        if let secrets { outputs[StockOpsPipeline.fetchSecrets.id] = secrets }
        let context = stageContext(StockOpsPipeline.gitOpsDeploy("trade").id, root: temporaryDirectory(), outputs: outputs)
        return (try await stage.run(context), context)
    }

    @Test func deployAndRollBackAgainstABareRepository() async throws {
        let infra = try await InfraRepository()
        let target = infra.target(pin: .tag)
        let (first, _) = try await deploy(infra, built("git-1111111", Self.digestA), target: target)
        #expect(first.change.previous?.newTag == "git-0000000")
        #expect(first.change.current == KustomizeImage(name: InfraRepository.trade, newName: InfraRepository.trade, newTag: "git-1111111"))
        #expect(first.change.changed)
        #expect(try await infra.trade()?.newTag == "git-1111111")

        let (second, _) = try await deploy(infra, built("git-2222222", Self.digestB), target: target)
        #expect(try await infra.trade()?.newTag == "git-2222222")
        let (again, _) = try await deploy(infra, built("git-2222222", Self.digestB), target: target)
        #expect(!again.change.changed)
        #expect(again.change.commit == second.change.commit)

        let deployer = GitOpsDeployer(target: target, environment: .stage, workDirectory: temporaryDirectory())
        let rollback = try await deployer.rollback(name: InfraRepository.trade) { restore, _ in "Roll back trade to \(restore.image.newTag ?? "")" }
        #expect(rollback.previous?.newTag == "git-2222222")
        #expect(rollback.current.newTag == "git-1111111")
        #expect(try await infra.trade()?.newTag == "git-1111111")

        let log = try await infra.log()
        #expect(
            log.map(\.subject) == ["Roll back trade to git-1111111", "Deploy trade git-2222222 to stage", "Deploy trade git-1111111 to stage", "stage overlay"])
        #expect(log.prefix(3).allSatisfy { $0.author == "Release Bot <release@example.com>" })
        #expect(log[0].sha == rollback.commit && log[1].sha == second.change.commit && log[2].sha == first.change.commit)
        let message = try await infra.git("log", "-1", "--format=%B", first.change.commit)
        #expect(message.contains("Image: \(InfraRepository.trade)@\(Self.digestA)"))

        let history = try await deployer.history(name: InfraRepository.trade)
        #expect(history.map { $0.image.newTag ?? "" } == ["git-1111111", "git-2222222", "git-1111111", "git-0000000"])

        let unknown = await #expect(throws: StageFailure.self) {
            try await deployer.rollback(name: InfraRepository.trade, to: "git-9999999") { _, _ in "never" }
        }
        #expect(unknown?.kind == .failed)
        #expect(
            unknown?.message.contains(
                "git-9999999 was never deployed to stage for \(InfraRepository.trade); values in the history of overlays/stage/kustomization.yaml: git-1111111, git-2222222, git-1111111, git-0000000"
            ) == true, "\(unknown?.message ?? "")")
        #expect(try await infra.log().count == 4)
        let named = try await deployer.rollback(name: InfraRepository.trade, to: "git-0000000") { _, _ in "Roll back trade to the first image" }
        #expect(named.current.newTag == "git-0000000" && named.changed)
    }

    @Test func pinningByDigestReplacesTheTag() async throws {
        let infra = try await InfraRepository()
        let (deployment, context) = try await deploy(infra, built("git-1111111", Self.digestA), target: infra.target(pin: .digest))
        #expect(deployment.change.current == KustomizeImage(name: InfraRepository.trade, newName: InfraRepository.trade, newTag: nil, digest: Self.digestA))
        let text = try await infra.git("show", "main:overlays/stage/kustomization.yaml")
        #expect(text.contains("digest: \"\(Self.digestA)\""))
        #expect(!text.contains("newTag"))
        #expect(text.contains("- ../../base"))
        #expect(
            context.log.contents().contains(
                "pushed \(deployment.change.commit.prefix(12)) to main: \(InfraRepository.trade) \(InfraRepository.trade):git-0000000 → \(InfraRepository.trade)@\(Self.digestA)"
            ))
    }

    @Test func aBranchThatMovedOnIsRetriedFromItsNewHead() async throws {
        let infra = try await InfraRepository()
        // The first push finds the branch moved: the hook commits on top of main before the push's ref update.
        let hook = infra.bare + "/hooks/pre-receive"
        try """
        #!/bin/sh
        cat > /dev/null
        marker="$GIT_DIR/concurrent-done"
        [ -e "$marker" ] && exit 0
        touch "$marker"
        unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
        parent=$(git rev-parse refs/heads/main)
        tree=$(git rev-parse "$parent^{tree}")
        commit=$(GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=other@example.com GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=other@example.com git commit-tree "$tree" -p "$parent" -m "concurrent change")
        git update-ref refs/heads/main "$commit" "$parent"
        exit 0

        """.write(toFile: hook, atomically: true, encoding: .utf8)
        #expect(chmod(hook, 0o755) == 0)
        let (deployment, context) = try await deploy(infra, built("git-3333333", Self.digestA), target: infra.target())
        #expect(context.log.contents().contains("main moved on while deploying: starting again from its new head (attempt 2 of 3)"))
        #expect(try await infra.log().map(\.subject) == ["Deploy trade git-3333333 to stage", "concurrent change", "stage overlay"])
        #expect(try await infra.log().first?.sha == deployment.change.commit)
        #expect(try await infra.trade()?.newTag == "git-3333333")
    }

    @Test func aMissingOverlayOrAnUnreachableRepositoryIsReported() async throws {
        let infra = try await InfraRepository()
        var target = infra.target()
        target.overlay = "overlays/prod"
        let missing = await #expect(throws: StageFailure.self) { try await deploy(infra, built("git-1", Self.digestA), target: target) }
        #expect(missing?.kind == .failed)
        #expect(missing?.message.contains("overlays/prod/kustomization.yaml does not exist on main") == true)
        target = infra.target()
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        target.repository = "http://127.0.0.1:\(refusing.port)/infra.git"
        let unreachable = await #expect(throws: StageFailure.self) { try await deploy(infra, built("git-1", Self.digestA), target: target) }
        #expect(unreachable?.kind == .transient)
    }

    @Test func aRefusedPushIsInfrastructureAndAPortWith403InItIsNot() throws {
        func kind(_ output: String) -> StageFailure.Kind? {
            do {
                try GitOpsDeployer.check(ProcessResult(pid: 1, exitStatus: 128, signal: nil, output: output, truncated: false), "git clone")
                return nil
            } catch let failure as StageFailure {
                return failure.kind
            } catch {
                return nil
            }
        }
        #expect(
            kind("fatal: unable to access 'http://127.0.0.1:40312/infra.git/': Failed to connect to 127.0.0.1 port 40312: Connection refused") == .transient)
        #expect(kind("fatal: unable to access 'https://git.example/infra.git/': The requested URL returned error: 403") == .infrastructure)
        #expect(kind("remote: Permission denied\nfatal: Authentication failed for 'https://git.example/infra.git/'") == .infrastructure)
    }

    @Test func argoCDIsWaitedForAtThePushedRevision() async throws {
        let infra = try await InfraRepository()
        let token = "argo-token-" + UUID().uuidString
        let argo = try await FakeAPIServer.start(FakeAPIServer.argoCD, arguments: [token, "stockapp-stage", infra.bare, "main", "healthy", "2"])
        defer { argo.stop() }
        let target = infra.target(argoCD: ArgoCDTarget(url: argo.baseURL, application: "stockapp-stage", timeout: 60))
        let secrets = FetchedSecrets(values: ["ARGOCD_TOKEN": Secret(token).registered()])
        let (deployment, context) = try await deploy(infra, built("git-4444444", Self.digestA), target: target, secrets: secrets)
        #expect(deployment.argoCD?.isDeployed(deployment.change.commit) == true)
        let requests = try await argo.requests()
        #expect(requests.count >= 3)
        #expect(requests.allSatisfy { $0["path"] as? String == "/api/v1/applications/stockapp-stage" && $0["authorization"] as? Bool == true })
        #expect(requests.first?["query"] as? String == "refresh=normal")
        #expect(requests.dropFirst().allSatisfy { $0["query"] as? String == "" })
        let log = context.log.contents()
        #expect(log.contains("argo cd: sync OutOfSync"))
        #expect(log.contains("argo cd: sync Synced at \(deployment.change.commit.prefix(12)), health Healthy"))
        #expect(!log.contains(token))
    }

    @Test func aMultiSourceApplicationIsWaitedForAtThePushedRevisionOfItsSource() async throws {
        let infra = try await InfraRepository()
        let token = "argo-token-" + UUID().uuidString
        let argo = try await FakeAPIServer.start(FakeAPIServer.argoCD, arguments: [token, "stockapp-stage", infra.bare, "main", "healthy", "2", "multi"])
        defer { argo.stop() }
        let target = infra.target(argoCD: ArgoCDTarget(url: argo.baseURL, application: "stockapp-stage", timeout: 60))
        let secrets = FetchedSecrets(values: ["ARGOCD_TOKEN": Secret(token).registered()])
        let (deployment, context) = try await deploy(infra, built("git-7777777", Self.digestA), target: target, secrets: secrets)
        let status = try #require(deployment.argoCD)
        #expect(status.revision == nil)
        #expect(status.revisions == ["1.4.2", deployment.change.commit])
        #expect(status.isDeployed(deployment.change.commit, repository: infra.bare))
        #expect(context.log.contents().contains("argo cd: sync Synced at 1.4.2, \(deployment.change.commit.prefix(12)), health Healthy"))
    }

    @Test func ofAMultiSourceApplicationTheSourceOfTheRepositoryCounts() throws {
        let json = #"""
            {"spec": {"sources": [{"repoURL": "https://git.example.com/platform.git", "path": "base"}, {"repoURL": "https://git.example.com/infra.git", "path": "overlays/stage"}]},
             "status": {"sync": {"status": "Synced", "revisions": ["aaaa", "bbbb"]}, "health": {"status": "Healthy"}}}
            """#
        let status = try ArgoCDApplicationStatus.parse(Data(json.utf8))
        #expect(status.sourceRepositories == ["https://git.example.com/platform.git", "https://git.example.com/infra.git"])
        #expect(status.isDeployed("bbbb", repository: "https://git.example.com/infra"))
        #expect(!status.isDeployed("aaaa", repository: "https://git.example.com/infra.git/"))
        #expect(status.isDeployed("aaaa"))
        #expect(status.isDeployed("aaaa", repository: "https://git.example.com/elsewhere.git"))
        #expect(!status.isDeployed("cccc"))
        let single = try ArgoCDApplicationStatus.parse(
            Data(#"{"status": {"sync": {"status": "Synced", "revision": "aaaa"}, "health": {"status": "Healthy"}}}"#.utf8))
        #expect(single.isDeployed("aaaa", repository: "https://git.example.com/infra.git"))
        #expect(!single.isDeployed("bbbb"))
    }

    @Test func aDegradedApplicationIsRolledBackInANewCommit() async throws {
        let infra = try await InfraRepository()
        let token = "argo-token-" + UUID().uuidString
        let argo = try await FakeAPIServer.start(FakeAPIServer.argoCD, arguments: [token, "stockapp-stage", infra.bare, "main", "degraded", "1"])
        defer { argo.stop() }
        let target = infra.target(argoCD: ArgoCDTarget(url: argo.baseURL, application: "stockapp-stage", timeout: 60))
        let secrets = FetchedSecrets(values: ["ARGOCD_TOKEN": Secret(token).registered()])
        let failure = await #expect(throws: StageFailure.self) { try await deploy(infra, built("git-5555555", Self.digestA), target: target, secrets: secrets) }
        #expect(failure?.kind == .failed)
        #expect(failure?.message.contains("Argo CD application stockapp-stage is not Synced at") == true)
        #expect(failure?.message.contains("health Degraded (Deployment trade exceeded its progress deadline)") == true, "\(failure?.message ?? "")")
        #expect(failure?.message.contains("rolled back to \(InfraRepository.trade):git-0000000") == true)
        #expect(
            try await infra.log().map(\.subject) == [
                "Roll back trade in stage to \(InfraRepository.trade):git-0000000", "Deploy trade git-5555555 to stage", "stage overlay",
            ])
        #expect(try await infra.trade()?.newTag == "git-0000000")

        let refused = await #expect(throws: StageFailure.self) {
            try await deploy(infra, built("git-6666666", Self.digestB), target: target, secrets: FetchedSecrets(values: ["ARGOCD_TOKEN": Secret("wrong")]))
        }
        #expect(refused?.kind == .infrastructure)
        #expect(refused?.message == "Argo CD refused the token (401): check the token in Vault")
    }

    func pipelineConfig(_ infra: InfraRepository) -> String {
        """
        version: 1
        services:
          - {name: trade, paths: [services/trade/], product: trade, test-target: TradeServiceTests, ports: {stage: 8011}}
        registry: {host: localhost:5000, project: stockapp}
        environments:
          stage:
            ref: refs/heads/release/**
            tag: stage-{sha7}
            kind: gitops
            gitops:
              repository: \(infra.bare)
              pin: tag
              author: {name: Release Bot, email: release@example.com}
        """
    }

    @Test func thePipelineDeploysAfterTheBuildAndTheCLIRollsBack() async throws {
        let infra = try await InfraRepository()
        let repository = try await Repository()
        try repository.write("pipelines/stockops.yml", pipelineConfig(infra))
        try repository.write("services/trade/Sources/TradeService/Trade.swift", "struct Trade {}\n")
        _ = try await repository.commit("app")
        let config = try PipelineConfig.load(path: repository.root + "/pipelines/stockops.yml")
        let graph = try StockOpsPipeline.graph(config: config, options: .init(environment: .stage))
        #expect(graph.node(StockOpsPipeline.gitOpsDeploy("trade").id)?.dependencies == [StockOpsPipeline.build("trade").id])
        #expect(graph.node(StockOpsPipeline.gitOpsDeploy("trade").id)?.policy.resources == ["gitops-stage"])
        #expect(try StockOpsPipeline.graph(config: config, options: .init(environment: .dev)).node(StockOpsPipeline.gitOpsDeploy("trade").id) == nil)

        // The build ran elsewhere: its output comes from --outputs-dir, as in the exported GitHub Actions workflow.
        let outputs = temporaryDirectory()
        try JSONEncoder().encode(built("git-7777777", Self.digestA)).write(to: URL(fileURLWithPath: outputs + "/build_trade_.json"))
        var request = RunRequest(root: repository.root, environment: .stage, processEnvironment: [:])
        request.only = ["gitops-deploy[trade]"]
        request.outputsDirectory = outputs
        #expect(try await request.run(progress: .discarding).exitStatus == .success)
        #expect(try await infra.trade()?.newTag == "git-7777777")
        let written = try JSONDecoder().decode(GitOpsDeployment.self, from: Data(contentsOf: URL(fileURLWithPath: outputs + "/gitops-deploy_trade_.json")))
        #expect(written.change.current.newTag == "git-7777777")

        func perform(_ request: GitOpsRequest) async -> Result<GitOpsOutcome, StockOpsError> {
            await attempt { () async throws(StockOpsError) in try await request.perform(progress: .discarding) }
        }
        let history = await perform(GitOpsRequest(action: .history, root: repository.root, environment: .stage, service: "trade", processEnvironment: [:]))
        #expect(history.exitStatus == .success)
        let revisions = try #require(history.value?.history)
        #expect(revisions.image == InfraRepository.trade && revisions.kustomization == "overlays/stage/kustomization.yaml")
        #expect(revisions.revisions.first?.commit == written.change.commit && revisions.revisions.first?.image.newTag == "git-7777777")
        let historyJSON = JSONOutput.document(revisions)
        #expect(try await JSONSchemaCheck.problems(historyJSON, command: "gitops-history").isEmpty, "\(historyJSON)")

        let neverDeployed = await perform(
            GitOpsRequest(action: .rollback, root: repository.root, environment: .stage, service: "trade", to: "git-8888888", processEnvironment: [:]))
        #expect(neverDeployed.exitStatus == .gateFailed)
        #expect(try await infra.log().count == 2)
        #expect(neverDeployed.value?.problems.contains { $0.contains("git-8888888 was never deployed to stage") } == true, "\(neverDeployed)")
        let rollback = await perform(GitOpsRequest(action: .rollback, root: repository.root, environment: .stage, service: "trade", processEnvironment: [:]))
        #expect(rollback.exitStatus == .success)
        let deployment = try #require(rollback.value?.deployment)
        let rollbackJSON = JSONOutput.document(deployment)
        #expect(try await JSONSchemaCheck.problems(rollbackJSON, command: "gitops-rollback").isEmpty, "\(rollbackJSON)")
        #expect(try await infra.trade()?.newTag == "git-0000000")
        #expect(deployment.change.current.newTag == "git-0000000" && deployment.change.previous?.newTag == "git-7777777")
        #expect(try await infra.log().map(\.subject).first == "Roll back trade in stage to git-0000000")

        let notGitOps = await perform(GitOpsRequest(action: .rollback, root: repository.root, environment: .dev, service: "trade", processEnvironment: [:]))
        #expect(notGitOps.exitStatus == .usage)
        #expect(notGitOps.message.contains("dev is not a kind: gitops environment in pipelines/stockops.yml; gitops environments: stage"))
        let unknownService = await perform(
            GitOpsRequest(action: .rollback, root: repository.root, environment: .stage, service: "billing", processEnvironment: [:]))
        #expect(unknownService.exitStatus == .usage)
        #expect(unknownService.message.contains("no service named billing; services: trade"))
    }
}
