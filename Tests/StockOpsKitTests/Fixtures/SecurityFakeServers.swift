import CurlHTTP
import Foundation

@testable import StockOpsKit

/// The module every Python stand-in imports: `JSONHandler`, an HTTP/1.1 handler that logs nothing and answers JSON with
/// `reply(status, body)`.
let pythonStandInModule = #"""
    import json
    from http.server import BaseHTTPRequestHandler

    class JSONHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args):
            pass
        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
    """#

/// Writes a Python server script (and ``pythonStandInModule`` beside it) to `directory`, runs it with `python3` and
/// reads the port it prints first.
func launchPythonServer(_ source: String, directory: String, arguments: [String], name: String) async throws -> (process: Process, port: Int, directory: String)
{
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let script = directory + "/server.py"
    try source.write(toFile: script, atomically: true, encoding: .utf8)
    try pythonStandInModule.write(toFile: directory + "/stand_in.py", atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    guard let port = await firstLinePort(of: output) else {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw FixtureError("\(name) did not print its port (is python3 installed?)")
    }
    return (process, port, directory)
}

/// A stand-in HTTP server for an API that cannot run here (DefectDojo, Argo CD): a Python script, written to a
/// temporary file and run by `python3`, that checks every request against the shape the API's documentation gives
/// and answers like the API. It prints its port on the first line and lists what it received at `/_requests`.
final class FakeAPIServer: ChildServer, @unchecked Sendable {
    let process: Process
    let port: Int
    let directory: String
    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func start(_ source: String, arguments: [String]) async throws -> FakeAPIServer {
        let launched = try await launchPythonServer(source, directory: temporaryDirectory("fake-api"), arguments: arguments, name: "the fake API server")
        return FakeAPIServer(process: launched.process, port: launched.port, directory: launched.directory)
    }

    private init(process: Process, port: Int, directory: String) {
        self.process = process
        self.port = port
        self.directory = directory
    }

    /// The requests received so far, as the script records them.
    func requests() async throws -> [[String: Any]] {
        let response = try await HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), totalTimeout: .seconds(10), retry: .none)).send(
            .init(url: baseURL + "/_requests"))
        return (try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]]) ?? []
    }

    var ownPath: String? { directory }

    deinit { stop() }

    /// DefectDojo's `POST /api/v2/import-scan/` (API v2; fields of `ImportScanSerializer` in
    /// `dojo/api_v2/serializers.py`; `Authorization: Token <key>`; parsers' `get_scan_types()` names).
    /// Usage: server.py API_KEY. Each parser's file is checked for the format that parser reads.
    static let defectDojo = #"""
        import email.parser, email.policy, json, sys, threading, xml.etree.ElementTree as ET
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from stand_in import JSONHandler

        KEY = sys.argv[1]
        LOCK = threading.Lock()
        REQUESTS = []
        SCAN_TYPES = {"Trivy Scan", "Semgrep JSON Report", "Gitleaks Scan", "ZAP Scan", "CycloneDX Scan", "SARIF"}

        def check_file(scan_type, content):
            if scan_type == "ZAP Scan":
                return ET.fromstring(content).tag == "OWASPZAPReport"
            data = json.loads(content)
            if scan_type == "Trivy Scan":
                return isinstance(data, dict) and "SchemaVersion" in data
            if scan_type == "Semgrep JSON Report":
                return isinstance(data, dict) and isinstance(data.get("results"), list)
            if scan_type == "Gitleaks Scan":
                return isinstance(data, list)
            if scan_type == "CycloneDX Scan":
                return data.get("bomFormat") == "CycloneDX"
            return False

        class Handler(JSONHandler):
            def do_GET(self):
                if self.path == "/_requests":
                    with LOCK:
                        return self.reply(200, REQUESTS)
                self.reply(404, {"detail": "Not found."})
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {"path": self.path, "authorization": self.headers.get("Authorization") == "Token " + KEY, "fields": {}, "file": None}
                with LOCK:
                    REQUESTS.append(entry)
                if self.path != "/api/v2/import-scan/":
                    return self.reply(404, {"detail": "Not found."})
                if not entry["authorization"]:
                    return self.reply(401, {"detail": "Invalid token."})
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("multipart/form-data; boundary="):
                    return self.reply(415, {"detail": "Unsupported media type \"%s\" in request." % ctype})
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
                content = None
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if name == "file":
                        entry["file"] = part.get_filename()
                        content = part.get_payload(decode=True)
                    else:
                        entry["fields"][name] = part.get_content().strip()
                fields = entry["fields"]
                errors = {}
                if fields.get("scan_type") not in SCAN_TYPES:
                    errors["scan_type"] = ["\"%s\" is not a valid choice." % fields.get("scan_type")]
                for name in ("product_type_name", "product_name", "engagement_name"):
                    if not fields.get(name):
                        errors[name] = ["This field is required with auto_create_context."]
                if fields.get("auto_create_context") not in ("true", "True"):
                    errors["auto_create_context"] = ["Must be true to create the product and engagement."]
                if content is None or not entry["file"]:
                    errors["file"] = ["Uploading a Report File is required for %s" % fields.get("scan_type")]
                elif "scan_type" not in errors:
                    try:
                        ok = check_file(fields["scan_type"], content)
                    except Exception as error:
                        ok = False
                    if not ok:
                        errors["file"] = ["not a %s report" % fields["scan_type"]]
                if errors:
                    return self.reply(400, errors)
                with LOCK:
                    test = len([r for r in REQUESTS if r.get("status") == 201]) + 1
                    entry["status"] = 201
                self.reply(201, {"scan_date": fields.get("scan_date"), "minimum_severity": "Info", "active": True, "verified": False,
                                 "scan_type": fields["scan_type"], "test": test, "test_id": test, "engagement_id": 7, "product_id": 3,
                                 "product_type_id": 1, "statistics": {"after": {"total": {"total": 1}}}})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Argo CD's `GET /api/v1/applications/{name}` (argo-cd `docs/developer-guide/api-docs.md`: `Authorization: Bearer
    /// <token>`; swagger `ApplicationService_Get` with the `refresh` query; a `v1alpha1Application` body).
    /// Usage: server.py TOKEN APPLICATION BARE_REPO BRANCH MODE [LAG [SOURCES]]. The application follows the branch
    /// head of the bare repository like Argo CD does: OutOfSync for LAG polls after the head moves, then Synced at the
    /// head and Healthy (MODE healthy) or Degraded (MODE degraded). SOURCES `multi` makes it a multi-source
    /// application (`spec.sources`: a Helm chart, then the repository) which, as argo-cd's `controller/state.go`
    /// does, reports `status.sync.revisions` (one per source, per `SyncStatus` in
    /// `pkg/apis/application/v1alpha1/types.go`) and no `revision`.
    static let argoCD = #"""
        import json, subprocess, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from stand_in import JSONHandler
        from urllib.parse import urlsplit, parse_qs

        TOKEN, APP, REPO, BRANCH, MODE = sys.argv[1:6]
        LAG = int(sys.argv[6]) if len(sys.argv) > 6 else 2
        MULTI = len(sys.argv) > 7 and sys.argv[7] == "multi"
        CHART = {"repoURL": "https://charts.example.com/stockapp", "chart": "stockapp-base", "targetRevision": "1.4.2"}
        LOCK = threading.Lock()
        REQUESTS = []
        STATE = {"synced": None, "seen": None, "polls": 0}

        def head():
            return subprocess.run(["git", "--git-dir", REPO, "rev-parse", "refs/heads/" + BRANCH], capture_output=True, text=True, check=True).stdout.strip()

        def application():
            current = head()
            with LOCK:
                if current != STATE["seen"]:
                    STATE["seen"], STATE["polls"] = current, 0
                STATE["polls"] += 1
                if current != STATE["synced"] and STATE["polls"] > LAG:
                    STATE["synced"] = current
                synced = STATE["synced"]
            in_sync = synced == current
            health = "Progressing" if not in_sync else ("Degraded" if MODE == "degraded" and STATE["polls"] > 1 else "Healthy")
            if MULTI:
                source = {"repoURL": REPO, "path": "overlays/stage", "targetRevision": BRANCH}
                return {"metadata": {"name": APP, "namespace": "argocd"},
                        "spec": {"project": "default", "sources": [CHART, source]},
                        "status": {"sync": {"status": "Synced" if in_sync else "OutOfSync", "revisions": ["1.4.2", synced],
                                            "comparedTo": {"sources": [CHART, source]}},
                                   "health": {"status": health, "message": "Deployment trade exceeded its progress deadline" if health == "Degraded" else ""},
                                   "operationState": {"phase": "Succeeded" if in_sync else "Running"}}}
            return {"metadata": {"name": APP, "namespace": "argocd"},
                    "spec": {"project": "default", "source": {"repoURL": REPO, "path": "overlays/stage", "targetRevision": BRANCH}},
                    "status": {"sync": {"status": "Synced" if in_sync else "OutOfSync", "revision": synced},
                               "health": {"status": health, "message": "Deployment trade exceeded its progress deadline" if health == "Degraded" else ""},
                               "operationState": {"phase": "Succeeded" if in_sync else "Running"}}}

        class Handler(JSONHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/_requests":
                    with LOCK:
                        return self.reply(200, REQUESTS)
                with LOCK:
                    REQUESTS.append({"path": url.path, "query": url.query, "authorization": self.headers.get("Authorization") == "Bearer " + TOKEN})
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self.reply(401, {"error": "invalid session: token is invalid", "code": 16, "message": "invalid session: token is invalid"})
                if url.path != "/api/v1/applications/" + APP:
                    return self.reply(404, {"error": "applications.argoproj.io \"%s\" not found" % url.path.rsplit("/", 1)[-1], "code": 5})
                query = parse_qs(url.query)
                if query and query != {"refresh": ["normal"]} and query != {"refresh": ["hard"]}:
                    return self.reply(400, {"error": "unknown query " + url.query, "code": 3})
                self.reply(200, application())

        STATE["synced"] = STATE["seen"] = head()
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}

extension FakeAPIServer {
    /// GitHub's review history of a workflow run: `scripts/lib/github_approvals_standin.py` (the act scenarios use it
    /// too). Arguments: TOKEN, OWNER/REPO, RUN_ID and the reviews as JSON `[[state, environment, login], …]`.
    static var gitHubApprovals: String {
        get throws { try String(contentsOfFile: OpenBaoDevServer.repositoryRoot.path + "/scripts/lib/github_approvals_standin.py", encoding: .utf8) }
    }
}
