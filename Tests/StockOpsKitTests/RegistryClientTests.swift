import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// The registry client against a real `docker-registry` started per test.
@Suite("RegistryClient against docker-registry")
struct RegistryClientTests {
    static let alice = RegistryCredentials(username: "alice", password: Secret("correct horse battery"))

    @Test func anOpenRegistryAnswersThePingAndAStoppedOneIsUnreachable() async throws {
        let registry = try await LocalRegistry.start()
        let client = registry.client()
        try await client.ping()
        registry.stop()
        let error = await #expect(throws: RegistryError.self) { try await client.ping() }
        #expect(error?.code == .unreachable, "\(String(describing: error))")
    }

    @Test func pingWithoutCredentialsIsUnauthorized() async throws {
        let registry = try await LocalRegistry.start(.htpasswd(username: "alice", password: "correct horse battery"))
        defer { registry.stop() }
        let error = await #expect(throws: RegistryError.self) { try await registry.client().ping() }
        #expect(error?.code == .unauthorized)
        #expect(error?.status == 401)
        #expect(error?.message.contains("no credentials were given") == true)
    }

    @Test func pingWithWrongPasswordIsUnauthorizedAndHidesIt() async throws {
        let registry = try await LocalRegistry.start(.htpasswd(username: "alice", password: "correct horse battery"))
        defer { registry.stop() }
        let wrong = RegistryCredentials(username: "alice", password: Secret("wrong-password-value"))
        let error = await #expect(throws: RegistryError.self) { try await registry.client(wrong).ping() }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("alice") == true)
        #expect(error.map { "\($0)" }?.contains("wrong-password-value") == false)
    }

