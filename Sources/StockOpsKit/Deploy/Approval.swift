import Foundation

/// Who approved a deploy or rollback to an environment that requires approval, and how.
public struct Approval: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// A GitHub Actions job in the GitHub Environment of that name, whose required reviewers approved it.
        case githubEnvironment = "github-environment"
        /// An approver named on the command line.
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

    /// Decides the approval of a change to `environment`, in this order:
    /// 1. a GitHub Actions job whose workflow declares `STOCKOPS_GITHUB_ENVIRONMENT` equal to the environment's name (the
    ///    job's `environment:`, whose required reviewers GitHub enforces before the job starts): approver `GITHUB_ACTOR`;
    /// 2. `approver`, a name given on the command line;
    /// 3. `confirm`, an interactive confirmation (only offered on a terminal), returning the confirming user or nil.
    ///
    /// Throws a usage error naming the three ways when none applies.
    public static func resolve(
        environment: Environment, approver: String?, processEnvironment: [String: String], confirm: (() -> String?)?
    ) throws(StockOpsError) -> Approval {
        if processEnvironment["GITHUB_ACTIONS"] == "true", processEnvironment["STOCKOPS_GITHUB_ENVIRONMENT"] == environment.rawValue {
            let actor = processEnvironment["GITHUB_TRIGGERING_ACTOR"].flatMap { $0.isEmpty ? nil : $0 } ?? processEnvironment["GITHUB_ACTOR"] ?? ""
            return Approval(approver: actor.isEmpty ? "github-environment" : actor, source: .githubEnvironment)
        }
        if let approver {
            let name = approver.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 100, !name.contains(where: \.isNewline) else {
                throw StockOpsError(.usage, "the approver's name must be 1-100 characters on one line")
            }
            return Approval(approver: name, source: .commandLine)
        }
        if let confirm, let user = confirm() {
            return Approval(approver: user, source: .terminal)
        }
        throw StockOpsError(
            .usage,
            "\(environment.rawValue) requires an approval: run in the GitHub Environment \"\(environment.rawValue)\" with required reviewers (its workflow sets STOCKOPS_GITHUB_ENVIRONMENT=\(environment.rawValue)), name the approver (--approver NAME), or confirm on a terminal"
        )
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
    public static func name(_ environment: [String: String]) -> String {
        if environment["GITHUB_ACTIONS"] == "true", let actor = environment["GITHUB_ACTOR"], !actor.isEmpty {
            return actor
        }
        return LockHolder.userName
    }
}
