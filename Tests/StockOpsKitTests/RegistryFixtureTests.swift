import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// A `docker-registry serve` (the CNCF distribution registry) on a free loopback port, with its storage and
/// configuration in a temporary directory, started for one test and killed by its PID at the end.
/// `apt-get install docker-registry apache2-utils` provides `docker-registry` and `htpasswd`.
final class LocalRegistry: ChildServer, @unchecked Sendable {
    enum Auth {
        case none
        /// HTTP Basic against an htpasswd file made by `htpasswd -Bbn`.
        case htpasswd(username: String, password: String)
        /// The Bearer token flow against a token service at `realm`, whose JWTs are signed by `certificate`'s key.
        case token(realm: String, service: String, issuer: String, certificatePath: String)
    }

    let process = Process()
    let port: Int
    let directory: String
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var host: String { "127.0.0.1:\(port)" }

    static func start(_ auth: Auth = .none) async throws -> LocalRegistry {
        guard let registry = RegistryFixtureSupport.findOnPath("docker-registry") else {
            throw FixtureError(
                "`docker-registry` is not on the PATH: these tests need a real OCI registry; run `apt-get install docker-registry apache2-utils`")
        }
        return try await startChildServer("docker-registry") {
            try LocalRegistry(executable: registry, port: try freeLoopbackPort(), auth: auth)
        } ready: {
            try await $0.waitUntilServing()
        }
    }

    private init(executable: String, port: Int, auth: Auth) throws {
        self.port = port
        directory = NSTemporaryDirectory() + "stockops-registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        var config = """
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
              secret: \(UUID().uuidString)

            """
        switch auth {
        case .none:
            break
        case .htpasswd(let username, let password):
            guard RegistryFixtureSupport.findOnPath("htpasswd") != nil else {
                throw FixtureError("`htpasswd` is not on the PATH; run `apt-get install apache2-utils`")
            }
            let entry = try RegistryFixtureSupport.run(["htpasswd", "-Bbn", username, password])
            try entry.write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            config += """
                auth:
                  htpasswd:
                    realm: stockops-test
                    path: \(directory)/htpasswd

                """
        case .token(let realm, let service, let issuer, let certificatePath):
            config += """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(certificatePath)

                """
        }
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        let log = directory + "/registry.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", directory + "/config.yml"]
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
    }

    private func waitUntilServing() async throws {
        let http = HTTPClient(
            configuration: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            if let response = try? await http.send(HTTPRequest(url: baseURL + "/v2/")),
                response.status == 200 || response.status == 401
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: directory + "/registry.log", encoding: .utf8)) ?? ""
        throw FixtureError("docker-registry at \(baseURL) did not serve /v2/:\n\(log.suffix(2000))")
    }

    func client(_ credentials: RegistryCredentials? = nil) -> RegistryClient {
        RegistryClient(baseURL: baseURL, credentials: credentials, http: RegistryFixtureSupport.httpConfiguration)
    }

    var ownPath: String? { directory }

    deinit { stop() }
}

/// A tiny image made by hand: a config blob, one layer blob and an OCI (or Docker v2) manifest over them.
struct HandmadeImage {
    let config: Data
    let layer: Data
    let manifest: ImageManifest

    init(seed: String, mediaType: String = ImageManifest.ociManifest) {
        layer = Data("layer of \(seed)\n".utf8)
        let layerDigest = ImageDigest.of(layer)
        config = Data(
            #"{"architecture":"amd64","os":"linux","config":{"Labels":{"seed":"\#(seed)"}},"rootfs":{"type":"layers","diff_ids":["\#(layerDigest)"]}}"#
                .utf8)
        let docker = mediaType == ImageManifest.dockerManifest
        let configType = docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json"
        let layerType = docker ? "application/vnd.docker.image.rootfs.diff.tar" : "application/vnd.oci.image.layer.v1.tar"
        let body = """
            {"schemaVersion":2,"mediaType":"\(mediaType)","config":{"mediaType":"\(configType)","digest":"\(ImageDigest.of(config))","size":\(config.count)},"layers":[{"mediaType":"\(layerType)","digest":"\(layerDigest)","size":\(layer.count)}]}
            """
        manifest = ImageManifest(mediaType: mediaType, bytes: Data(body.utf8))
    }

    /// Uploads the blobs and puts the manifest under `tag`.
    @discardableResult
    func push(with client: RegistryClient, to repository: String, tag: String) async throws -> ImageDigest {
        try await client.uploadBlob(config, to: repository)
        try await client.uploadBlob(layer, to: repository)
        return try await client.putManifest(manifest, in: repository, as: .tag(try RegistryTag.parse(tag)))
    }

    /// An OCI index listing `manifests`.
    static func index(of manifests: [ImageManifest]) -> ImageManifest {
        let entries = manifests.map {
            #"{"mediaType":"\#($0.mediaType)","digest":"\#($0.digest)","size":\#($0.bytes.count),"platform":{"architecture":"amd64","os":"linux"}}"#
        }
        let body = #"{"schemaVersion":2,"mediaType":"\#(ImageManifest.ociIndex)","manifests":[\#(entries.joined(separator: ","))]}"#
        return ImageManifest(mediaType: ImageManifest.ociIndex, bytes: Data(body.utf8))
    }
}

enum RegistryFixtureSupport {
    static let httpConfiguration = HTTPClientConfiguration(
        connectTimeout: .seconds(2), totalTimeout: .seconds(10),
        retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(20), maxDelay: .milliseconds(100)))

    static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `argv` (looked up in PATH, no shell) and returns its standard output; throws on a non-zero exit.
    static func run(_ argv: [String], directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError("\(argv.first ?? "") exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

}

@Suite("docker-registry fixture")
struct RegistryFixtureTests {
    @Test func startsServingAndStopsByPID() async throws {
        let registry = try await LocalRegistry.start()
        let pid = registry.process.processIdentifier
        try await registry.client().ping()
        registry.stop()
        #expect(kill(pid, 0) != 0)
        #expect(!FileManager.default.fileExists(atPath: registry.directory))
    }
}
