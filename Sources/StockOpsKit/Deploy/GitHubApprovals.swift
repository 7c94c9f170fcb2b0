import CurlHTTP
import Foundation

/// Who approved a GitHub Environment for a workflow run, as GitHub records it: `GET /repos/{owner}/{repo}/actions/runs/
/// {run_id}/approvals` ("Get the review history for a workflow run") with the job's token. Unlike a variable of the
/// job's environment, which anyone on the runner can set, the review history is GitHub's own.
public struct GitHubApprovals: Sendable {
    /// One review of the history; GitHub's `environment-approvals` schema (`state`, `environments[].name`,
    /// `user.login`, `comment`).
    public struct Review: Decodable, Sendable, Equatable {
        public struct Named: Decodable, Sendable, Equatable { public var name: String? }
        public struct User: Decodable, Sendable, Equatable { public var login: String }

        public var state: String
        public var environments: [Named]
        public var user: User
        public var comment: String?

        enum CodingKeys: String, CodingKey { case state, issue_state, environments, user, comment }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // The documented example of API version 2026-03-10 names the field issue_state.
            state = try container.decodeIfPresent(String.self, forKey: .state) ?? container.decode(String.self, forKey: .issue_state)
            environments = try container.decode([Named].self, forKey: .environments)
            user = try container.decode(User.self, forKey: .user)
            comment = try container.decodeIfPresent(String.self, forKey: .comment)
        }
    }

    public var apiURL: String
    public var repository: String
    public var runID: String
    public var token: Secret
    public var http: HTTPClientConfiguration

    /// From the job's `GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID` and `GITHUB_TOKEN`; nil, with what is
    /// missing, when one is absent.
    public static func from(_ environment: RunEnvironment) -> Result<GitHubApprovals, StockOpsError> {
        guard let repository = environment.githubRepository, let runID = environment.githubRunID, let token = environment.githubToken else {
            let missing = [
                ("GITHUB_REPOSITORY", environment.githubRepository), ("GITHUB_RUN_ID", environment.githubRunID), ("GITHUB_TOKEN", environment.githubToken),
            ].filter { $0.1 == nil }.map(\.0)
            return .failure(
                StockOpsError(
                    .usage,
                    "under GitHub Actions the approval is read from GitHub's review history of the run, which needs \(missing.joined(separator: ", ")): give the job `env: GITHUB_TOKEN: ${{ github.token }}` and `permissions: actions: read`"
                ))
        }
        return .success(
            GitHubApprovals(
                apiURL: environment.githubAPIURL, repository: repository, runID: runID, token: Secret(token).registered(),
                http: HTTPClientConfiguration(
                    connectTimeout: .seconds(5), totalTimeout: .seconds(30),
                    retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(250), maxDelay: .seconds(2)))))
    }

    /// The run's review history.
    public func reviews() async throws(StockOpsError) -> [Review] {
        var headers = HTTPHeaders()
        headers.add("Accept", "application/vnd.github+json")
        headers.add("Authorization", "Bearer " + token.reveal())
        headers.add("X-GitHub-Api-Version", "2022-11-28")
        let url = apiURL + "/repos/" + repository + "/actions/runs/" + runID + "/approvals"
        let response: HTTPResponse
        do {
            response = try await HTTPClient(configuration: http).send(HTTPRequest(url: url, headers: headers))
        } catch {
            throw StockOpsError(.infrastructure, "cannot read the review history of run \(runID) from \(apiURL): \(error)")
        }
        guard response.isSuccess else {
            let hint =
                response.status == 401 || response.status == 403 || response.status == 404
                ? "; the job's GITHUB_TOKEN needs `permissions: actions: read`" : ""
            throw StockOpsError(
                response.status >= 500 ? .infrastructure : .usage, "GitHub answered \(response.status) for the review history of run \(runID)\(hint)")
        }
        do {
            return try JSONDecoder().decode([Review].self, from: response.body)
        } catch {
            throw StockOpsError(.infrastructure, "GitHub's review history of run \(runID) is not a list of reviews: \(error)")
        }
    }

    /// The login of the newest reviewer who approved `environment` for this run; refused when none did or the newest
    /// review of it rejected it.
    public func approver(of environment: Environment) async throws(StockOpsError) -> String {
        let reviews = try await reviews().filter { $0.environments.contains { $0.name == environment.rawValue } }
        guard let newest = reviews.last, newest.state == "approved" else {
            let state = reviews.last.map { "its newest review is \($0.state) by \($0.user.login)" } ?? "nobody reviewed it"
            throw StockOpsError(
                .usage,
                "GitHub records no approval of the \(environment.rawValue) environment for run \(runID) (\(state)): run the job in the GitHub Environment \"\(environment.rawValue)\" with required reviewers"
            )
        }
        return newest.user.login
    }
}
