import Foundation
import Testing

@testable import StockOpsKit

/// Native signatures checked by an independent implementation, Python's `cryptography` (`pip install cryptography`),
/// and the other way round. A missing python3 or `cryptography` fails these tests.
@Suite("Native signatures against Python cryptography")
struct NativeSignaturePythonTests {
    static let verifyScript = """
        import base64, sys
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
        key.verify(base64.b64decode(open(sys.argv[3]).read()), open(sys.argv[2], "rb").read(), ec.ECDSA(hashes.SHA256()))
        print("verified")
        """

    static let signScript = """
        import base64, sys
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        signature = key.sign(open(sys.argv[1], "rb").read(), ec.ECDSA(hashes.SHA256()))
        open(sys.argv[2], "wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        open(sys.argv[3], "w").write(base64.b64encode(signature).decode())
        """

    static func image(_ seed: String) throws -> PinnedImageReference {
        try ImageReference.parse("registry.example.com:5000/stocks/trade").pinned(to: ImageDigest.of(Data(seed.utf8)))
    }

    static func python(_ script: String, _ arguments: [String]) async throws -> ToolResult {
        try await runTool(["python3", "-c", script] + arguments)
    }

    @Test func aNativeSignatureVerifiesWithPythonCryptography() async throws {
        let key = try CosignPrivateKey(pem: try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem"), password: Secret("hello"))
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let payload = SimpleSigningPayload(image: try Self.image("python verifies")).bytes
        try key.publicKeyPEM.write(toFile: directory + "/key.pub", atomically: true, encoding: .utf8)
        try payload.write(to: URL(fileURLWithPath: directory + "/payload.json"))
        try key.signature(of: payload).write(toFile: directory + "/signature", atomically: true, encoding: .utf8)
        let verified = try await Self.python(Self.verifyScript, [directory + "/key.pub", directory + "/payload.json", directory + "/signature"])
        #expect(verified.status == 0, "python3 cryptography did not verify: \(verified.output)")
        #expect(verified.output.contains("verified"))

        try Data(payload.dropLast()).write(to: URL(fileURLWithPath: directory + "/payload.json"))
        let tampered = try await Self.python(Self.verifyScript, [directory + "/key.pub", directory + "/payload.json", directory + "/signature"])
        #expect(tampered.status != 0)
        #expect(tampered.output.contains("InvalidSignature"))
    }

    /// scripts/lib/cosign_keypair.py (the sandbox's key pair: hashlib scrypt, libsodium secretbox through ctypes).
    @Test func theKeyPairScriptWritesKeysThatOpenNatively() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let directory = temporaryDirectory() + "/keys"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        var environment = ProcessInfo.processInfo.environment
        environment["COSIGN_PASSWORD"] = "sandbox password"
        let made = try await runTool(["python3", root + "/scripts/lib/cosign_keypair.py", directory], environment: environment)
        try #require(made.status == 0, "cosign_keypair.py failed: \(made.output)")
        let pem = try String(contentsOfFile: directory + "/cosign.key", encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
        #expect(try String(contentsOfFile: directory + "/cosign.password", encoding: .utf8) == "sandbox password")
        let key = try CosignPrivateKey(pem: pem, password: Secret("sandbox password"))
        let publicKey = try CosignVerifier(publicKeysPEM: try String(contentsOfFile: directory + "/cosign.pub", encoding: .utf8))
        let payload = SimpleSigningPayload(image: try Self.image("sandbox")).bytes
        #expect(try publicKey.signer(of: payload, signature: try key.signature(of: payload)) == 0)
        let wrong = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: pem, password: Secret("another")) }
        #expect(wrong?.code == .wrongPassword)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/cosign.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aPythonSignatureVerifiesNatively() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let image = try Self.image("native verifies")
        let payload = SimpleSigningPayload(image: image).bytes
        try payload.write(to: URL(fileURLWithPath: directory + "/payload.json"))
        let signed = try await Self.python(Self.signScript, [directory + "/payload.json", directory + "/key.pub", directory + "/signature"])
        try #require(signed.status == 0, "python3 cryptography could not sign: \(signed.output)")
        let verifier = try CosignVerifier(publicKeysPEM: try String(contentsOfFile: directory + "/key.pub", encoding: .utf8))
        let signature = try String(contentsOfFile: directory + "/signature", encoding: .utf8)
        let verified = try verifier.verify(payload: payload, signature: signature, digest: image.digest)
        #expect(verified.payload.dockerReference == "registry.example.com:5000/stocks/trade")
        let other = #expect(throws: SigningError.self) {
            try verifier.verify(payload: SimpleSigningPayload(image: try Self.image("another")).bytes, signature: signature, digest: image.digest)
        }
        #expect(other?.code == .invalidSignature)
    }
}

