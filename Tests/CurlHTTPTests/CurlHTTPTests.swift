import Foundation
import Synchronization
import Testing

@testable import CurlHTTP

private func client(
    retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50)),
    maxResponseBytes: Int = 1 << 20, connectTimeout: Duration = .seconds(2), totalTimeout: Duration = .seconds(10), caBundlePath: String? = nil,
    debugLog: (@Sendable (String) -> Void)? = nil
) -> HTTPClient {
    HTTPClient(
        configuration: HTTPClientConfiguration(
            connectTimeout: connectTimeout, totalTimeout: totalTimeout, caBundlePath: caBundlePath,
            maxResponseBytes: maxResponseBytes, retry: retry, debugLog: debugLog))
}

private func hits(_ server: TestHTTPServer, _ key: String) async throws -> Int {
    let response = try await client().send(HTTPRequest(url: server.url("/hits/\(key)")))
    return Int(response.text) ?? -1
}

@Suite("HTTP client against a local server")
struct CurlHTTPTests {
    @Test func statusesAreResponsesNotErrors() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        for status in [200, 201, 204, 400, 404, 418] {
            let response = try await client().send(HTTPRequest(url: server.url("/status/\(status)")))
            #expect(response.status == status)
        }
    }

    @Test func headersGoOutAndComeBackCaseInsensitively() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let request = HTTPRequest(url: server.url("/headers"), headers: ["X-Request-Id": "abc-123", "X-Empty": ""])
        let response = try await client().send(request)
        #expect(response.status == 200)
        #expect(response.headers["x-custom"] == "custom-value")
        #expect(response.headers["CONTENT-TYPE"] == "application/json")
        let echoed = try JSONDecoder().decode([String: String].self, from: response.body)
        #expect(echoed["x-request-id"] == "abc-123")
        #expect(echoed["x-empty"] == "")
        #expect(echoed["user-agent"] == "stockops")
    }

    @Test(arguments: [HTTPMethod.post, .put, .patch, .delete])
    func methodsSendTheirBody(method: HTTPMethod) async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let request = HTTPRequest(
            method: method, url: server.url("/echo"), headers: ["Content-Type": "application/json"],
            body: Data(#"{"a":1}"#.utf8))
        let response = try await client().send(request)
        let echoed = try JSONDecoder().decode([String: String].self, from: response.body)
        #expect(echoed["method"] == method.rawValue)
        #expect(echoed["body"] == #"{"a":1}"#)
        #expect(echoed["content_type"] == "application/json")
    }

    @Test func headHasNoBody() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(method: .head, url: server.url("/bytes/100")))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.headers["Content-Length"] == "100")
    }

    @Test func bodyWithinTheLimitArrives() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client(maxResponseBytes: 1000).send(HTTPRequest(url: server.url("/bytes/1000")))
        #expect(response.body.count == 1000)
    }

    @Test(arguments: ["/bytes/5000", "/stream/5000"])
    func bodyOverTheLimitFails(path: String) async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let error = await #expect(throws: HTTPClientError.self) {
            try await client(maxResponseBytes: 1000).send(HTTPRequest(url: server.url(path)))
        }
        #expect(error?.code == .responseTooLarge)
        #expect(error?.description.contains("1000 bytes") == true)
    }

    @Test func slowResponseTimesOut() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let started = ContinuousClock.now
        let error = await #expect(throws: HTTPClientError.self) {
            try await client(retry: .none, totalTimeout: .milliseconds(300)).send(
                HTTPRequest(url: server.url("/slow/60000")))
        }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(30), "the 60 s response was cut short")
    }

    @Test func retriesA503UntilItSucceeds() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(url: server.url("/flaky/a/2/503")))
        #expect(response.status == 200)
        #expect(try await hits(server, "a") == 3)
    }

    @Test func givesUpAfterMaxAttemptsWithTheLastResponse() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(url: server.url("/flaky/b/10/502")))
        #expect(response.status == 502)
        #expect(try await hits(server, "b") == 3)
    }

    @Test func honoursRetryAfterOn429() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let started = ContinuousClock.now
        let response = try await client().send(HTTPRequest(url: server.url("/flaky/c/1/429?retry_after=1")))
        #expect(response.status == 200)
        #expect(ContinuousClock.now - started >= .milliseconds(900))
        #expect(try await hits(server, "c") == 2)
    }

    @Test func doesNotRetryAPost() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(method: .post, url: server.url("/flaky/d/2/503")))
        #expect(response.status == 503)
        #expect(try await hits(server, "d") == 1)
    }

    @Test func retriesAPostMarkedIdempotent() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let request = HTTPRequest(method: .post, url: server.url("/flaky/e/2/503"), isMarkedIdempotent: true)
        let response = try await client().send(request)
        #expect(response.status == 200)
        #expect(try await hits(server, "e") == 3)
    }

    @Test func doesNotRetryA4xx() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let response = try await client().send(HTTPRequest(url: server.url("/flaky/f/2/404")))
        #expect(response.status == 404)
        #expect(try await hits(server, "f") == 1)
    }

    @Test func refusedConnectionIsRetriedAndNamesTheURLWithoutCredentials() async throws {
        let lines = Mutex<[String]>([])
        let http = client(debugLog: { line in lines.withLock { $0.append(line) } })
        let error = await #expect(throws: HTTPClientError.self) {
            try await http.send(HTTPRequest(url: "http://user:hunter2@127.0.0.1:1/path"))
        }
        let log = lines.withLock { $0 }
        #expect(log.filter { $0.hasPrefix("retrying") }.count == 2)
        #expect(!log.joined().contains("hunter2"))
        #expect(error?.code == .couldNotConnect)
        #expect(error?.url == "http://127.0.0.1:1/path")
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test(arguments: ["ftp://127.0.0.1/file", "not a url", "http://[::1/"])
    func invalidURLsAreRejected(url: String) async throws {
        let error = await #expect(throws: HTTPClientError.self) {
            try await client(retry: .none).send(HTTPRequest(url: url))
        }
        #expect(error?.code == .invalidURL)
    }

    @Test func selfSignedCertificateFailsVerification() async throws {
        let certificate = try TestCertificate()
        defer { certificate.remove() }
        let server = try await TestHTTPServer.start(certificate: certificate)
        defer { server.stop() }
        // curl's connect timeout covers the TLS handshake: generous, so a loaded machine cannot turn the refusal into
        // a timeout; a refused certificate fails at once.
        let error = await #expect(throws: HTTPClientError.self) {
            try await client(retry: .none, connectTimeout: .seconds(60), totalTimeout: .seconds(90)).send(HTTPRequest(url: server.url("/status/200")))
        }
        #expect(error?.code == .tlsFailure)
    }

    @Test func selfSignedCertificateIsTrustedAsCABundle() async throws {
        let certificate = try TestCertificate()
        defer { certificate.remove() }
        let server = try await TestHTTPServer.start(certificate: certificate)
        defer { server.stop() }
        let response = try await client(connectTimeout: .seconds(60), totalTimeout: .seconds(90), caBundlePath: certificate.certificatePath).send(
            HTTPRequest(url: server.url("/status/200")))
        #expect(response.status == 200)
    }

    @Test func clientCertificateIsPresentedForMutualTLS() async throws {
        let serverCertificate = try TestCertificate()
        let clientCertificate = try TestCertificate()
        defer {
            serverCertificate.remove()
            clientCertificate.remove()
        }
        let server = try await TestHTTPServer.start(certificate: serverCertificate, clientCA: clientCertificate)
        defer { server.stop() }
        var configuration = HTTPClientConfiguration(
            connectTimeout: .seconds(60), totalTimeout: .seconds(90), caBundlePath: serverCertificate.certificatePath,
            retry: .none)

        let refused = await #expect(throws: HTTPClientError.self) {
            try await HTTPClient(configuration: configuration).send(HTTPRequest(url: server.url("/status/200")))
        }
        #expect(refused?.code == .tlsFailure || refused?.code == .connectionLost)

        configuration.clientCertificatePath = clientCertificate.certificatePath
        configuration.clientKeyPath = clientCertificate.keyPath
        let response = try await HTTPClient(configuration: configuration).send(HTTPRequest(url: server.url("/status/200")))
        #expect(response.status == 200)
    }

    @Test func debugLogRedactsCredentials() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let lines = Mutex<[String]>([])
        let http = client(debugLog: { line in lines.withLock { $0.append(line) } })
        let request = HTTPRequest(
            url: server.url("/headers"),
            headers: ["Authorization": "Bearer bearer-secret", "X-Vault-Token": "vault-secret", "Cookie": "c=cookie-in"])
        _ = try await http.send(request)
        let log = lines.withLock { $0.joined(separator: "\n") }
        #expect(log.contains("GET"))
        #expect(log.contains("X-Custom: custom-value"))
        for secret in ["bearer-secret", "vault-secret", "cookie-in", "cookie-secret"] {
            #expect(!log.contains(secret))
        }
        #expect(log.contains("[REDACTED]"))
    }

    @Test func concurrentRequestsShareTheEngine() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let started = ContinuousClock.now
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask { try await client().send(HTTPRequest(url: server.url("/slow/3000"))).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 20))
        // One after another, twenty 3 s responses take a minute; in parallel a little over 3 s.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func cancellationEndsTheTransfer() async throws {
        let server = try await TestHTTPServer.start()
        defer { server.stop() }
        let started = ContinuousClock.now
        let task = Task { try await client().send(HTTPRequest(url: server.url("/slow/60000"))) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = await task.result
        #expect(throws: HTTPClientError.self) { try result.get() }
        #expect(ContinuousClock.now - started < .seconds(30), "the 60 s response was cut short")
    }
}

