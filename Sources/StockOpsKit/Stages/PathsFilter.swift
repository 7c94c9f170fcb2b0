import Foundation

/// Which services a change touches; expands the matrix of later nodes.
public struct ChangeSet: Codable, Sendable, Equatable {
    /// The commit compared with the working tree; nil when everything counts as changed.
    public var base: String?
    /// How the base was chosen (`--since main`, `push event before`, `merge-base with origin/main`, …).
    public var baseSource: String
    /// Changed files, relative to the repository root.
    public var files: [String]
    /// Whether a shared path changed (which selects every service).
    public var sharedChanged: Bool
    /// Selected service names, in configuration order.
    public var services: [String]

    public init(base: String?, baseSource: String, files: [String], sharedChanged: Bool, services: [String]) {
        self.base = base
        self.baseSource = baseSource
        self.files = files
        self.sharedChanged = sharedChanged
        self.services = services
    }

    public func contains(_ service: String) -> Bool {
        services.contains(service)
    }

    /// Maps changed files to services: a service is selected when one of its paths changed, every service when a shared path did.
    public static func select(files: [String], services: [ServiceConfig], sharedPaths: [String], base: String?, baseSource: String) -> ChangeSet {
        let shared = files.contains { file in sharedPaths.contains { Git.path(file, isUnder: $0) } }
        let selected = services.filter { service in
            shared || files.contains { file in service.paths.contains { Git.path(file, isUnder: $0) } }
        }
        return ChangeSet(base: base, baseSource: baseSource, files: files, sharedChanged: shared, services: selected.map(\.name))
    }
}

/// `paths-filter`: diffs the working tree against a base and selects the services whose paths changed.
///
/// The base is, in order: `--since REF`; the push event's `before` SHA (`$GITHUB_EVENT_PATH`); the merge-base of
/// `HEAD` with the pull request's base branch (`$GITHUB_BASE_REF`), `origin/<default>` or `<default>`.
/// Without any (first commit), everything counts as changed. Files under `.stockops/` never count.
public struct PathsFilterStage: Stage {
    public var services: [ServiceConfig]
    public var sharedPaths: [String]
    public var defaultBranch: String
    /// `--since REF`.
    public var since: String?
    /// `$GITHUB_EVENT_PATH`.
    public var eventPath: String?
    /// `--all`: select every service without diffing.
    public var selectAll: Bool
    /// `$GITHUB_BASE_REF`: the target branch of a pull request.
    public var pullRequestBase: String?
    /// The environment this run deploys for the first time (no good version in its ledger): every service is
    /// selected, whatever changed, so that it gets all of them.
    public var firstDeployOf: String?
    /// The git executable; one older than ``ToolRequirements`` allows (2.30) is refused.
    public var git: String

    public init(
        services: [ServiceConfig], sharedPaths: [String], defaultBranch: String = "main", since: String? = nil, eventPath: String? = nil,
        selectAll: Bool = false, pullRequestBase: String? = nil, firstDeployOf: String? = nil, git: String = "git"
    ) {
        self.services = services
        self.sharedPaths = sharedPaths
        self.defaultBranch = defaultBranch
        self.since = since
        self.eventPath = eventPath
        self.selectAll = selectAll
        self.pullRequestBase = pullRequestBase
        self.firstDeployOf = firstDeployOf
        self.git = git
    }

