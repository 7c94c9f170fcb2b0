import Foundation
import Testing

@testable import StockOpsKit

/// A local stand-in for a Slack incoming webhook: records every request and checks it against the
/// documented payload shape (POST, `Content-Type: application/json`, a string `text`, `blocks` an array
/// of objects each with a string `type`), answering 200 `ok` or 400 `invalid_payload`.
final class WebhookServer: ChildServer, @unchecked Sendable {
    let process: Process
    let port: Int
    let recordPath: String

    var url: String { "http://127.0.0.1:\(port)/services/T000/B000/\(token)" }
    let token = "hook-\(UUID().uuidString)"

    static let script = #"""
        import json, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer

        RECORD = sys.argv[1]

        def problems(method, content_type, body):
            found = []
            if method != "POST":
                found.append("method is %s, not POST" % method)
            if (content_type or "").split(";")[0].strip() != "application/json":
                found.append("Content-Type is %r" % content_type)
            try:
                payload = json.loads(body)
            except ValueError:
                return found + ["body is not JSON"]
            if not isinstance(payload, dict):
                return found + ["payload is not an object"]
            if not isinstance(payload.get("text"), str) or not payload["text"]:
                found.append("text is missing or empty")
            blocks = payload.get("blocks")
            if not isinstance(blocks, list) or not blocks:
                found.append("blocks is not a non-empty array")
            else:
                for block in blocks:
                    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                        found.append("a block is not an object with a type")
                    elif block["type"] in ("section", "header"):
                        text = block.get("text")
                        if not isinstance(text, dict) or text.get("type") not in ("plain_text", "mrkdwn") or not isinstance(text.get("text"), str):
                            found.append("a %s block has no text object" % block["type"])
            return found

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                found = problems(self.command, self.headers.get("Content-Type"), body)
                with open(RECORD, "a") as record:
                    record.write(json.dumps({"method": self.command, "path": self.path, "body": body, "problems": found}) + "\n")
                reply = b"invalid_payload" if found else b"ok"
                self.send_response(400 if found else 200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_GET = do_PUT = handle_any

        server = HTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Starts the server; waits for its port on a separate thread, not on the cooperative pool.
    static func start() async throws -> WebhookServer {
        let directory = temporaryDirectory("webhook")
        let scriptPath = directory + "/webhook.py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptPath, directory + "/requests.jsonl"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard let port = await firstLinePort(of: output) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw FixtureError("the webhook server did not start (is python3 installed?)")
        }
        return WebhookServer(process: process, port: port, recordPath: directory + "/requests.jsonl")
    }

    private init(process: Process, port: Int, recordPath: String) {
        self.process = process
        self.port = port
        self.recordPath = recordPath
    }

    struct Request: Decodable {
        let method: String
        let path: String
        let body: String
        let problems: [String]
    }

    var requests: [Request] {
        let text = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    deinit { stop() }
}

@Suite("notify", .serialized)
struct NotifyTests {
    let github = ["GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "acme/stockapp", "GITHUB_RUN_ID": "4242"]

    func run(failing: Bool, on: Set<NotifyConfig.Event> = [.failure], environment: [String: String]) async throws -> (RunResult, RunPaths) {
        var builder = GraphBuilder()
        let fetch = FetchSecretsStage(secrets: [], settings: nil)
        let secrets = builder.add(StockOpsPipeline.fetchSecrets.id, fetch, when: { _ in fetch.skipReason })
        let test = builder.add(NodeID("test", key: "trade"), Probe { _ in if failing { throw StageFailure.failed("2 of 9 tests failed") } })
        builder.add(NodeID("build", key: "trade"), Probe(dependencies: [test.id]))
        builder.add(
            "notify", NotifyStage(config: NotifyConfig(on: on), fetched: secrets, environment: "stage", processEnvironment: RunEnvironment(environment)),
            policy: .finally,
            after: builder.ids)
        let root = temporaryDirectory()
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/run-77")
        let result = await Scheduler(paths: paths).run(try builder.build())
        return (result, paths)
    }

    @Test func aFailedRunPostsASlackShapedSummary() async throws {
        let server = try await WebhookServer.start()
        let (result, paths) = try await run(failing: true, environment: github.merging(["STOCKOPS_WEBHOOK_URL": server.url]) { $1 })
        #expect(result["notify"]?.status == .passed)
        #expect(result.outputs[StageRef<NotifyResult>("notify")] == NotifyResult(outcome: "failure", delivered: true))
        let requests = server.requests
        #expect(requests.count == 1)
        let request = try #require(requests.first)
        #expect(request.problems == [], "the payload drifted from Slack's incoming-webhook shape")
        #expect(request.method == "POST")
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
        let text = try #require(payload["text"] as? String)
        #expect(text.contains("run-77") && text.contains("stage") && text.contains("test[trade]"))
        #expect(request.body.contains("build[trade]"), "blocked nodes are listed")
        #expect(request.body.contains("https://github.example/acme/stockapp/actions/runs/4242"))
        #expect(request.body.contains("2 of 9 tests failed"))

        #expect(SecretMasker.shared.mask(server.url) == SecretMasker.mask, "the webhook URL is a secret")
        for file in allFiles(under: paths.runDirectory) {
            #expect(!(try String(contentsOfFile: file, encoding: .utf8)).contains(server.token))
        }
    }

    @Test func aPassedRunIsNotifiedOnlyWhenConfigured() async throws {
        let server = try await WebhookServer.start()
        let environment = ["STOCKOPS_WEBHOOK_URL": server.url]
        let (quiet, _) = try await run(failing: false, environment: environment)
        #expect(quiet.outputs[StageRef<NotifyResult>("notify")]?.delivered == false)
        #expect(server.requests.isEmpty)

        let (notified, _) = try await run(failing: false, on: [.failure, .success], environment: environment)
        #expect(notified.outputs[StageRef<NotifyResult>("notify")] == NotifyResult(outcome: "success", delivered: true))
        #expect(server.requests.count == 1)
        #expect(server.requests.first?.problems == [])
        #expect(server.requests.first?.body.contains("passed") == true)
    }

    @Test func withoutAWebhookNothingIsSentAndARefusalDoesNotFailTheRun() async throws {
        let (none, _) = try await run(failing: true, environment: [:])
        #expect(none.outputs[StageRef<NotifyResult>("notify")]?.note == "no webhook URL")

        let port = try freeLoopbackPort()
        let (unreachable, _) = try await run(failing: true, environment: ["STOCKOPS_WEBHOOK_URL": "http://127.0.0.1:\(port)/hook"])
        #expect(unreachable["notify"]?.status == .passed)
        #expect(unreachable.outputs[StageRef<NotifyResult>("notify")]?.delivered == false)
    }
}