@Suite("HTTP client helpers")
struct CurlHTTPHelperTests {
    @Test func credentialsAreStrippedFromURLs() {
        #expect(HTTPClientError.withoutCredentials("https://u:p@host:8200/v1/x?y=1") == "https://host:8200/v1/x?y=1")
        #expect(HTTPClientError.withoutCredentials("https://host/a@b") == "https://host/a@b")
        #expect(HTTPClientError.withoutCredentials("plain") == "plain")
    }

    @Test func retryAfterParsesSecondsAndDates() {
        let seconds = HTTPResponse(status: 429, headers: ["Retry-After": "7"])
        #expect(HTTPClient.retryAfter(seconds) == .seconds(7))
        let past = HTTPResponse(status: 503, headers: ["retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"])
        #expect(HTTPClient.retryAfter(past) == .zero)
        #expect(HTTPClient.retryAfter(HTTPResponse(status: 503)) == nil)
    }

    @Test func backoffGrowsAndStaysCapped() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for attempt in 1...8 {
            let delay = policy.backoff(after: attempt)
            let full = min(Duration.seconds(1), .milliseconds(100) * (1 << (attempt - 1)))
            #expect(delay >= full / 2 && delay <= full)
        }
    }

    @Test func headersRedactCredentials() {
        let headers: HTTPHeaders = ["authorization": "x", "Set-Cookie": "y", "Accept": "z"]
        #expect(headers.redactedLines() == ["authorization: [REDACTED]", "Set-Cookie: [REDACTED]", "Accept: z"])
    }
}
