import CurlHTTP
import Foundation

/// What `notify` did.
public struct NotifyResult: Codable, Sendable, Equatable {
    /// `failure` or `success`: how the run went when the node ran.
    public var outcome: String
    /// Whether a message was accepted by the webhook.
    public var delivered: Bool
    /// Why nothing was sent, or why delivery failed.
    public var note: String?
}

/// `notify`: a `finally` node posting a run summary to a Slack-compatible incoming webhook.
///
/// The URL is the fetched secret named by `notify.webhook-key` (default `SLACK_WEBHOOK_URL`), else
/// `STOCKOPS_WEBHOOK_URL`; it is masked like any secret. A failed or interrupted run is notified
/// when `notify.on` lists `failure` (the default), a passed one when it lists `success`. A delivery
/// failure is logged and recorded in the output but does not fail the run.
public struct NotifyStage: Stage {
    public var config: NotifyConfig
    public var fetched: StageRef<FetchedSecrets>
    /// The run's environment (`dev`, `stage`, `prod`).
    public var environment: String
    /// `STOCKOPS_WEBHOOK_URL` and the `GITHUB_*` variables of the run link.
    public var processEnvironment: RunEnvironment
    public var http: HTTPClientConfiguration
    public var dependencies: [NodeID] { [fetched.id] }

    public init(
        config: NotifyConfig, fetched: StageRef<FetchedSecrets>, environment: String, processEnvironment: RunEnvironment,
        http: HTTPClientConfiguration = NotifyStage.http
    ) {
        self.config = config
        self.fetched = fetched
        self.environment = environment
        self.processEnvironment = processEnvironment
        self.http = http
    }

    /// Short timeouts and retries of connection errors and 5xx/429.
    public static let http = HTTPClientConfiguration(
        connectTimeout: .seconds(5), totalTimeout: .seconds(20),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(500), maxDelay: .seconds(4)))

    public func run(_ context: StageContext) async throws -> NotifyResult {
        let settled = context.settled.filter { $0.key != context.node }
        let failed = settled.filter { $0.value.result.status.isFailure && $0.value.kind != .allowFailure }.map(\.key).sorted()
        let blocked = settled.filter { $0.value.result.status == .blocked }.map(\.key).sorted()
        let cancelled = settled.contains { $0.value.result.status == .cancelled }
        let outcome: NotifyConfig.Event = failed.isEmpty && !cancelled ? .success : .failure
        guard config.on.contains(outcome) else {
            context.log.write("run \(outcome.rawValue): not notified (notify.on)\n")
            return NotifyResult(outcome: outcome.rawValue, delivered: false, note: "\(outcome.rawValue) is not in notify.on")
        }
        // fetch-secrets may have been skipped or failed: the URL then comes from STOCKOPS_WEBHOOK_URL, and its absence is logged.
        let secrets = try? context.value(fetched)
        guard let url = webhookURL(secrets), !url.isEmpty else {
            context.log.write("no webhook URL (\(config.webhookKey) in Vault or STOCKOPS_WEBHOOK_URL): nothing sent\n")
            return NotifyResult(outcome: outcome.rawValue, delivered: false, note: "no webhook URL")
        }
        let runID = (context.paths.runDirectory as NSString).lastPathComponent
        let message = Self.message(
            runID: runID, environment: environment, outcome: outcome, failed: failed, blocked: blocked,
            reasons: settled.mapValues { $0.result.reason ?? "" }, link: runLink)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = try encoder.encode(message)
        let request = HTTPRequest(method: .post, url: url.reveal(), headers: ["Content-Type": "application/json"], body: body, isMarkedIdempotent: true)
        do {
            let response = try await HTTPClient(configuration: http).send(request)
            guard response.isSuccess else {
                let note = "the webhook answered \(response.status): \(SecretMasker.shared.mask(String(response.text.prefix(200))))"
                context.log.write("warning: \(note)\n")
                return NotifyResult(outcome: outcome.rawValue, delivered: false, note: note)
            }
        } catch let error as HTTPClientError {
            let note = "the webhook is unreachable: \(error.code) (\(SecretMasker.shared.mask(error.message)))"
            context.log.write("warning: \(note)\n")
            return NotifyResult(outcome: outcome.rawValue, delivered: false, note: note)
        }
        context.log.write("run \(outcome.rawValue): summary posted to the webhook\n")
        return NotifyResult(outcome: outcome.rawValue, delivered: true)
    }

    /// The webhook URL, registered with the masker.
    func webhookURL(_ secrets: FetchedSecrets?) -> Secret? {
        if let value = secrets?[config.webhookKey], !value.isEmpty { return value }
        guard let value = processEnvironment.webhookURL else { return nil }
        return Secret(value).registered()
    }

    /// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`, when all are set.
    var runLink: String? {
        processEnvironment.githubRunURL
    }

    /// An incoming-webhook payload: `text` (the notification fallback) and Block Kit `blocks`.
    struct Message: Encodable {
        struct Text: Encodable {
            var type: String
            var text: String
        }

        struct Block: Encodable {
            var type: String
            var text: Text?
        }

        var text: String
        var blocks: [Block]
    }

    static func message(
        runID: String, environment: String, outcome: NotifyConfig.Event, failed: [NodeID], blocked: [NodeID], reasons: [NodeID: String], link: String?
    ) -> Message {
        let masker = SecretMasker.shared
        let headline = "stockops \(environment): run \(runID) \(outcome == .success ? "passed" : "failed")"
        var lines: [String] = []
        for id in failed {
            let reason = reasons[id].flatMap { $0.split(separator: "\n").first.map(String.init) } ?? ""
            lines.append("• failed `\(id)`" + (reason.isEmpty ? "" : ": " + String(reason.prefix(300))))
        }
        if !blocked.isEmpty {
            lines.append("• blocked: " + blocked.map { "`\($0)`" }.joined(separator: ", "))
        }
        var blocks = [Message.Block(type: "header", text: .init(type: "plain_text", text: String(headline.prefix(150))))]
        if !lines.isEmpty {
            blocks.append(Message.Block(type: "section", text: .init(type: "mrkdwn", text: masker.mask(String(lines.joined(separator: "\n").prefix(2900))))))
        }
        if let link {
            blocks.append(Message.Block(type: "section", text: .init(type: "mrkdwn", text: "<\(link)|View the workflow run>")))
        }
        var text = headline
        if !failed.isEmpty { text += " — failed: " + failed.map(\.description).joined(separator: ", ") }
        if let link { text += " — \(link)" }
        return Message(text: masker.mask(text), blocks: blocks)
    }
}
