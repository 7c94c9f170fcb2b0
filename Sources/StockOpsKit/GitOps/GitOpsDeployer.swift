import Foundation

/// One change of an image in a GitOps overlay: a deployment or a rollback.
public struct GitOpsChange: Codable, Sendable, Equatable {
    public var environment: String
    /// The Kustomize image name that was updated.
    public var image: String
    /// The entry before the change; nil when the overlay had none.
    public var previous: KustomizeImage?
    public var current: KustomizeImage
    /// The commit holding `current` on the branch (the new commit, or the head when nothing changed).
    public var commit: String
    /// False when the overlay already held `current`: nothing was committed.
    public var changed: Bool
}

/// A deployed value of an image in the overlay's history.
public struct GitOpsRevision: Codable, Sendable, Equatable {
    public var commit: String
    public var image: KustomizeImage
}

/// Edits the Kustomize overlay of a `kind: gitops` environment: clone, change one `images:` entry, commit,
/// push. Used by `gitops-deploy[<service>]` and by `stockops gitops rollback`.
///
/// A push refused because the branch moved on is retried from the new head (up to `attempts` times).
/// Failures are ``StageFailure``s: unreachable remote → transient, refused credentials → infrastructure,
/// a missing overlay or an unknown rollback target → failed.
public struct GitOpsDeployer: Sendable {
    public var target: GitOpsTarget
    public var environment: Environment
    /// The HTTPS push token, when the target needs one.
    public var token: Secret?
    public var runner: ProcessRunner
    public var log: NodeLog?
    /// Where clones are made (each in a new subdirectory, removed afterwards).
    public var workDirectory: String
    public var attempts: Int

    public init(
        target: GitOpsTarget, environment: Environment, token: Secret? = nil, runner: ProcessRunner = ProcessRunner(), log: NodeLog? = nil,
        workDirectory: String = NSTemporaryDirectory(), attempts: Int = 3
    ) {
        self.target = target
        self.environment = environment
        self.token = token
        self.runner = runner
        self.log = log
        self.workDirectory = workDirectory
        self.attempts = max(1, attempts)
    }

    /// Sets the overlay's entry for `image.name` to `image` and pushes a commit with `message` (unless it is already there).
    public func deploy(_ image: KustomizeImage, message: String) async throws -> GitOpsChange {
        try await withClone { workspace in
            try await update(workspace, name: image.name, message: message) { _ in image }
        }
    }

    /// Restores the value the overlay held for `name` before its current one — or, with `to`, the most recent
    /// historical value whose tag or digest is `to` — in a new commit.
    public func rollback(name: String, to requested: String? = nil, message: (GitOpsRevision, KustomizeImage?) -> String) async throws -> GitOpsChange {
        try await withClone { workspace in
            let revisions = try await history(workspace, name: name)
            guard let current = revisions.first else {
                throw StageFailure.failed("\(target.kustomizationPath) has never held an image named \(name): nothing to roll back")
            }
            let chosen: GitOpsRevision?
            if let requested {
                chosen = revisions.first { $0.image.newTag == requested || $0.image.digest == requested }
                guard chosen != nil else {
                    let known = Self.distinct(revisions).map { $0.image.newTag ?? $0.image.digest ?? $0.image.description }.prefix(10)
                    throw StageFailure.failed(
                        "\(requested) was never deployed to \(environment.rawValue) for \(name); values in the history of \(target.kustomizationPath): \(known.joined(separator: ", "))"
                    )
                }
            } else {
                chosen = revisions.first { !$0.image.pins(sameAs: current.image) }
                guard chosen != nil else {
                    throw StageFailure.failed(
                        "the history of \(target.kustomizationPath) holds no value of \(name) before \(current.image): nothing to roll back to")
                }
            }
            let restore = chosen!
            return try await update(workspace, name: name, message: message(restore, current.image)) { _ in restore.image }
        }
    }

    /// The values the overlay held for `name`, newest first, one per commit that touched the file.
    public func history(name: String) async throws -> [GitOpsRevision] {
        try await withClone { try await history($0, name: name) }
    }

    // MARK: - Steps

    private var commandEnvironment: [String: String] {
        var environment = Command.baseEnvironment()
        environment.merge(GitWorkspace.identityEnvironment(name: target.authorName, email: target.authorEmail)) { _, new in new }
        if let token { environment.merge(GitWorkspace.authenticationEnvironment(token: token)) { _, new in new } }
        return environment
    }

    private func withClone<T>(_ body: (GitWorkspace) async throws -> T) async throws -> T {
        let directory = (workDirectory.hasSuffix("/") ? workDirectory : workDirectory + "/") + "stockops-gitops-" + UUID().uuidString
        // Best effort: the clone is a temporary directory.
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workspace = GitWorkspace(directory: directory, environment: commandEnvironment)
        try await run(workspace.clone(target.repository, branch: target.branch), "git clone of \(target.repository) (\(target.branch))")
        return try await body(workspace)
    }