    @Test func basicAuthPushAndPull() async throws {
        let registry = try await LocalRegistry.start(.htpasswd(username: "alice", password: "correct horse battery"))
        defer { registry.stop() }
        let client = registry.client(Self.alice)
        try await client.ping()
        let image = HandmadeImage(seed: "basic")
        let pushed = try await image.push(with: client, to: "stocks/trade", tag: "git-abc1234")
        #expect(pushed == image.manifest.digest)
        let manifest = try await client.manifest("stocks/trade", .tag(try RegistryTag.parse("git-abc1234")))
        #expect(manifest == image.manifest)
        let anonymous = await #expect(throws: RegistryError.self) {
            try await registry.client().digest(of: RegistryTag.parse("git-abc1234"), in: "stocks/trade")
        }
        #expect(anonymous?.code == .unauthorized)
    }

    @Test func manifestDigestMatchesTheBytes() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "digest")
        try await image.push(with: client, to: "stocks/stock-listing", tag: "git-1234567")
        let tag = try RegistryTag.parse("git-1234567")

        let manifest = try await client.manifest("stocks/stock-listing", .tag(tag))
        #expect(manifest.mediaType == ImageManifest.ociManifest)
        #expect(manifest.digest == ImageDigest.of(image.manifest.bytes))
        #expect(!manifest.isIndex)
        #expect(try manifest.referencedDigests() == [ImageDigest.of(image.config), ImageDigest.of(image.layer)])

        let byDigest = try await client.manifest("stocks/stock-listing", .digest(manifest.digest))
        #expect(byDigest.bytes == manifest.bytes)

        let descriptor = try #require(try await client.manifestDescriptor("stocks/stock-listing", .tag(tag)))
        #expect(descriptor.digest == manifest.digest)
        #expect(descriptor.mediaType == ImageManifest.ociManifest)
        #expect(descriptor.size == manifest.bytes.count)
        #expect(try await client.digest(of: tag, in: "stocks/stock-listing") == manifest.digest)
    }

    @Test func dockerV2ManifestKeepsItsMediaType() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "docker", mediaType: ImageManifest.dockerManifest)
        try await image.push(with: client, to: "stocks/trade", tag: "git-dddd000")
        let manifest = try await client.manifest("stocks/trade", .tag(try RegistryTag.parse("git-dddd000")))
        #expect(manifest.mediaType == ImageManifest.dockerManifest)
        #expect(manifest.digest == image.manifest.digest)
    }

    @Test func tagsListFollowsLinkPages() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "pages")
        for tag in ["git-aaaaaaa", "git-bbbbbbb", "git-ccccccc"] {
            try await image.push(with: client, to: "stocks/trade", tag: tag)
        }
        let paged = try await client.tags("stocks/trade", pageSize: 1)
        #expect(paged.map(\.name) == ["git-aaaaaaa", "git-bbbbbbb", "git-ccccccc"])
        let whole = try await client.tags("stocks/trade")
        #expect(whole == paged)
    }

    @Test func tagsOfAMissingRepositoryIsNotFound() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let error = await #expect(throws: RegistryError.self) { try await registry.client().tags("stocks/nothing") }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("stocks/nothing") == true)
    }

    @Test func retagByManifestPutKeepsTheDigest() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "promote")
        let built = try await image.push(with: client, to: "stocks/trade", tag: "git-abc1234")

        let stage = try RegistryTag.stage(commit: "abc1234")
        let promoted = try await client.retag("stocks/trade", from: .tag(try RegistryTag.git(commit: "abc1234")), to: stage)
        #expect(promoted == built)
        #expect(try await client.digest(of: stage, in: "stocks/trade") == built)

        let release = try RegistryTag.version("1.4.0")
        #expect(try await client.retag("stocks/trade", from: .digest(built), to: release) == built)
        #expect(try await client.tags("stocks/trade").map(\.name).sorted() == ["git-abc1234", "stage-abc1234", "v1.4.0"])
    }

    @Test func missingTagHasNoDigestAndIsNotFound() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        try await HandmadeImage(seed: "missing").push(with: client, to: "stocks/trade", tag: "git-abc1234")
        let missing = try RegistryTag.parse("git-fffffff")
        #expect(try await client.digest(of: missing, in: "stocks/trade") == nil)
        #expect(try await client.digest(of: missing, in: "stocks/never-pushed") == nil)
        let error = await #expect(throws: RegistryError.self) { try await client.manifest("stocks/trade", .tag(missing)) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("stocks/trade:git-fffffff") == true)
    }

    @Test func ociIndexRoundTrip() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let image = HandmadeImage(seed: "index")
        let manifestDigest = try await image.push(with: client, to: "stocks/trade", tag: "git-abc1234")
        let index = HandmadeImage.index(of: [image.manifest])
        let indexDigest = try await client.putManifest(index, in: "stocks/trade", as: .tag(try RegistryTag.parse("multi")))
        #expect(indexDigest == index.digest)

        let fetched = try await client.manifest("stocks/trade", .tag(try RegistryTag.parse("multi")))
        #expect(fetched.mediaType == ImageManifest.ociIndex)
        #expect(fetched.isIndex)
        #expect(try fetched.referencedDigests() == [manifestDigest])

        let descriptor = try #require(try await client.manifestDescriptor("stocks/trade", .tag(try RegistryTag.parse("multi"))))
        #expect(descriptor.mediaType == ImageManifest.ociIndex)
        #expect(try await client.retag("stocks/trade", from: .digest(indexDigest), to: RegistryTag.parse("multi-copy")) == indexDigest)
    }

    @Test func uploadBlobIsIdempotent() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let data = Data("a small artifact\n".utf8)
        let first = try await client.uploadBlob(data, to: "stocks/artifacts")
        #expect(first == ImageDigest.of(data))
        #expect(try await client.blobExists(first, in: "stocks/artifacts"))
        #expect(try await client.uploadBlob(data, to: "stocks/artifacts") == first)
        #expect(try await client.blobExists(ImageDigest.of(Data("other".utf8)), in: "stocks/artifacts") == false)
    }

    @Test func manifestReferencingMissingBlobsIsRejected() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let image = HandmadeImage(seed: "no blobs")
        let error = await #expect(throws: RegistryError.self) {
            try await registry.client().putManifest(image.manifest, in: "stocks/trade", as: .tag(RegistryTag.parse("broken")))
        }
        #expect(error?.status == 400)
    }

    @Test func closedPortIsUnreachable() async throws {
        let port = try freeLoopbackPort()
        let client = RegistryClient(
            baseURL: "http://127.0.0.1:\(port)",
            http: HTTPClientConfiguration(connectTimeout: .seconds(1), totalTimeout: .seconds(2), retry: .none))
        let error = await #expect(throws: RegistryError.self) { try await client.ping() }
        #expect(error?.code == .unreachable)
    }
}
