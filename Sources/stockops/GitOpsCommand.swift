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

    /// Runs `request` (a block per node on standard error), renders what `select` takes from its outcome with
    /// `render`, then its problems as errors, and ends with its exit status.
    static func perform<Value>(
        _ request: GitOpsRequest, render: (Value?, Terminal) -> Void, select: (GitOpsOutcome) -> Value?
    ) async throws {
        let terminal = Terminal()
        let outcome = try await terminal.report { () async throws(StockOpsError) in try await request.perform(progress: terminal.errors) }
        render(select(outcome), terminal)
        for problem in outcome.problems { terminal.errors.write("error: \(problem)\n") }
        try outcome.exitStatus.finish()
    }

    /// The flags both actions take.
    struct Options: ParsableArguments {
        @Option(name: [.customShort("e"), .long], help: "The kind: gitops environment.")
        var env: Environment

        @Option(help: "The service whose image changes.")
        var service: String

        @OptionGroup var repository: RepositoryOptions

        @Flag(
            help:
                "Print JSON: rollback {schemaVersion, service, change, argoCD}; history {schemaVersion, environment, service, image, kustomization, revisions}."
        )
        var json = false

        func request(_ action: GitOpsRequest.Action, to: String? = nil) -> GitOpsRequest {
            GitOpsRequest(
                action: action, root: repository.root.path, configPath: repository.config, environment: env, service: service, to: to,
                processEnvironment: repository.root.environment)
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
            let request = options.request(.rollback, to: to)
            try await GitOpsCommand.perform(request) { deployment, terminal in
                guard let deployment else { return }
                if options.json { return terminal.json(deployment) }
                let change = deployment.change
                terminal.output.write(
                    "rolled back \(request.service) in \(request.environment.rawValue): \(change.previous.map(\.description) ?? "none") → \(change.current) (commit \(change.commit.prefix(12)))\n"
                )
            } select: {
                $0.deployment
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the service's image values in the overlay, newest first.")

        @OptionGroup var options: Options

        func run() async throws {
            let request = options.request(.history)
            try await GitOpsCommand.perform(request) { history, terminal in
                guard let history else { return }
                if options.json { return terminal.json(history) }
                terminal.output.write("history of \(history.image) in \(history.kustomization) (newest first):\n")
                for revision in history.revisions {
                    terminal.output.write("\(revision.commit.prefix(12))  \(revision.image.newTag ?? "-")  \(revision.image.digest ?? "-")\n")
                }
            } select: {
                $0.history
            }
        }
    }
}
