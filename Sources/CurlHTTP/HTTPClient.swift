import CCurl
import Foundation

/// When and how often a failed request is sent again.
///
/// Only requests that may be repeated (``HTTPRequest/isRetryable``) are retried, and only after a
/// connection error, a timeout, a `429 Too Many Requests` or a `5xx` status. The delay before
/// attempt *n + 1* is drawn from `[d/2, d]` with `d = min(maxDelay, baseDelay · 2^(n-1))`; a
/// `Retry-After` header replaces it, capped at `maxRetryAfter`.
public struct RetryPolicy: Sendable {
    /// Attempts in total, including the first; 1 disables retries.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 3, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5),
        maxRetryAfter: Duration = .seconds(30)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let `default` = RetryPolicy()
    public static let none = RetryPolicy(maxAttempts: 1)

    static let retryableErrors: Set<HTTPClientError.Code> = [
        .couldNotConnect, .couldNotResolveHost, .timedOut, .connectionLost,
    ]

    static func isRetryable(status: Int) -> Bool { status == 429 || (500...599).contains(status) }

    /// The backoff before attempt `attempt + 1`, with jitter.
    func backoff(after attempt: Int) -> Duration {
        let exponent = min(attempt - 1, 30)
        let full = min(maxDelay, baseDelay * (1 << exponent))
        let fraction = Double.random(in: 0.5...1.0)
        return full * fraction
    }
}

/// How an ``HTTPClient`` connects. TLS peer and host verification is always on; only the trusted
/// CA bundle can be chosen. Proxies come from `http_proxy`, `https_proxy` and `no_proxy`, as libcurl reads them.
public struct HTTPClientConfiguration: Sendable {
    public var connectTimeout: Duration
    /// The limit for one attempt, from start to the last byte of the body.
    public var totalTimeout: Duration
    /// A PEM file of CA certificates to trust instead of the system store.
    public var caBundlePath: String?
    /// A PEM client certificate for mutual TLS.
    public var clientCertificatePath: String?
    /// The PEM private key of `clientCertificatePath`.
    public var clientKeyPath: String?
    /// Bodies longer than this end the transfer with ``HTTPClientError/Code/responseTooLarge``.
    public var maxResponseBytes: Int
    public var retry: RetryPolicy
    public var userAgent: String
    /// Receives one line per request and response, with credential headers redacted.
    public var debugLog: (@Sendable (String) -> Void)?

    public init(
        connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(60),
        caBundlePath: String? = nil, clientCertificatePath: String? = nil, clientKeyPath: String? = nil,
        maxResponseBytes: Int = 16 << 20, retry: RetryPolicy = .default, userAgent: String = "stockops",
        debugLog: (@Sendable (String) -> Void)? = nil
    ) {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.caBundlePath = caBundlePath
        self.clientCertificatePath = clientCertificatePath
        self.clientKeyPath = clientKeyPath
        self.maxResponseBytes = maxResponseBytes
        self.retry = retry
        self.userAgent = userAgent
        self.debugLog = debugLog
    }
}