/// Native signing and verification against a real `docker-registry`.
@Suite("Native signing against docker-registry")
struct NativeSigningRegistryTests {
    static func fixtureKey(_ file: String, password: String) throws -> CosignPrivateKey {
        try CosignPrivateKey(pem: try CosignFixtures.text(file), password: Secret(password))
    }

    static func pushed(_ seed: String, to registry: LocalRegistry) async throws -> PinnedImageReference {
        let image = HandmadeImage(seed: seed)
        let digest = try await image.push(with: registry.client(), to: "stocks/trade", tag: "git-" + String(ImageDigest.of(Data(seed.utf8)).hex.prefix(7)))
        return try ImageReference.parse("\(registry.host)/stocks/trade").pinned(to: digest)
    }

    @Test func signsAppendsAndVerifies() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let first = try Self.fixtureKey("encrypted-sigstore-key-password-hello.pem", password: "hello")
        let second = try Self.fixtureKey("encrypted-sigstore-key-empty-password-N65536.pem", password: "")
        let image = try await Self.pushed("signed", to: registry)
        let firstOnly = NativeVerifier(verifier: CosignVerifier(publicKeys: [first.signingKey.publicKey]), registry: registry.client())

        let unsigned = await #expect(throws: SigningError.self) { try await firstOnly.verify(image: image) }
        #expect(unsigned?.code == .unsigned)

        let signed = try await NativeSigner(key: first, registry: registry.client()).sign(image)
        #expect(signed.appended)
        #expect(signed.signatureCount == 1)
        #expect(signed.tag.name == "sha256-\(image.digest.hex).sig")
        let verification = try await firstOnly.verify(image: image)
        #expect(verification.verified.map(\.keyIndex) == [0])
        #expect(verification.verified.first?.payload == SimpleSigningPayload(image: image))
        #expect(verification.rejected.isEmpty)
        #expect(verification.signatureManifest == signed.manifest)

        let again = try await NativeSigner(key: first, registry: registry.client()).sign(image)
        #expect(!again.appended)
        #expect(again.signatureCount == 1)
        #expect(again.manifest == signed.manifest)