    public func run(_ context: StageContext) async throws -> ChangeSet {
        let git = Git(repository: context.paths.root, executable: self.git)
        let everyService = services.map(\.name)
        if selectAll {
            return ChangeSet(base: nil, baseSource: "--all", files: [], sharedChanged: false, services: everyService)
        }
        if let environment = firstDeployOf {
            context.log.write("first deploy of \(environment): its ledger has no good version, so every service is selected\n")
            return ChangeSet(
                base: nil, baseSource: "first deploy of \(environment): no good version in its ledger", files: [], sharedChanged: false, services: everyService)
        }
        let version = try await context.runner.run(git.version()).check("git --version", kind: .infrastructure)
        try ToolRequirements.requireSupported("git", versionOutput: version.output)
        guard let (base, source) = try await findBase(git, context) else {
            context.log.write("no base commit: every service counts as changed\n")
            return ChangeSet(base: nil, baseSource: "no base commit", files: [], sharedChanged: false, services: everyService)
        }
        context.log.write("base \(base) (\(source))\n")
        let diff = try await context.run(git.changedFiles(since: base)).check("git diff", kind: .infrastructure)
        let untracked = try await context.run(git.untrackedFiles()).check("git ls-files", kind: .infrastructure)
        let files = Array(Set(Git.parseNULSeparated(diff.output) + Git.parseNULSeparated(untracked.output))).filter { !$0.hasPrefix(".stockops/") }.sorted()
        let changes = ChangeSet.select(files: files, services: try await widened(context), sharedPaths: sharedPaths, base: base, baseSource: source)
        context.log.write("\(files.count) changed files; services: \(changes.services.isEmpty ? "none" : changes.services.joined(separator: ", "))\n")
        return changes
    }

    /// The services with the directories of every target their product and tests depend on (``PackageGraph``), so a
    /// change in a library a service's tests import (or the manifest of its package) selects that service. The
    /// declared paths alone when the package cannot be described, with a warning.
    private func widened(_ context: StageContext) async throws -> [ServiceConfig] {
        var widened: [ServiceConfig] = []
        for service in services {
            let directory = service.packageDirectory(root: context.paths.root)
            guard FileManager.default.fileExists(atPath: directory + "/Package.swift") else {
                widened.append(service)
                continue
            }
            do {
                let graph = try await PackageGraph.load(root: context.paths.root, package: service.package, runner: context.runner)
                var wider = graph.widened(service)
                if !wider.paths.contains(service.manifest) { wider.paths.append(service.manifest) }
                if wider.paths != service.paths {
                    context.log.write("\(service.name) is built and tested from \(wider.paths.joined(separator: ", "))\n")
                }
                widened.append(wider)
            } catch {
                context.log.write(
                    "warning: cannot read the targets of the package in \(service.package) (\(error)); selecting \(service.name) by its declared paths only\n")
                widened.append(service)
            }
        }
        return widened
    }

    private func commit(_ revision: String, _ git: Git, _ context: StageContext) async throws -> String? {
        let result = try await context.runner.run(git.resolveCommit(revision))
        guard result.succeeded else { return nil }
        return Git.parseLines(result.output).first
    }

    private func findBase(_ git: Git, _ context: StageContext) async throws -> (String, String)? {
        if let since {
            guard let base = try await commit(since, git, context) else {
                throw StageFailure.failed("--since \(since): no such commit in \(context.paths.root); pass a branch, tag or SHA that exists locally")
            }
            return (base, "--since \(since)")
        }
        if let before = pushEventBefore(), let base = try await commit(before, git, context) {
            return (base, "push event before")
        }
        let branches = (pullRequestBase.map { [$0] } ?? []) + [defaultBranch]
        for candidate in branches.flatMap({ ["origin/\($0)", $0] }) {
            guard try await commit(candidate, git, context) != nil else { continue }
            let result = try await context.runner.run(git.mergeBase("HEAD", candidate))
            if result.succeeded, let base = Git.parseLines(result.output).first {
                return (base, "merge-base with \(candidate)")
            }
        }
        return nil
    }

    /// The `before` SHA of a push event, unless it is the all-zero SHA of a new branch.
    func pushEventBefore() -> String? {
        // A missing or unreadable event file means no push base; the caller falls back to the merge-base.
        guard let eventPath, let data = FileManager.default.contents(atPath: eventPath),
            let event = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let before = event["before"] as? String,
            !before.isEmpty, before.contains(where: { $0 != "0" })
        else { return nil }
        return before
    }
}
