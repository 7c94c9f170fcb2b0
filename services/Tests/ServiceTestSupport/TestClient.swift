import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOEmbedded
import ServiceKit
import ServiceLifecycle

/// What the application answered to one request.
public struct TestResponse: Sendable {
    public let head: HTTPResponse
    public var status: HTTPResponse.Status { head.status }
    public var headers: HTTPFields { head.headerFields }
    public let body: ByteBuffer
}

/// Sends one request to an application and returns its whole answer.
public protocol TestClientProtocol: Sendable {
    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse
}

/// Hands requests straight to an application's responder, as its router receives them from the server (with a request
/// id in the logger), with no socket in between. An error the responder throws is a 500, as the server answers it.
public struct RouterTestClient<Responder: HTTPResponder>: TestClientProtocol
where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    let responder: Responder
    let logger: Logger

    public init<App: ApplicationProtocol>(_ application: App) async throws where App.Responder == Responder {
        responder = try await application.responder
        logger = application.logger
    }

    public func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = headers
        if let body { headers[.contentLength] = String(body.readableBytes) }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: "localhost", path: uri, headerFields: headers),
            body: RequestBody(buffer: body ?? ByteBuffer()))
        // As Hummingbird's server does for each request: a logger carrying a new request id.
        var requestLogger = logger
        requestLogger[metadataKey: JSONLogHandler.requestIDKey] = .stringConvertible(RequestID())
        let context = Responder.Context(source: ApplicationRequestContextSource(channel: NIOAsyncTestingChannel(), logger: requestLogger))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            response = Response(status: .internalServerError)
        }
        let collected = CollectedBody()
        try await response.body.write(CollectingWriter(collected: collected))
        return TestResponse(head: response.head, body: await collected.buffer)
    }
}

/// The bytes a response body wrote.
private actor CollectedBody {
    var buffer = ByteBuffer()

    func append(_ part: ByteBuffer) {
        buffer.writeImmutableBuffer(part)
    }
}

private struct CollectingWriter: ResponseBodyWriter {
    let collected: CollectedBody

    func write(_ buffer: ByteBuffer) async throws {
        await collected.append(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Runs `application` on its configured address (port 0: a free one) until `body` returns, and gives `body` the port
/// the server listens on.
public func withLiveServer<App: ApplicationProtocol>(_ application: App, _ body: @Sendable (Int) async throws -> Void) async throws {
    let (ports, announce) = AsyncStream.makeStream(of: Int.self)
    let serviceGroup = ServiceGroup(
        configuration: .init(services: [PortAnnouncingApplication(wrapped: application, announce: announce)], logger: application.logger))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        do {
            guard let port = await ports.first(where: { _ in true }) else {
                throw CancellationError()
            }
            try await body(port)
        } catch {
            await serviceGroup.triggerGracefulShutdown()
            throw error
        }
        await serviceGroup.triggerGracefulShutdown()
        try await group.waitForAll()
    }
}

/// `wrapped`, announcing its listening port once the server runs.
private struct PortAnnouncingApplication<Wrapped: ApplicationProtocol>: ApplicationProtocol {
    typealias Responder = Wrapped.Responder
    let wrapped: Wrapped
    let announce: AsyncStream<Int>.Continuation

    var responder: Responder {
        get async throws { try await wrapped.responder }
    }
    var server: HTTPServerBuilder { wrapped.server }
    var eventLoopGroup: any EventLoopGroup { wrapped.eventLoopGroup }
    var configuration: ApplicationConfiguration { wrapped.configuration }
    var logger: Logger { wrapped.logger }
    var services: [any Service] { wrapped.services }
    var processesRunBeforeServerStart: [@Sendable () async throws -> Void] { wrapped.processesRunBeforeServerStart }

    @Sendable func onServerRunning(_ channel: any Channel) async {
        await wrapped.onServerRunning(channel)
        announce.yield(channel.localAddress?.port ?? 0)
        announce.finish()
    }
}