        let appended = try await NativeSigner(key: second, registry: registry.client()).sign(image)
        #expect(appended.appended)
        #expect(appended.signatureCount == 2)
        let mixed = try await firstOnly.verify(image: image)
        #expect(mixed.verified.count == 1)
        #expect(mixed.rejected.count == 1)
        #expect(mixed.rejected.first?.reason.contains("did not make this signature") == true)
        let both = NativeVerifier(
            verifier: CosignVerifier(publicKeys: [first.signingKey.publicKey, second.signingKey.publicKey]), registry: registry.client())
        #expect(try await both.verify(image: image).verified.map(\.keyIndex) == [0, 1])
    }

    @Test func theSignatureManifestIsCosigns() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let key = try Self.fixtureKey("encrypted-cosign-key-password-hello.pem", password: "hello")
        let image = try await Self.pushed("layout", to: registry)
        let signed = try await NativeSigner(key: key, registry: registry.client()).sign(image)
        let manifest = try await registry.client().manifest("stocks/trade", .tag(signed.tag))
        #expect(manifest.mediaType == ImageManifest.ociManifest)
        struct Body: Decodable {
            struct Descriptor: Decodable {
                var mediaType: String
                var digest: ImageDigest
                var size: Int
                var annotations: [String: String]?
            }
            var schemaVersion: Int
            var mediaType: String
            var config: Descriptor
            var layers: [Descriptor]
        }
        let body = try JSONDecoder().decode(Body.self, from: manifest.bytes)
        #expect(body.schemaVersion == 2)
        #expect(body.config.mediaType == "application/vnd.oci.image.config.v1+json")
        #expect(body.layers.count == 1)
        let layer = try #require(body.layers.first)
        #expect(layer.mediaType == "application/vnd.dev.cosign.simplesigning.v1+json")
        let payload = try await registry.client().blob(layer.digest, in: "stocks/trade")
        #expect(payload == SimpleSigningPayload(image: image).bytes)
        #expect(layer.size == payload.count)
        let signature = try #require(layer.annotations?["dev.cosignproject.cosign/signature"])
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text("encrypted-cosign-key-password-hello.pub"))
        #expect(try verifier.verify(payload: payload, signature: signature, digest: image.digest).keyIndex == 0)
        #expect(try await registry.client().blobExists(body.config.digest, in: "stocks/trade"))
    }

    /// cosign's own signatures (the vectors), laid out in the registry as cosign stores them, verified through it.
    @Test func cosignMadeSignaturesVerifyThroughTheRegistry() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        // Two valid signatures and one by an unknown key, all over the same payload.
        let vectors = CosignFixtures.vectors.signatures.filter { $0.public_key_file == "cosign.pub" }
        try #require(vectors.map(\.verifies) == [true, true, false])
        var signatures = CosignSignatureManifest()
        for vector in vectors {
            let payload = Data(vector.payload.utf8)
            try await client.uploadBlob(payload, to: "cosign/signed")
            signatures.layers.append(.init(size: payload.count, digest: ImageDigest.of(payload), annotations: vector.layer_annotations))
        }
        let digest = try SimpleSigningPayload.parse(Data(try #require(vectors.first).payload.utf8)).digest
        try await client.uploadBlob(signatures.config, to: "cosign/signed")
        try await client.putManifest(signatures.manifest, in: "cosign/signed", as: .tag(CosignSignatureManifest.tag(for: digest)))
        let verifier = NativeVerifier(verifier: try CosignVerifier(publicKeysPEM: try CosignFixtures.text("cosign.pub")), registry: client)
        let image = try ImageReference.parse("\(registry.host)/cosign/signed").pinned(to: digest)
        let verification = try await verifier.verify(image: image)
        #expect(verification.verified.count == 2)
        #expect(verification.rejected.count == 1)
        #expect(verification.rejected.first?.reason == "the key did not make this signature")
        #expect(verification.verified.allSatisfy { $0.payload.dockerReference == "192.168.64.2:5000/cosign-signed-single-sample" })
    }

    @Test func aSignatureMovedToAnotherDigestIsRejected() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let key = try Self.fixtureKey("encrypted-sigstore-key-password-hello.pem", password: "hello")
        let signedImage = try await Self.pushed("genuine", to: registry)
        let otherImage = try await Self.pushed("tampered", to: registry)
        let client = registry.client()
        try await NativeSigner(key: key, registry: client).sign(signedImage)
        let stolen = try await client.manifest("stocks/trade", .tag(CosignSignatureManifest.tag(for: signedImage.digest)))
        try await client.putManifest(stolen, in: "stocks/trade", as: .tag(CosignSignatureManifest.tag(for: otherImage.digest)))
        let verifier = NativeVerifier(verifier: CosignVerifier(publicKeys: [key.signingKey.publicKey]), registry: client)
        let error = await #expect(throws: SigningError.self) { try await verifier.verify(image: otherImage) }
        #expect(error?.code == .unsigned)
        #expect(error?.message.contains("is for \(signedImage.digest), not \(otherImage.digest)") == true)
        #expect(try await verifier.verify(image: signedImage).verified.count == 1)
    }

    @Test func anImageThatWasNotPushedIsNotSigned() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let key = CosignPrivateKey(signingKey: P256.Signing.PrivateKey())
        let pushed = try await Self.pushed("present", to: registry)
        let missing = try ImageReference.parse("\(registry.host)/stocks/trade").pinned(to: ImageDigest.of(Data("never pushed".utf8)))
        let error = await #expect(throws: RegistryError.self) { try await NativeSigner(key: key, registry: registry.client()).sign(missing) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("push the image before signing it") == true)
        #expect(try await registry.client().tags("stocks/trade").map(\.name) == ["git-" + String(ImageDigest.of(Data("present".utf8)).hex.prefix(7))])
        #expect(pushed.repository == "stocks/trade")
    }

    /// Ten images signed with a key opened each time and verified, against the loopback registry; the medians of
    /// opening the key (scrypt N=32768), signing and verifying are printed, as a measure, not a gate: a test asserts
    /// behaviour, and a loaded CI machine would make a time limit fail at random.
    @Test func tenImagesAreSignedAndVerifiedAndTheirTimesReported() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let pem = try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem")
        let publicKey = try CosignVerifier(publicKeysPEM: try CosignFixtures.text("encrypted-sigstore-key-password-hello.pub"))
        let verifier = NativeVerifier(verifier: publicKey, registry: registry.client())
        var openTimes: [Double] = []
        var signTimes: [Double] = []
        var verifyTimes: [Double] = []
        for index in 0..<10 {
            let image = try await Self.pushed("timed \(index)", to: registry)
            let opening = ContinuousClock.now
            let key = try CosignPrivateKey(pem: pem, password: Secret("hello"))
            openTimes.append(opening.secondsSinceNow)
            let signing = ContinuousClock.now
            try await NativeSigner(key: key, registry: registry.client()).sign(image)
            signTimes.append(signing.secondsSinceNow)
            let verifying = ContinuousClock.now
            #expect(try await verifier.verify(image: image).verified.count == 1)
            verifyTimes.append(verifying.secondsSinceNow)
        }
        func median(_ times: [Double]) -> Double { times.sorted()[times.count / 2] }
        func summary(_ times: [Double]) -> String { String(format: "median %.1f ms, max %.1f ms", median(times) * 1000, (times.max() ?? 0) * 1000) }
        print("native signing: open key \(summary(openTimes)); sign \(summary(signTimes)); verify \(summary(verifyTimes))")
    }
}
