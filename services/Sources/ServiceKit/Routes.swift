import Foundation
import Hummingbird

/// One served route, with its path in OpenAPI form (`/stocks/{symbol}`).
public struct RouteDescription: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var method: String
    public var path: String

    public init(method: String, path: String) {
        self.method = method
        self.path = path
    }

    public var description: String { "\(method) \(path)" }

    public static func < (lhs: RouteDescription, rhs: RouteDescription) -> Bool {
        (lhs.path, lhs.method) < (rhs.path, rhs.method)
    }

    /// True when `requestPath` matches this route's path (`{name}` matches one segment).
    func matches(path requestPath: String) -> Bool {
        let pattern = path.split(separator: "/", omittingEmptySubsequences: true)
        let actual = requestPath.split(separator: "/", omittingEmptySubsequences: true)
        guard pattern.count == actual.count else { return false }
        return zip(pattern, actual).allSatisfy { expected, segment in
            expected.hasPrefix("{") || expected == segment
        }
    }
}

/// A request handler of a service.
public typealias RouteHandler = @Sendable (Request, ServiceRequestContext) async throws -> Response

/// The single list of a service's routes: it registers them on the router, answers
/// 405 for known paths with another method, and is what the OpenAPI tests compare with.
public struct RouteTable: Sendable {
    /// Routes in the order added.
    public private(set) var routes: [RouteDescription] = []
    var handlers: [(RouteDescription, RouteHandler)] = []

    public init() {}

    /// Adds a route; `path` uses `{name}` for parameters.
    public mutating func add(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping RouteHandler) {
        let route = RouteDescription(method: method.rawValue, path: path)
        routes.append(route)
        handlers.append((route, handler))
    }

    /// Methods served at `path`, sorted.
    public func allowedMethods(forPath path: String) -> [String] {
        Set(routes.filter { $0.matches(path: path) }.map(\.method)).sorted()
    }

    func register(on router: Router<ServiceRequestContext>) {
        for (route, handler) in handlers {
            let hummingbirdPath = route.path
                .split(separator: "/", omittingEmptySubsequences: true)
                .map { $0.hasPrefix("{") ? ":" + $0.dropFirst().dropLast() : String($0) }
                .joined(separator: "/")
            router.on(RouterPath("/" + hummingbirdPath), method: HTTPRequest.Method(route.method) ?? .get, use: handler)
        }
    }
}

/// The request context of both services: Hummingbird's core storage. Its `id` is the request's `x-request-id`, received
/// or generated (``ServiceMiddleware``).
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies are read by `JSONBody` with its own limit.
    public var maxUploadSize: Int { JSONBody.maximumSize }

    /// A path parameter, percent-decoded.
    public func pathParameter(_ name: String) -> String {
        let raw = parameters.get(name) ?? ""
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        return raw.removingPercentEncoding ?? raw
    }
}
