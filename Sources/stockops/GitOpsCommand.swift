import ArgumentParser
import Foundation
import StockOpsKit

struct GitOpsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gitops",
        abstract: "Roll back or inspect a service's image in a kind: gitops environment.",
        discussion: """
            The environment's Kustomize overlay (environments.<env>.gitops in pipelines/stockops.yml) holds one \
            images: entry per service.
            Exit codes: 0 done, 1 the rollback failed (such as a --to never deployed; nothing is changed), \
            2 usage or configuration error, 3 the repository, Vault or Argo CD is unreachable.

            Examples:
              stockops gitops history --env stage --service trade
              stockops gitops rollback --env stage --service trade
              stockops gitops rollback --env stage --service trade --to git-1a2b3c4
            """,
        subcommands: [Rollback.self, History.self]
    )

    /// The flags both actions take.
    struct Options: ParsableArguments {
        @Option(name: [.customShort("e"), .long], help: "The kind: gitops environment.")
        var env: Environment

        @Option(help: "The service whose image changes.")
        var service: String

        @Option(help: "The repository root. (default: the current directory)")
        var root: String?

        @Option(help: "The pipeline file, relative to the root.")
        var config: String = PipelineConfig.defaultPath

        @Flag(
            help:
                "Print JSON: rollback {schemaVersion, service, change, argoCD}; history {schemaVersion, environment, service, image, kustomization, revisions}."
        )
        var json = false

        func request(_ action: GitOpsRequest.Action, to: String? = nil) -> GitOpsRequest {
            let root = root ?? FileManager.default.currentDirectoryPath
            var request = GitOpsRequest(
                action: action, root: root, configPath: config, environment: env, service: service, to: to, processEnvironment: RunEnvironment.load(root: root))
            request.json = json
            return request
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore the service's previous image in the overlay, push it, and wait for Argo CD.",
            discussion: """
                Restores the value before the current one — or, with --to, the most recent one with that tag or digest — \
                in a new commit, pushes it and, with gitops.argocd, waits until the application is Synced to it and Healthy.
                """)

        @OptionGroup var options: Options

        @Option(help: ArgumentHelp("The tag or sha256: digest to restore, from the overlay's history.", valueName: "tag"))
        var to: String?

        func run() async throws {
            try await Session().gitOps(options.request(.rollback, to: to)).finish()
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the service's image values in the overlay, newest first.")

        @OptionGroup var options: Options

        func run() async throws {
            try await Session().gitOps(options.request(.history)).finish()
        }
    }
}
