import CurlHTTP
import Foundation

@testable import StockOpsKit

/// A stand-in for Harbor's own API and token service (Harbor itself cannot run here), as a Python script written
/// to a temporary file and run by `python3`. The distribution API (`/v2/`) is never faked: tests pair this token
/// service with a real `docker-registry`.
final class HarborFake: ChildServer, @unchecked Sendable {
    let process: Process
    let port: Int
    let directory: String
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var tokenRealm: String { baseURL + "/service/token" }

    /// Starts the script accepting `username`/`password`; with `signing`, its token service signs JWTs with that
    /// key and certificate for `issuer`.
    static func start(username: String, password: String, signing: TokenSigningCertificate? = nil, issuer: String = "stockops-test-issuer")
        async throws -> HarborFake
    {
        var arguments = [username, password]
        if let signing {
            arguments += ["--cert", signing.certificatePath, "--key", signing.keyPath, "--issuer", issuer]
        }
        let launched = try await launchPythonServer(
            source, directory: NSTemporaryDirectory() + "stockops-harbor-fake-\(UUID().uuidString)", arguments: arguments, name: "the Harbor stand-in")
        return HarborFake(process: launched.process, port: launched.port, directory: launched.directory)
    }

    private init(process: Process, port: Int, directory: String) {
        self.process = process
        self.port = port
        self.directory = directory
    }

    /// One request the stand-in received.
    struct SeenRequest: Decodable, Equatable {
        var method: String
        var path: String
        var body: String
        var contentType: String?
    }

    /// The requests received so far, in order.
    func requests() async throws -> [SeenRequest] {
        let client = HTTPClient(configuration: RegistryFixtureSupport.httpConfiguration)
        let response = try await client.send(.init(url: baseURL + "/_requests"))
        return try JSONDecoder().decode([SeenRequest].self, from: response.body)
    }

    var ownPath: String? { directory }

    deinit { stop() }

    static let source = #"""
        """A stand-in for Harbor's own services, which cannot run here: its API (/api/v2.0) and its token service.

        Usage: harbor_fake.py USER PASSWORD [--cert CERT.pem --key KEY.pem --issuer ISSUER]
        Binds 127.0.0.1 on a free port and prints the port on the first line of stdout.

        /api/v2.0/projects/{project}/repositories/{repository}/artifacts[/{reference}[/tags]]
            Checks each request against the shapes Harbor's API documentation gives: Basic credentials, a repository
            name URL-encoded twice (a/b -> a%252Fb), with_tag/page/page_size query parameters, a JSON {"name": tag}
            body for POST .../tags. A request of any other shape gets 400 with the reason.
        /service/token?service=S&scope=repository:NAME:ACTIONS
            Issues an RS256 JWT (x5c header, signed with `openssl dgst -sha256 -sign`) granting the requested scope
            to the Basic credentials, as the docker-registry `auth.token` configuration checks it.
        /_requests
            The requests seen so far, as JSON: method, raw path, body.
        """

        import base64
        import json
        import subprocess
        import sys
        import threading
        import time
        import uuid
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, unquote, urlsplit

        USER, PASSWORD = sys.argv[1], sys.argv[2]
        OPTIONS = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        LOCK = threading.Lock()
        REQUESTS = []
        DIGEST = "sha256:" + "ab" * 32
        OTHER = "sha256:" + "cd" * 32
        ARTIFACTS = {
            "stocks/trade": [
                {"id": 11, "type": "IMAGE", "media_type": "application/vnd.oci.image.config.v1+json",
                 "manifest_media_type": "application/vnd.oci.image.manifest.v1+json", "project_id": 2, "repository_id": 3,
                 "digest": DIGEST, "size": 2048, "push_time": "2026-11-20T10:00:00.000Z",
                 "pull_time": "0001-01-01T00:00:00.000Z", "extra_attrs": {"architecture": "amd64", "os": "linux"},
                 "annotations": None, "references": None, "labels": None,
                 "tags": [{"id": 21, "repository_id": 3, "artifact_id": 11, "name": "git-abc1234",
                           "push_time": "2026-11-20T10:00:00.000Z", "pull_time": "0001-01-01T00:00:00.000Z",
                           "immutable": False}]},
                {"id": 12, "type": "IMAGE", "media_type": "application/vnd.oci.image.config.v1+json",
                 "manifest_media_type": "application/vnd.oci.image.manifest.v1+json", "project_id": 2, "repository_id": 3,
                 "digest": OTHER, "size": 1024, "push_time": "2026-11-19T10:00:00.000Z",
                 "pull_time": "0001-01-01T00:00:00.000Z", "extra_attrs": {}, "annotations": None, "references": None,
                 "labels": None, "tags": None},
            ],
        }


