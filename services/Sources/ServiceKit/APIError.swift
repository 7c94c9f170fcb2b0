import Hummingbird

/// An error answered as `{"error":"<code>","detail":"<text>"}` with its HTTP status.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status of the response.
    public var status: HTTPResponse.Status
    /// Machine-readable code, e.g. `not_found`.
    public var code: String
    /// Human-readable explanation.
    public var detail: String
    /// Extra response headers (e.g. `Allow` on 405).
    public var headers: HTTPFields

    public init(status: HTTPResponse.Status, code: String, detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    /// 404 `not_found`.
    public static func notFound(_ detail: String) -> APIError {
        APIError(status: .notFound, code: "not_found", detail: detail)
    }

    /// 422 `validation_error`.
    public static func validation(_ detail: String) -> APIError {
        APIError(status: .unprocessableContent, code: "validation_error", detail: detail)
    }

    /// 409 with the given code.
    public static func conflict(_ code: String, _ detail: String) -> APIError {
        APIError(status: .conflict, code: code, detail: detail)
    }

    /// 400 `invalid_json`.
    public static func invalidJSON(_ detail: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_json", detail: detail)
    }

    /// 500 `internal_error`, without internal detail.
    public static let internalError = APIError(
        status: .internalServerError, code: "internal_error", detail: "internal server error")

    /// 503 `database_unavailable`.
    public static let databaseUnavailable = APIError(
        status: .serviceUnavailable, code: "database_unavailable", detail: "the database cannot be reached")

    /// The JSON body of this error.
    public var body: String {
        var writer = JSONWriter(capacity: 64 + detail.utf8.count)
        writer.beginObject()
        writer.field("error", code)
        writer.field("detail", detail)
        writer.endObject()
        return writer.output
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The response for this error.
    public func response() -> Response {
        var response = Response.json(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    /// The code used for a plain HTTP status.
    public static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "validation_error"
        case 503: "service_unavailable"
        default: status.code >= 500 ? "internal_error" : "http_error"
        }
    }
}

extension Response {
    /// A response with a JSON body.
    public static func json(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        json(ByteBuffer(string: body), status: status)
    }

    /// A JSON response whose body is the document `writer` built.
    public static func json(_ writer: JSONWriter, status: HTTPResponse.Status = .ok) -> Response {
        json(writer.bytes, status: status)
    }

    private static func json(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }
}
