import Foundation

/// Who approved a deploy or rollback to an environment that requires approval, and how.
public struct Approval: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// GitHub's review history of the run: a reviewer approved the GitHub Environment of that name.
        case githubEnvironment = "github-environment"
        /// An approver named on the command line and confirmed on a terminal.
        case commandLine = "command-line"
        /// A confirmation typed on a terminal.
        case terminal
    }

    public var approver: String
    public var source: Source

    public init(approver: String, source: Source) {
        self.approver = approver
        self.source = source
    }

    /// `alice (command-line)`.
    public var summary: String { "\(approver) (\(source.rawValue))" }

    /// Decides the approval of a change to `environment`:
    /// - under GitHub Actions, only GitHub's review history of the run counts (``GitHubApprovals``): the newest review
    ///   of the environment must be an approval, and its reviewer is the approver. `--approver` is refused there:
    ///   a name anyone can type is no approval;
    /// - elsewhere, a confirmation typed on a terminal (`confirm`), recorded with `approver` when one is named and
    ///   the local user otherwise. Without a terminal there is no approval.
    ///
    /// Throws a usage error saying what would approve it.
    public static func resolve(
        environment: Environment, approver: String?, processEnvironment: RunEnvironment, confirm: (() -> String?)?
    ) async throws(StockOpsError) -> Approval {
        if processEnvironment.isGitHubActions {
            guard approver == nil else {
                throw StockOpsError(
                    .usage,
                    "--approver is for a terminal; under GitHub Actions the approval of \(environment.rawValue) is GitHub's review of the run's \(environment.rawValue) environment"
                )
            }
            let client: GitHubApprovals
            switch GitHubApprovals.from(processEnvironment) {
            case .success(let found): client = found
            case .failure(let error): throw error
            }
            return Approval(approver: try await client.approver(of: environment), source: .githubEnvironment)
        }
        var named: String?
        if let approver {
            let name = approver.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 100, !name.contains(where: \.isNewline) else {
                throw StockOpsError(.usage, "the approver's name must be 1-100 characters on one line")
            }
            named = name
        }
        guard let confirm else {
            throw StockOpsError(
                .usage,
                "\(environment.rawValue) requires an approval: confirm on a terminal (with --approver NAME to record who approves), or run in the GitHub Environment \"\(environment.rawValue)\" with required reviewers"
            )
        }
        guard let user = confirm() else {
            throw StockOpsError(.usage, "\(environment.rawValue) was not confirmed; nothing was changed")
        }
        return named.map { Approval(approver: $0, source: .commandLine) } ?? Approval(approver: user, source: .terminal)
    }

    /// Asks on the terminal (standard input and error must both be one) to type the environment's name; returns the
    /// local user when they do, nil otherwise or when there is no terminal.
    public static func terminalConfirmation(_ question: String, expected: String) -> (() -> String?)? {
        guard isatty(0) == 1, isatty(2) == 1 else { return nil }
        return {
            FileHandle.standardError.write(Data("\(question) Type \(expected) to confirm: ".utf8))
            guard let answer = readLine(strippingNewline: true), answer.trimmingCharacters(in: .whitespaces) == expected else {
                return nil
            }
            return LockHolder.userName
        }
    }
}

/// Who runs a deploy: `GITHUB_ACTOR` in GitHub Actions, the local user elsewhere.
public enum DeployActor {
    public static func name(_ environment: RunEnvironment) -> String {
        if environment.isGitHubActions, let actor = environment.githubActor {
            return actor
        }
        return LockHolder.userName
    }
}
