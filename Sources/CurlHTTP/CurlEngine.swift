import CCurl
import Foundation
import Synchronization

/// Runs every transfer of the process on one dedicated thread driving a `curl_multi` handle.
///
/// libcurl's easy interface blocks the calling thread for a whole transfer, and blocking a thread
/// of Swift's cooperative pool (one thread per core) stalls unrelated tasks. A pool of threads
/// doing `curl_easy_perform` would cost one OS thread per concurrent transfer and make
/// cancellation depend on progress callbacks. The multi interface instead multiplexes any number
/// of transfers on a single thread: callers hand over a prepared easy handle and suspend on a
/// continuation; the thread sleeps in `curl_multi_poll` until there is socket activity, a libcurl
/// timer expires, or `curl_multi_wakeup` signals a new transfer or a cancellation.
final class CurlEngine: @unchecked Sendable {
    static let shared = CurlEngine()

    private struct Inbox {
        var added: [CurlTransfer] = []
        var cancelled: [CurlTransfer] = []
    }

    /// Touched only by the engine thread, apart from `curl_multi_wakeup`, which libcurl allows from any thread.
    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())

    private init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        let thread = Thread { [self] in run() }
        thread.name = "stockops.curl"
        thread.start()
    }

    /// Starts `transfer`; its continuation is resumed on the engine thread when it ends.
    func start(_ transfer: CurlTransfer) {
        inbox.withLock { $0.added.append(transfer) }
        curl_multi_wakeup(multi)
    }

    /// Aborts `transfer` if it is still running.
    func cancel(_ transfer: CurlTransfer) {
        transfer.isCancelled.store(true, ordering: .releasing)
        inbox.withLock { $0.cancelled.append(transfer) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let work = inbox.withLock { inbox in
                defer { inbox = Inbox() }
                return inbox
            }
            for transfer in work.added {
                if transfer.isCancelled.load(ordering: .acquiring) {
                    transfer.finish(result: CURLE_ABORTED_BY_CALLBACK)
                } else if curl_multi_add_handle(multi, transfer.easy) == CURLM_OK {
                    active[transfer.easy] = transfer
                } else {
                    transfer.finish(result: CURLE_FAILED_INIT)
                }
            }
            for transfer in work.cancelled where active.removeValue(forKey: transfer.easy) != nil {
                curl_multi_remove_handle(multi, transfer.easy)
                transfer.finish(result: CURLE_ABORTED_BY_CALLBACK)
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let result = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                active.removeValue(forKey: easy)?.finish(result: result)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}

/// One transfer: an easy handle, what it has received so far, and the caller waiting for it.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    let url: String
    let maxResponseBytes: Int
    let isCancelled = Atomic<Bool>(false)

    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var continuation: CheckedContinuation<HTTPResponse, any Error>?
    private var status = 0
    private var headers = HTTPHeaders()
    private var body = Data()
    private var exceededLimit = false

    init(easy: UnsafeMutableRawPointer, url: String, maxResponseBytes: Int) {
        self.easy = easy
        self.url = url
        self.maxResponseBytes = maxResponseBytes
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Takes ownership of the request header list, freed with the transfer.
    func adoptHeaderList(_ list: UnsafeMutablePointer<curl_slist>?) {
        headerList = list
    }

    /// Points the handle's callbacks and error buffer at this transfer, which must outlive the transfer.
    func installCallbacks() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        stockops_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        stockops_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteBody)
        stockops_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        stockops_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, curlWriteHeader)
        stockops_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
    }

    func run() async throws -> HTTPResponse {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.continuation = continuation
                CurlEngine.shared.start(self)
            }
        } onCancel: {
            CurlEngine.shared.cancel(self)
        }
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxResponseBytes else {
            exceededLimit = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    fileprivate func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = HTTPHeaders()
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.add(name, value)
        }
    }

    /// Resumes the waiting caller; called once, on the engine thread.
    func finish(result: CURLcode) {
        guard let continuation else { return }
        self.continuation = nil
        if result == CURLE_OK {
            var code = 0
            stockops_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            continuation.resume(returning: HTTPResponse(status: code, headers: headers, body: body))
        } else {
            continuation.resume(throwing: error(for: result))
        }
    }

    private func error(for result: CURLcode) -> HTTPClientError {
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
        if isCancelled.load(ordering: .acquiring) {
            return HTTPClientError(code: .cancelled, url: url, message: "the request was cancelled")
        }
        if exceededLimit || result == CURLE_FILESIZE_EXCEEDED {
            return HTTPClientError(
                code: .responseTooLarge, url: url,
                message: "the response body exceeds the limit of \(maxResponseBytes) bytes")
        }
        let code: HTTPClientError.Code =
            switch result {
            case CURLE_URL_MALFORMAT: .invalidURL
            case CURLE_UNSUPPORTED_PROTOCOL: .unsupportedProtocol
            case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .couldNotResolveHost
            case CURLE_COULDNT_CONNECT: .couldNotConnect
            case CURLE_OPERATION_TIMEDOUT: .timedOut
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
                CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
                CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_ENGINE_NOTFOUND,
                CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED:
                .tlsFailure
            case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2,
                CURLE_HTTP2_STREAM:
                .connectionLost
            default: .transferFailed
            }
        return HTTPClientError(code: code, url: url, message: message)
    }
}

private func curlWriteBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private func curlWriteHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    return length
}