        def b64url(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


        def sign_token(account, service, scopes):
            with open(OPTIONS["--cert"]) as handle:
                pem = handle.read()
            der = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
            header = {"typ": "JWT", "alg": "RS256", "x5c": [der]}
            now = int(time.time())
            access = []
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",") if actions else []})
            claims = {"iss": OPTIONS["--issuer"], "sub": account, "aud": service, "exp": now + 300, "nbf": now - 10,
                      "iat": now, "jti": uuid.uuid4().hex, "access": access}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", OPTIONS["--key"]],
                                       input=signing_input.encode(), capture_output=True, check=True).stdout
            return signing_input + "." + b64url(signature)


        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def reply(self, status, body=None, headers=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def error(self, status, code, message):
                self.reply(status, {"errors": [{"code": code, "message": message}]})

            def authorized(self):
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                return self.headers.get("Authorization") == expected

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                if url.path == "/_requests":
                    with LOCK:
                        return self.reply(200, REQUESTS)
                with LOCK:
                    REQUESTS.append({"method": self.command, "path": self.path, "body": body,
                                     "contentType": self.headers.get("Content-Type")})
                query = parse_qs(url.query)
                if url.path == "/service/token":
                    if not self.authorized():
                        return self.error(401, "UNAUTHORIZED", "invalid credentials")
                    token = sign_token(USER, query.get("service", [""])[0], query.get("scope", []))
                    return self.reply(200, {"token": token, "access_token": token, "expires_in": 300})
                prefix = "/api/v2.0/projects/"
                if not url.path.startswith(prefix):
                    return self.error(404, "NOT_FOUND", "no such API")
                if not self.authorized():
                    return self.error(401, "UNAUTHORIZED", "unauthorized")
                parts = url.path[len(prefix):].split("/")
                if len(parts) < 4 or parts[1] != "repositories" or parts[3] != "artifacts":
                    return self.error(400, "BAD_REQUEST", "path is not /projects/{p}/repositories/{r}/artifacts")
                project, encoded = parts[0], parts[2]
                if "/" in unquote(encoded) and "%2F" not in unquote(encoded):
                    return self.error(400, "BAD_REQUEST", "repository name not encoded twice")
                repository = project + "/" + unquote(unquote(encoded))
                artifacts = ARTIFACTS.get(repository)
                if artifacts is None:
                    return self.error(404, "NOT_FOUND", f"repository {repository} not found")
                rest = parts[4:]
                if self.command == "GET" and not rest:
                    if query.get("with_tag") != ["true"]:
                        return self.error(400, "BAD_REQUEST", "with_tag=true expected")
                    page = int(query.get("page", ["1"])[0])
                    size = int(query.get("page_size", ["10"])[0])
                    chunk = artifacts[(page - 1) * size: page * size]
                    headers = {"X-Total-Count": str(len(artifacts))}
                    if page * size < len(artifacts):
                        headers["Link"] = f'<{url.path}?with_tag=true&page={page + 1}&page_size={size}>; rel="next"'
                    return self.reply(200, chunk, headers)
                artifact = next((a for a in artifacts if a["digest"] == rest[0]
                                 or any(t["name"] == rest[0] for t in a["tags"] or [])), None)
                if artifact is None:
                    return self.error(404, "NOT_FOUND", f"artifact {repository}:{rest[0]} not found")
                if self.command == "GET" and len(rest) == 1:
                    return self.reply(200, artifact)
                if self.command == "POST" and rest[1:] == ["tags"]:
                    if (self.headers.get("Content-Type") or "").split(";")[0] != "application/json":
                        return self.error(400, "BAD_REQUEST", "Content-Type application/json expected")
                    try:
                        tag = json.loads(body)
                    except ValueError:
                        return self.error(400, "BAD_REQUEST", "body is not JSON")
                    if not isinstance(tag, dict) or set(tag) != {"name"} or not isinstance(tag["name"], str):
                        return self.error(400, "BAD_REQUEST", 'body must be {"name": "<tag>"}')
                    if any(t["name"] == tag["name"] for a in artifacts for t in a["tags"] or []):
                        return self.error(409, "CONFLICT", f"tag {tag['name']} already exists")
                    artifact["tags"] = (artifact["tags"] or []) + [{"id": 99, "name": tag["name"], "immutable": False}]
                    return self.reply(201, None, {"Location": url.path + "/" + tag["name"]})
                return self.error(405, "METHOD_NOT_ALLOWED", f"{self.command} {url.path}")

            do_GET = handle_any
            do_POST = handle_any
            do_PUT = handle_any
            do_DELETE = handle_any


        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}

/// An RSA key and self-signed certificate (`openssl req -x509`) for signing registry tokens; the registry trusts the
/// certificate as its `rootcertbundle`.
struct TokenSigningCertificate: Sendable {
    let directory: String
    var certificatePath: String { directory + "/token.crt" }
    var keyPath: String { directory + "/token.key" }

    init() throws {
        directory = NSTemporaryDirectory() + "stockops-token-cert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try RegistryFixtureSupport.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certificatePath,
            "-days", "1", "-subj", "/CN=stockops-test-issuer",
        ])
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
