import ArgumentParser
import Foundation
import StockOpsKit

struct GitOpsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gitops",
        abstract: "Roll back or inspect a service's image in a kind: gitops environment.",
        discussion: """
        The environment's Kustomize overlay (environments.<env>.gitops in pipelines/stockops.yml) holds one \
        images: entry per service. `rollback` restores the value before the current one — or, with --to, the \
        most recent one with that tag or digest — in a new commit, pushes it and, with gitops.argocd, waits \
        until the application is Synced to it and Healthy. `history` lists the values, newest first.
        Exit codes: 0 done, 1 the rollback failed (such as a --to never deployed; nothing is changed), \
        2 usage or configuration error, 3 the repository, Vault or Argo CD is unreachable.

        Examples:
          stockops gitops history --env stage --service trade
          stockops gitops rollback --env stage --service trade
          stockops gitops rollback --env stage --service trade --to git-1a2b3c4
        """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case rollback
        case history
    }

    @Argument(help: "What to do: rollback or history.")
    var action: Action

    @Option(name: [.customShort("e"), .long], help: "The kind: gitops environment.")
    var env: Environment

    @Option(help: "The service whose image changes.")
    var service: String

    @Option(help: ArgumentHelp("rollback: the tag or sha256: digest to restore, from the overlay's history.", valueName: "tag"))
    var to: String?

    @Option(help: "The repository root. (default: the current directory)")
    var root: String?

    @Option(help: "The pipeline file, relative to the root.")
    var config: String = PipelineConfig.defaultPath

    func validate() throws {
        if to != nil && action != .rollback { throw ValidationError("--to is an option of rollback") }
    }

    func run() async throws {
        let request = GitOpsRequest(
            action: action == .rollback ? .rollback : .history, root: root ?? FileManager.default.currentDirectoryPath,
            configPath: config, environment: env, service: service, to: to)
        try await Session().gitOps(request).finish()
    }
}
