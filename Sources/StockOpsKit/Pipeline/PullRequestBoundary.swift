/// What a run for a pull request may do: test and scan the proposed code, never read a secret nor sign, promote or
/// deploy what it builds, whatever the flags say.
public enum PullRequestBoundary {
    /// The stages a pull-request run never runs.
    static let refusedStages: Set<String> = ["fetch-secrets", "sign", "attest", "promote", "deploy", "gitops-deploy"]

    static let reason = "pull-request code never sees a secret, and nothing it builds is signed, promoted or deployed"

    /// `GITHUB_EVENT_NAME` when it is a pull-request event; nil otherwise.
    public static func event(_ environment: RunEnvironment) -> String? { environment.pullRequestEvent }

    public static func isRefused(_ id: NodeID) -> Bool { refusedStages.contains(id.name) }
}
