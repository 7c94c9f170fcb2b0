import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Postgres

/// The one middleware in front of every route: assigns the request id (a valid received `x-request-id`, else the id
/// Hummingbird gave the request's logger; echoed back and logged as `request_id`), turns every error into
/// the JSON error body (404 and 405 included; unexpected errors become a 500 without internal detail), records metrics
/// and writes the access log: one line per request at info (warning for 503, error for other 5xx), with the method,
/// route template, path, status, duration in milliseconds (a number) and request id; the probes of health checks and
/// scrapers (``probeRoutes``) at debug unless they fail.
public struct ServiceMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext

    let routes: RouteTable
    let metrics: ServiceMetrics

    public init(routes: RouteTable, metrics: ServiceMetrics) {
        self.routes = routes
        self.metrics = metrics
    }

    public func handle(
        _ request: Request, context: ServiceRequestContext,
        next: (Request, ServiceRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        let requestID: String
        if let received = Self.validRequestID(request.headers[.requestID]) {
            requestID = received
            context.logger[metadataKey: JSONLogHandler.requestIDKey] = .string(received)
        } else {
            requestID = context.id
        }

        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(for: error, request: request, context: context).response()
        }
        response.headers[.requestID] = requestID

        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        let elapsed = ContinuousClock.now - start
        metrics.record(route: route, method: request.method.rawValue, status: response.status.code, duration: elapsed)
        let level = Self.accessLogLevel(route: route, status: response.status.code)
        if context.logger.logLevel <= level {
            let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            context.logger.log(
                level: level, "request",
                metadata: [
                    "method": .string(request.method.rawValue),
                    "route": .string(route),
                    "path": .string(request.uri.path),
                    "status": .stringConvertible(response.status.code),
                    "duration_ms": .stringConvertible((milliseconds * 1000).rounded() / 1000),
                ])
        }
        return response
    }

    /// Routes polled by health checks, the proxy and metric scrapers.
    public static let probeRoutes: Set<String> = ["/livez", "/readyz", "/health", "/metrics"]

    static func accessLogLevel(route: String, status: Int) -> Logger.Level {
        switch status {
        case 503: .warning
        case 500...: .error
        default: probeRoutes.contains(route) ? .debug : .info
        }
    }

    func errorResponse(for error: any Error, request: Request, context: ServiceRequestContext) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            if error.status == .notFound, context.endpointPath == "NotFound" || context.endpointPath == nil {
                let allowed = routes.allowedMethods(forPath: request.uri.path)
                if !allowed.isEmpty {
                    return APIError(
                        status: .methodNotAllowed, code: "method_not_allowed",
                        detail: "method \(request.method.rawValue) not allowed on \(request.uri.path)",
                        headers: [.allow: allowed.joined(separator: ", ")])
                }
                return APIError.notFound("no route for \(request.method.rawValue) \(request.uri.path)")
            }
            if error.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": .string("\(error)")])
                return APIError(status: error.status, code: APIError.code(for: error.status), detail: error.status.reasonPhrase)
            }
            return APIError(
                status: error.status, code: APIError.code(for: error.status),
                detail: error.body ?? error.status.reasonPhrase)
        case is NIOTooManyBytesError:
            return JSONBody.tooLarge
        case let error as PostgresError
        where error.isConnectionError || error.code == .poolClosed || error.code == .timeout
            || error.code == .cancelled:
            context.logger.error("database unavailable", metadata: ["error": .string(error.description)])
            return .databaseUnavailable
        case let error as any HTTPResponseError where error.status.code < 500:
            return APIError(status: error.status, code: APIError.code(for: error.status), detail: error.status.reasonPhrase)
        default:
            context.logger.error("unexpected error", metadata: ["error": .string(String(describing: error))])
            return .internalError
        }
    }

    /// The received id when it is 1–128 characters of `[A-Za-z0-9._:-]`, otherwise nil.
    static func validRequestID(_ header: String?) -> String? {
        guard let header, !header.isEmpty, header.utf8.count <= 128,
            header.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x3A || byte == 0x2D
            })
        else { return nil }
        return header
    }
}

extension HTTPField.Name {
    /// `x-request-id`.
    public static let requestID = HTTPField.Name("x-request-id")!
}
