import Foundation
import Testing

@testable import StockOpsKit

@Suite("ImageDigest and SHA-256")
struct RegistryDigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(input: String, hex: String) {
        #expect(ImageDigest.of(Array(input.utf8)).description == "sha256:" + hex)
    }

    @Test func blockBoundariesAgreeWithSha256sum() throws {
        let directory = NSTemporaryDirectory() + "stockops-sha-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for length in [1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_001] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let path = directory + "/\(length)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let expected = try RegistryFixtureSupport.run(["sha256sum", path]).prefix(64)
            #expect(ImageDigest.of(bytes).hex == String(expected), "length \(length)")
        }
    }

    @Test func validation() throws {
        let hex = String(repeating: "ab", count: 32)
        #expect(ImageDigest("sha256:" + hex)?.hex == hex)
        #expect(ImageDigest("sha256:" + hex.uppercased()) == nil)
        #expect(ImageDigest("sha256:" + hex.dropLast()) == nil)
        #expect(ImageDigest("sha512:" + hex) == nil)
        #expect(ImageDigest(hex) == nil)
        #expect(ImageDigest("sha256:" + hex.dropLast() + "g") == nil)
        #expect(throws: ImageReferenceError(.invalidDigest, "\"sha256:x\" is not a sha256 digest (sha256:<64 lowercase hex digits>)")) {
            try ImageDigest.parse("sha256:x")
        }
        let digest = try ImageDigest.parse("sha256:" + hex)
        let encoded = try JSONEncoder().encode([digest])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"sha256:\(hex)\"]")
        #expect(try JSONDecoder().decode([ImageDigest].self, from: encoded) == [digest])
        #expect(digest.short() == "abababababab")
    }
}

@Suite("RegistryTag")
struct RegistryTagTests {
    @Test func validation() {
        #expect(RegistryTag("git-abc1234") != nil)
        #expect(RegistryTag("_private.v1-2") != nil)
        #expect(RegistryTag(String(repeating: "a", count: 128)) != nil)
        #expect(RegistryTag(String(repeating: "a", count: 129)) == nil)
        #expect(RegistryTag("") == nil)
        #expect(RegistryTag("-leading") == nil)
        #expect(RegistryTag(".leading") == nil)
        #expect(RegistryTag("has space") == nil)
        #expect(RegistryTag("a/b") == nil)
        #expect(RegistryTag("a:b") == nil)
        #expect(RegistryTag("ünï") == nil)
    }

    @Test func pipelineTags() throws {
        let sha = "ABC1234DEF5678ABC1234DEF5678ABC1234DEF56"
        #expect(try RegistryTag.git(commit: sha).name == "git-abc1234")
        #expect(try RegistryTag.dev(commit: sha).name == "dev-abc1234")
        #expect(try RegistryTag.stage(commit: "abc1234").name == "stage-abc1234")
        #expect(throws: ImageReferenceError.self) { try RegistryTag.git(commit: "abc12") }
        #expect(throws: ImageReferenceError.self) { try RegistryTag.git(commit: "xyz1234") }
    }

    @Test func versions() throws {
        #expect(try RegistryTag.version("1.2.3").name == "v1.2.3")
        #expect(try RegistryTag.version("v10.0.1").name == "v10.0.1")
        #expect(try RegistryTag.version("1.2.3-rc.1").name == "v1.2.3-rc.1")
        for invalid in ["1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3+build.5", "1.2.3-", "1.2.3-rc..1", ""] {
            #expect(throws: ImageReferenceError.self, "\(invalid)") { try RegistryTag.version(invalid) }
        }
    }
}

@Suite("ImageReference")
struct RegistryReferenceTests {
    let digest = "sha256:" + String(repeating: "0123456789abcdef", count: 4)

    @Test func parsesHostPortProjectServiceTag() throws {
        let reference = try ImageReference.parse("harbor.example.com:8443/stocks/trade:git-abc1234")
        #expect(reference.registry == "harbor.example.com:8443")
        #expect(reference.repository == "stocks/trade")
        #expect(reference.tag?.name == "git-abc1234")
        #expect(reference.digest == nil)
        #expect(reference.description == "harbor.example.com:8443/stocks/trade:git-abc1234")
        #expect(reference.name == "harbor.example.com:8443/stocks/trade")
        #expect(reference.manifestReference == .tag(try RegistryTag.parse("git-abc1234")))
    }

    @Test func parsesDigests() throws {
        let pinned = try ImageReference.parse("127.0.0.1:5000/stocks/trade@" + digest)
        #expect(pinned.registry == "127.0.0.1:5000")
        #expect(pinned.tag == nil)
        #expect(pinned.digest?.description == digest)
        #expect(pinned.description == "127.0.0.1:5000/stocks/trade@" + digest)

        let both = try ImageReference.parse("localhost/stocks/trade:v1.0.0@" + digest)
        #expect(both.registry == "localhost")
        #expect(both.tag?.name == "v1.0.0")
        #expect(both.manifestReference == .digest(try ImageDigest.parse(digest)))
        #expect(try both.pinned().description == "localhost/stocks/trade@" + digest)
    }