    @discardableResult
    private func run(_ command: Command, _ what: String) async throws -> ProcessResult {
        log?.write("$ \(command.displayString)\n")
        return try Self.check(try await runner.run(command, log: log), what)
    }

    /// Throws a classified ``StageFailure`` unless `result` succeeded.
    @discardableResult
    static func check(_ result: ProcessResult, _ what: String) throws -> ProcessResult {
        guard !result.succeeded else { return result }
        let kind: StageFailure.Kind
        // An HTTP 403 as git reports it ("The requested URL returned error: 403"), not any 403 such as a port number.
        if ["Authentication failed", "Permission denied", "returned error: 403", "could not read Username", "terminal prompts disabled"].contains(where: {
            result.output.contains($0)
        }) {
            kind = .infrastructure
        } else if GitWorkspace.isUnreachable(result.output) {
            kind = .transient
        } else {
            kind = .failed
        }
        try result.check(what, kind: kind)
        return result
    }

    private func read(_ workspace: GitWorkspace) throws -> Kustomization {
        let path = workspace.directory + "/" + target.kustomizationPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StageFailure.failed(
                "\(target.kustomizationPath) does not exist on \(target.branch) of \(target.repository); create the overlay first (gitops.overlay)")
        }
        do {
            return try Kustomization(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw StageFailure.failed("\(target.kustomizationPath) on \(target.branch): \(error.message)")
        }
    }

    private func update(_ workspace: GitWorkspace, name: String, message: String, _ next: (KustomizeImage?) -> KustomizeImage) async throws -> GitOpsChange {
        var attempt = 1
        while true {
            var kustomization = try read(workspace)
            let previous = kustomization.image(named: name)
            let image = next(previous)
            if let previous, previous.pins(sameAs: image) {
                let head = try await run(workspace.head(), "git rev-parse HEAD").output.trimmingCharacters(in: .whitespacesAndNewlines)
                log?.write("\(target.kustomizationPath) already pins \(name) to \(image): nothing to commit\n")
                return GitOpsChange(environment: environment.rawValue, image: name, previous: previous, current: previous, commit: head, changed: false)
            }
            do {
                try kustomization.setImage(image)
                try kustomization.yaml().write(toFile: workspace.directory + "/" + target.kustomizationPath, atomically: true, encoding: .utf8)
            } catch let error as KustomizationError {
                throw StageFailure.failed("\(target.kustomizationPath): \(error.message)")
            }
            try await run(workspace.add(target.kustomizationPath), "git add")
            let messageFile = workspace.directory + "/.git/STOCKOPS_COMMIT_MESSAGE"
            try message.write(toFile: messageFile, atomically: true, encoding: .utf8)
            try await run(workspace.commit(messageFile: messageFile), "git commit")
            log?.write("$ \(workspace.push(branch: target.branch).displayString)\n")
            let pushed = try await runner.run(workspace.push(branch: target.branch), log: log)
            if pushed.succeeded {
                let head = try await run(workspace.head(), "git rev-parse HEAD").output.trimmingCharacters(in: .whitespacesAndNewlines)
                log?.write("pushed \(head.prefix(12)) to \(target.branch): \(name) \(previous.map(\.description) ?? "(none)") → \(image)\n")
                return GitOpsChange(environment: environment.rawValue, image: name, previous: previous, current: image, commit: head, changed: true)
            }
            guard GitWorkspace.isRejectedAsStale(pushed.output), attempt < attempts else {
                try Self.check(pushed, "git push to \(target.branch) of \(target.repository)")
                throw StageFailure.failed("git push to \(target.branch) failed")
            }
            log?.write("\(target.branch) moved on while deploying: starting again from its new head (attempt \(attempt + 1) of \(attempts))\n")
            try await run(workspace.fetch(branch: target.branch), "git fetch")
            try await run(workspace.resetToFetched(), "git reset")
            attempt += 1
        }
    }

    private func history(_ workspace: GitWorkspace, name: String) async throws -> [GitOpsRevision] {
        let commits = Git.parseLines(try await run(workspace.history(of: target.kustomizationPath), "git log").output)
        var revisions: [GitOpsRevision] = []
        for commit in commits {
            let shown = try await runner.run(workspace.show(target.kustomizationPath, at: commit))
            // A revision whose kustomization does not parse or lacks the image is skipped.
            guard shown.succeeded, let kustomization = try? Kustomization(yaml: shown.output), let image = kustomization.image(named: name) else { continue }
            revisions.append(GitOpsRevision(commit: commit, image: image))
        }
        return revisions
    }

    /// Revisions with consecutive duplicates removed.
    static func distinct(_ revisions: [GitOpsRevision]) -> [GitOpsRevision] {
        var result: [GitOpsRevision] = []
        for revision in revisions where !(result.last.map { $0.image.pins(sameAs: revision.image) } ?? false) {
            result.append(revision)
        }
        return result
    }
}
