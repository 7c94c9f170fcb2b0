import Foundation
import Testing

@testable import StockOpsKit

/// `RegistryClient.blob` against a registry that keeps its blobs behind a storage redirect (as Harbor on S3 does).
@Suite("RegistryClient blob download through a storage redirect")
struct RegistryBlobTests {
    static let payload = "a payload stored behind a redirect"

    /// Answers 401 (Basic) to a blob GET without credentials, 307 to a presigned storage URL with them, serves the
    /// payload there, and lists the requests (path and Authorization) at `/_requests`.
    static let server = #"""
        import http.server, json
        payload = b"a payload stored behind a redirect"
        seen = []
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
            def answer(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                if self.path == "/_requests":
                    return self.answer(200, json.dumps(seen).encode())
                seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                if self.path.startswith("/v2/stocks/trade/blobs/sha256:"):
                    if self.headers.get("Authorization") is None:
                        return self.answer(401, b"", [("WWW-Authenticate", 'Basic realm="registry"')])
                    location = "http://127.0.0.1:%d/storage/blob?X-Amz-Signature=presigned" % self.server.server_address[1]
                    return self.answer(307, b"", [("Location", location)])
                if self.path.startswith("/storage/blob"):
                    return self.answer(200, payload)
                self.answer(404, b"{}")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    @Test func followsTheRedirectWithoutTheRegistryCredentialsAndChecksTheDigest() async throws {
        let fake = try await FakeAPIServer.start(Self.server, arguments: [])
        defer { fake.stop() }
        let client = RegistryClient(
            baseURL: fake.baseURL, credentials: RegistryCredentials(username: "alice", password: Secret("correct horse battery")),
            http: RegistryFixtureSupport.httpConfiguration)
        let digest = ImageDigest.of(Data(Self.payload.utf8))
        #expect(try await client.blob(digest, in: "stocks/trade") == Data(Self.payload.utf8))
        let requests = try await fake.requests()
        let storage = requests.filter { ($0["path"] as? String)?.hasPrefix("/storage/") == true }
        #expect(storage.count == 1)
        #expect(storage.first?["authorization"] is NSNull)
        #expect(requests.contains { ($0["authorization"] as? String)?.hasPrefix("Basic ") == true })

        let other = ImageDigest.of(Data("other bytes".utf8))
        let error = await #expect(throws: RegistryError.self) { try await client.blob(other, in: "stocks/trade") }
        #expect(error?.code == .invalidDigest)
        #expect(error?.message.contains("hash to \(digest)") == true)
    }
}