    @Test func withoutRegistry() throws {
        let reference = try ImageReference.parse("stocks/trade:latest")
        #expect(reference.registry == nil)
        #expect(reference.repository == "stocks/trade")
        #expect(ImageReference("trade")?.repository == "trade")
    }

    @Test(arguments: [
        "", "Stocks/trade:tag", "stocks//trade", "stocks/trade:", "stocks/trade:-bad", "stocks/trade@sha256:abc",
        "stocks/-trade", "stocks/trade_", "stocks/tr___ade", "harbor.example.com:99999/stocks/trade", "host:/x",
        "stocks/trade@md5:" + String(repeating: "0", count: 32),
    ])
    func rejectsInvalid(text: String) {
        #expect(ImageReference(text) == nil)
    }

    @Test func acceptsSeparators() {
        for repository in ["ab/c_d/e__f/g-h/i---j", "stocks/trade2", "0/1", "a.b"] {
            #expect(ImageReference(repository)?.repository == repository)
        }
        #expect(ImageReference("a.b/c")?.registry == "a.b")
        #expect((try? ImageReference(registry: nil, repository: "a.b/c_d"))?.repository == "a.b/c_d")
    }

    @Test func tagOnlyReferenceCannotBePinned() throws {
        let reference = try ImageReference.parse("harbor.example.com/stocks/trade:git-abc1234")
        #expect(throws: ImageReferenceError.self) { try reference.pinned() }
        let pinned = reference.pinned(to: try ImageDigest.parse(digest))
        #expect(pinned.description == "harbor.example.com/stocks/trade@" + digest)
        #expect(pinned.reference.tag == nil)
        #expect(reference.tagged(try RegistryTag.parse("stage-abc1234")).description == "harbor.example.com/stocks/trade:stage-abc1234")
    }
}

@Suite("Registry protocol details")
struct RegistryProtocolTests {
    @Test func parsesBearerChallenge() {
        let header = #"Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:stocks/trade:pull,push""#
        #expect(
            RegistryChallenge.parse(header)
                == .bearer(
                    realm: "https://harbor.example.com/service/token", service: "harbor-registry",
                    scope: "repository:stocks/trade:pull,push"))
        #expect(
            RegistryChallenge.parse(#"Bearer realm="https://auth.example/token""#) == .bearer(realm: "https://auth.example/token", service: nil, scope: nil))
        #expect(RegistryChallenge.parse(#"Basic realm="stockops""#) == .basic(realm: "stockops"))
        #expect(RegistryChallenge.parse("bearer service=x") == nil)
        #expect(RegistryChallenge.parse("Negotiate abc") == nil)
        #expect(RegistryChallenge.parse("") == nil)
    }

    @Test func parsesLinkHeader() {
        #expect(
            RegistryClient.nextLink([#"</v2/stocks/trade/tags/list?last=git-aaaaaaa&n=1>; rel="next""#])
                == "/v2/stocks/trade/tags/list?last=git-aaaaaaa&n=1")
        #expect(RegistryClient.nextLink([#"<https://h/a?page=1>; rel="prev", <https://h/a?page=3>; rel=next"#]) == "https://h/a?page=3")
        #expect(RegistryClient.nextLink([#"<https://h/a?page=1>; rel="prev""#]) == nil)
        #expect(RegistryClient.nextLink([]) == nil)
    }

    @Test func verifierDetectsDigestMismatch() throws {
        let bytes = Data(#"{"schemaVersion":2}"#.utf8)
        let right = ImageDigest.of(bytes)
        let wrong = ImageDigest.of(Data("tampered".utf8))
        let manifest = try ImageManifest.verified(mediaType: ImageManifest.ociManifest, bytes: bytes, claimed: [right], source: "x")
        #expect(manifest.digest == right)
        let error = #expect(throws: RegistryError.self) {
            try ImageManifest.verified(mediaType: ImageManifest.ociManifest, bytes: bytes, claimed: [right, wrong], source: "stocks/trade:git-abc1234")
        }
        #expect(error?.code == .invalidDigest)
        #expect(error?.message.contains("stocks/trade:git-abc1234") == true)
    }

    @Test func credentialsNeverPrint() {
        let credentials = RegistryCredentials(username: "robot$ci", password: Secret("hunter2-token"))
        #expect(!"\(credentials)".contains("hunter2-token"))
        #expect(credentials.basicAuthorization == "Basic " + Data("robot$ci:hunter2-token".utf8).base64EncodedString())
    }
}