/// An asynchronous HTTP/1.1 and HTTP/2 client over libcurl that never blocks the caller's thread.
///
/// Errors thrown are ``HTTPClientError``; any status, including 4xx and 5xx, is a response.
public struct HTTPClient: Sendable {
    public var configuration: HTTPClientConfiguration

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        self.configuration = configuration
    }

    /// Sends `request`, retrying as ``HTTPClientConfiguration/retry`` allows.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let policy = request.isRetryable ? configuration.retry : .none
        var attempt = 1
        while true {
            let delay: Duration
            do {
                let response = try await sendOnce(request, attempt: attempt)
                guard attempt < policy.maxAttempts, RetryPolicy.isRetryable(status: response.status) else {
                    return response
                }
                delay = Self.retryAfter(response).map { min($0, policy.maxRetryAfter) } ?? policy.backoff(after: attempt)
            } catch let error as HTTPClientError {
                guard attempt < policy.maxAttempts, RetryPolicy.retryableErrors.contains(error.code) else { throw error }
                delay = policy.backoff(after: attempt)
            }
            log("retrying \(request.method) \(HTTPClientError.withoutCredentials(request.url)) in \(delay)")
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw HTTPClientError(code: .cancelled, url: request.url, message: "the request was cancelled")
            }
            attempt += 1
        }
    }

    /// The delay a `Retry-After` header asks for, in seconds or as an HTTP date.
    static func retryAfter(_ response: HTTPResponse) -> Duration? {
        guard let value = response.headers["Retry-After"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSinceNow * 1000)))
    }

    private func log(_ line: @autoclosure () -> String) {
        configuration.debugLog?(line())
    }

    private func sendOnce(_ request: HTTPRequest, attempt: Int) async throws -> HTTPResponse {
        let safeURL = HTTPClientError.withoutCredentials(request.url)
        if configuration.debugLog != nil {
            let headers = request.headers.redactedLines().joined(separator: "; ")
            log("> \(request.method) \(safeURL) attempt \(attempt) [\(headers)] body \(request.body?.count ?? 0) bytes")
        }
        let transfer = try makeTransfer(request)
        let started = ContinuousClock.now
        do {
            let response = try await transfer.run()
            if configuration.debugLog != nil {
                let headers = response.headers.redactedLines().joined(separator: "; ")
                log("< \(response.status) \(safeURL) in \(ContinuousClock.now - started) [\(headers)] body \(response.body.count) bytes")
            }
            return response
        } catch {
            log("! \(error)")
            throw error
        }
    }

    private func makeTransfer(_ request: HTTPRequest) throws -> CurlTransfer {
        guard let scheme = request.url.split(separator: ":", maxSplits: 1).first?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            throw HTTPClientError(code: .invalidURL, url: request.url, message: "only http and https URLs are supported")
        }
        guard let easy = curl_easy_init() else {
            throw HTTPClientError(code: .transferFailed, url: request.url, message: "curl_easy_init failed")
        }
        let transfer = CurlTransfer(
            easy: easy, url: request.url, maxResponseBytes: configuration.maxResponseBytes)
        transfer.installCallbacks()

        var failed: CURLoption?
        func set(_ option: CURLoption, _ value: Int) {
            if stockops_curl_setopt_long(easy, option, value) != CURLE_OK { failed = option }
        }
        func set(_ option: CURLoption, _ value: String) {
            if stockops_curl_setopt_string(easy, option, value) != CURLE_OK { failed = option }
        }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        set(CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.totalTimeout))
        set(CURLOPT_USERAGENT, configuration.userAgent)
        set(CURLOPT_ACCEPT_ENCODING, "")
        if stockops_curl_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maxResponseBytes))
            != CURLE_OK
        {
            failed = CURLOPT_MAXFILESIZE_LARGE
        }
        if let path = configuration.caBundlePath { set(CURLOPT_CAINFO, path) }
        if let path = configuration.clientCertificatePath {
            set(CURLOPT_SSLCERT, path)
            set(CURLOPT_SSLCERTTYPE, "PEM")
        }
        if let path = configuration.clientKeyPath {
            set(CURLOPT_SSLKEY, path)
            set(CURLOPT_SSLKEYTYPE, "PEM")
        }

        switch request.method {
        case .get where request.body == nil: set(CURLOPT_HTTPGET, 1)
        case .head: set(CURLOPT_NOBODY, 1)
        default:
            if request.method != .post { set(CURLOPT_CUSTOMREQUEST, request.method.rawValue) }
            if let body = request.body ?? (request.method == .post ? Data() : nil) {
                if stockops_curl_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) != CURLE_OK {
                    failed = CURLOPT_POSTFIELDSIZE_LARGE
                }
                let copied = body.withUnsafeBytes { bytes in
                    stockops_curl_setopt_pointer(
                        easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress) ?? emptyBody)
                }
                if copied != CURLE_OK { failed = CURLOPT_COPYPOSTFIELDS }
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for field in request.headers {
            let line = field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)"
            list = curl_slist_append(list, line)
        }
        if !request.headers.contains("Expect") { list = curl_slist_append(list, "Expect:") }
        transfer.adoptHeaderList(list)
        if stockops_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list) != CURLE_OK { failed = CURLOPT_HTTPHEADER }

        if let failed {
            let code: HTTPClientError.Code = failed == CURLOPT_URL ? .invalidURL : .invalidConfiguration
            throw HTTPClientError(code: code, url: request.url, message: "libcurl rejected option \(failed.rawValue)")
        }
        return transfer
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

private nonisolated(unsafe) let emptyBody: UnsafeMutableRawPointer = {
    let pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    pointer.storeBytes(of: 0, as: UInt8.self)
    return pointer
}()
