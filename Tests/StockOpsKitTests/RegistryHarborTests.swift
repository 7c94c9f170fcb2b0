import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// Harbor's own API, checked against a stand-in that asserts the request shapes Harbor's API documentation gives.
@Suite("HarborClient contract")
struct RegistryHarborTests {
    static let robot = RegistryCredentials(username: "robot$stockops", password: Secret("robot-secret-value"))

    func client(_ fake: HarborFake, credentials: RegistryCredentials? = robot) -> HarborClient {
        HarborClient(baseURL: fake.baseURL, credentials: credentials, http: RegistryFixtureSupport.httpConfiguration)
    }

    @Test func listsArtifactsWithTagsAcrossPages() async throws {
        let fake = try await HarborFake.start(username: Self.robot.username, password: Self.robot.password.reveal())
        defer { fake.stop() }
        let artifacts = try await client(fake).artifacts(project: "stocks", repository: "trade", pageSize: 1)
        #expect(artifacts.count == 2)
        #expect(artifacts[0].digest.description == "sha256:" + String(repeating: "ab", count: 32))
        #expect(artifacts[0].tagNames.map(\.name) == ["git-abc1234"])
        #expect(artifacts[0].manifestMediaType == ImageManifest.ociManifest)
        #expect(artifacts[0].tags.first?.immutable == false)
        #expect(artifacts[1].tags.isEmpty)

        let paths = try await fake.requests().map(\.path)
        #expect(
            paths == [
                "/api/v2.0/projects/stocks/repositories/trade/artifacts?with_tag=true&page=1&page_size=1",
                "/api/v2.0/projects/stocks/repositories/trade/artifacts?with_tag=true&page=2&page_size=1",
            ])
    }

    @Test func nestedRepositoryNameIsEncodedTwice() {
        let harbor = HarborClient(baseURL: "https://harbor.example.com/", credentials: nil)
        #expect(
            harbor.repositoryURL(project: "stocks", repository: "team/trade")
                == "https://harbor.example.com/api/v2.0/projects/stocks/repositories/team%252Ftrade")
    }

    @Test func addsATagWithTheDocumentedBody() async throws {
        let fake = try await HarborFake.start(username: Self.robot.username, password: Self.robot.password.reveal())
        defer { fake.stop() }
        let harbor = client(fake)
        let digest = try ImageDigest.parse("sha256:" + String(repeating: "ab", count: 32))
        try await harbor.addTag(try RegistryTag.stage(commit: "abc1234"), project: "stocks", repository: "trade", reference: .digest(digest))

        let request = try #require(try await fake.requests().last)
        #expect(request.method == "POST")
        #expect(request.path == "/api/v2.0/projects/stocks/repositories/trade/artifacts/\(digest)/tags")
        #expect(request.contentType == "application/json")
        #expect(request.body == #"{"name":"stage-abc1234"}"#)

        let artifact = try await harbor.artifact(project: "stocks", repository: "trade", reference: .tag(try RegistryTag.parse("stage-abc1234")))
        #expect(artifact.digest == digest)
        #expect(artifact.tagNames.map(\.name) == ["git-abc1234", "stage-abc1234"])

        let again = await #expect(throws: RegistryError.self) {
            try await harbor.addTag(RegistryTag.stage(commit: "abc1234"), project: "stocks", repository: "trade", reference: .digest(digest))
        }
        #expect(again?.code == .conflict)
    }

    @Test func errorsCarryCodes() async throws {
        let fake = try await HarborFake.start(username: Self.robot.username, password: Self.robot.password.reveal())
        defer { fake.stop() }
        let missing = await #expect(throws: RegistryError.self) {
            try await client(fake).artifact(project: "stocks", repository: "trade", reference: .tag(RegistryTag.parse("git-0000000")))
        }
        #expect(missing?.code == .notFound)
        let anonymous = await #expect(throws: RegistryError.self) {
            try await client(fake, credentials: nil).artifacts(project: "stocks", repository: "trade")
        }
        #expect(anonymous?.code == .unauthorized)
        #expect(anonymous.map { "\($0)" }?.contains("robot-secret-value") == false)
    }
}

/// The Bearer token flow Harbor uses, against a real `docker-registry` configured with `auth.token`, whose tokens
/// come from the stand-in's token service.
@Suite("RegistryClient Bearer token flow")
struct RegistryBearerTests {
    static let alice = RegistryCredentials(username: "alice", password: Secret("token-flow-password"))

    func start() async throws -> (LocalRegistry, HarborFake, TokenSigningCertificate) {
        let certificate = try TokenSigningCertificate()
        let fake = try await HarborFake.start(
            username: Self.alice.username, password: Self.alice.password.reveal(), signing: certificate)
        do {
            let registry = try await LocalRegistry.start(
                .token(
                    realm: fake.tokenRealm, service: "harbor-registry", issuer: "stockops-test-issuer",
                    certificatePath: certificate.certificatePath))
            return (registry, fake, certificate)
        } catch {
            fake.stop()
            certificate.remove()
            throw error
        }
    }

    @Test func pushPullAndRetagWithTokensCachedPerScope() async throws {
        let (registry, fake, certificate) = try await start()
        defer {
            registry.stop()
            fake.stop()
            certificate.remove()
        }
        let client = registry.client(Self.alice)
        try await client.ping()
        let image = HandmadeImage(seed: "bearer")
        let digest = try await image.push(with: client, to: "stocks/trade", tag: "git-abc1234")
        #expect(try await client.retag("stocks/trade", from: .digest(digest), to: RegistryTag.parse("dev-abc1234")) == digest)
        let tags = try await client.tags("stocks/trade", pageSize: 1)
        #expect(tags.map(\.name).sorted() == ["dev-abc1234", "git-abc1234"])

        let tokenRequests = try await fake.requests().filter { $0.path.hasPrefix("/service/token") }.map(\.path)
        #expect(
            tokenRequests == [
                "/service/token?service=harbor-registry",
                "/service/token?service=harbor-registry&scope=repository%3Astocks%2Ftrade%3Apull",
                "/service/token?service=harbor-registry&scope=repository%3Astocks%2Ftrade%3Apull%2Cpush",
            ])
    }

    @Test func withoutCredentialsTheTokenServiceRefuses() async throws {
        let (registry, fake, certificate) = try await start()
        defer {
            registry.stop()
            fake.stop()
            certificate.remove()
        }
        let error = await #expect(throws: RegistryError.self) { try await registry.client().tags("stocks/trade") }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("requires credentials") == true)

        let wrong = RegistryCredentials(username: "alice", password: Secret("not-the-password"))
        let refused = await #expect(throws: RegistryError.self) { try await registry.client(wrong).ping() }
        #expect(refused?.code == .unauthorized)
        #expect(refused?.message.contains("refused the credentials of alice") == true)
    }
}
