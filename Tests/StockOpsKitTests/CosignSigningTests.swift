import Foundation
import Testing

@testable import StockOpsKit

/// The cosign fixtures of `Fixtures/cosign` (see its README for their sources).
enum CosignFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cosign").path

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    struct Vectors: Decodable {
        struct Signature: Decodable {
            var name: String
            var payload: String
            var layer_annotations: [String: String]
            var public_key_file: String
            var verifies: Bool
            var image_manifest: String?
            var image_manifest_sha256: String?
        }
        struct Serialization: Decodable {
            var name: String
            var reference: String
            var expected: String
        }
        var signatures: [Signature]
        var payload_serialization: [Serialization]
    }

    static let vectors: Vectors = {
        let data = FileManager.default.contents(atPath: directory + "/vectors.json") ?? Data()
        return (try? JSONDecoder().decode(Vectors.self, from: data)) ?? Vectors(signatures: [], payload_serialization: [])
    }()

    /// The encrypted key files that open, with their passwords and public keys.
    static let openableKeys: [(file: String, password: String, publicKey: String)] = [
        ("encrypted-cosign-key-password-hello.pem", "hello", "encrypted-cosign-key-password-hello.pub"),
        ("encrypted-sigstore-key-password-hello.pem", "hello", "encrypted-sigstore-key-password-hello.pub"),
        ("encrypted-sigstore-key-empty-password-N65536.pem", "", "encrypted-sigstore-key-empty-password-N65536.pub"),
    ]

    static let signatureAnnotation = "dev.cosignproject.cosign/signature"
}

@Suite("Cosign key files")
struct CosignKeyFileTests {
    @Test(arguments: CosignFixtures.openableKeys.map(\.file))
    func opensCosignKeyFilesToTheirPublicKey(file: String) throws {
        let fixture = try #require(CosignFixtures.openableKeys.first { $0.file == file })
        let key = try CosignPrivateKey(pem: try CosignFixtures.text(fixture.file), password: Secret(fixture.password))
        let expected = try P256.Signing.PublicKey(pemRepresentation: try CosignFixtures.text(fixture.publicKey))
        #expect(key.signingKey.publicKey.derRepresentation == expected.derRepresentation)
        #expect(key.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"))
    }

    @Test func bothPEMTypesAreRead() throws {
        #expect(try CosignFixtures.text("encrypted-cosign-key-password-hello.pem").contains("BEGIN ENCRYPTED COSIGN PRIVATE KEY"))
        #expect(try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem").contains("BEGIN ENCRYPTED SIGSTORE PRIVATE KEY"))
    }

    @Test func rejectsASEC1KeyLikeCosign() throws {
        let pem = try CosignFixtures.text("encrypted-sec1-key-password-hello-REJECTED.pem")
        let error = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: pem, password: Secret("hello")) }
        #expect(error?.code == .unsupportedKey)
        #expect(error?.message.contains("SEC1") == true)
    }

    @Test func rejectsAWrongPassword() throws {
        let pem = try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem")
        let error = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: pem, password: Secret("hellO")) }
        #expect(error?.code == .wrongPassword)
        let empty = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: pem, password: Secret("")) }
        #expect(empty?.code == .wrongPassword)
    }

    @Test func rejectsWhatIsNotACosignKeyFile() throws {
        let publicKey = try CosignFixtures.text("cosign.pub")
        let error = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: publicKey, password: Secret("")) }
        #expect(error?.code == .invalidKey)
        let garbled = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOjF9\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
        let json = #expect(throws: SigningError.self) { try CosignPrivateKey(pem: garbled, password: Secret("")) }
        #expect(json?.code == .invalidKey)
    }

    @Test func aPKCS8KeyOfAnotherCurveIsUnsupported() async throws {
        let openssl = try #require(executableOnPath("openssl"), "openssl is not installed: run scripts/install-deps.sh")
        let generated = try await runTool([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"])
        let p384 = try #require(try PEMBlock.all(in: generated.output).first { $0.type == "PRIVATE KEY" }, "\(generated.output)")
        let error = #expect(throws: SigningError.self) { try CosignPrivateKey.p256Key(pkcs8: p384.bytes) }
        #expect(error?.code == .unsupportedKey)
        let p256 = P256.Signing.PrivateKey()
        #expect(try CosignPrivateKey.p256Key(pkcs8: [UInt8](p256.derRepresentation)).derRepresentation == p256.derRepresentation)
    }
}

@Suite("Cosign payloads and signature vectors")
struct CosignVectorTests {
    @Test func vectorsAreLoaded() {
        #expect(CosignFixtures.vectors.signatures.count == 5)
        #expect(CosignFixtures.vectors.signatures.contains { !$0.verifies })
        #expect(CosignFixtures.vectors.payload_serialization.count == 1)
    }

    @Test(arguments: CosignFixtures.vectors.payload_serialization.map(\.name))
    func payloadBytesAreCosigns(name: String) throws {
        let vector = try #require(CosignFixtures.vectors.payload_serialization.first { $0.name == name })
        let image = try ImageReference.parse(vector.reference).pinned()
        #expect(SimpleSigningPayload(image: image).bytes == Data(vector.expected.utf8))
    }

    @Test(arguments: CosignFixtures.vectors.signatures.map(\.name))
    func signatureVectorVerifiesExactlyWhenExpected(name: String) throws {
        let vector = try #require(CosignFixtures.vectors.signatures.first { $0.name == name })
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text(vector.public_key_file))
        let signature = try #require(vector.layer_annotations[CosignFixtures.signatureAnnotation])
        let payload = Data(vector.payload.utf8)
        let digest = try SimpleSigningPayload.parse(payload).digest
        if let manifest = vector.image_manifest, let sha = vector.image_manifest_sha256 {
            #expect(ImageDigest.of(Data(manifest.utf8)).hex == sha)
            #expect(digest.hex == sha)
        }
        if vector.verifies {
            let verified = try verifier.verify(payload: payload, signature: signature, digest: digest)
            #expect(verified.keyIndex == 0)
            #expect(verified.payload.type == SimpleSigningPayload.containerImageType)
            #expect(verified.payload.bytes == payload)
        } else {
            let error = #expect(throws: SigningError.self) { try verifier.verify(payload: payload, signature: signature, digest: digest) }
            #expect(error?.code == .invalidSignature)
        }
    }

    @Test func aValidSignatureForAnotherDigestIsRejected() throws {
        let vector = try #require(CosignFixtures.vectors.signatures.first { $0.verifies })
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text(vector.public_key_file))
        let other = ImageDigest.of(Data("another image".utf8))
        let error = #expect(throws: SigningError.self) {
            try verifier.verify(
                payload: Data(vector.payload.utf8), signature: vector.layer_annotations[CosignFixtures.signatureAnnotation] ?? "", digest: other)
        }
        #expect(error?.code == .digestMismatch)
    }

    @Test func aTamperedPayloadIsRejected() throws {
        let vector = try #require(CosignFixtures.vectors.signatures.first { $0.verifies })
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text(vector.public_key_file))
        let tampered = vector.payload.replacingOccurrences(of: "cosign-signed-single-sample", with: "cosign-signed-single-sampler")
        #expect(tampered != vector.payload)
        let error = #expect(throws: SigningError.self) {
            try verifier.signer(of: Data(tampered.utf8), signature: vector.layer_annotations[CosignFixtures.signatureAnnotation] ?? "")
        }
        #expect(error?.code == .invalidSignature)
    }

    @Test func severalPublicKeysReportWhichOneVerified() throws {
        let pem = try CosignFixtures.text("cosign.pub") + "\n" + CosignFixtures.text("cosign2.pub")
        let verifier = try CosignVerifier(publicKeysPEM: pem)
        #expect(verifier.publicKeys.count == 2)
        let vector = try #require(CosignFixtures.vectors.signatures.first { $0.public_key_file == "cosign2.pub" })
        let index = try verifier.signer(of: Data(vector.payload.utf8), signature: vector.layer_annotations[CosignFixtures.signatureAnnotation] ?? "")
        #expect(index == 1)
    }

    @Test func malformedSignaturesAndKeysAreRejected() throws {
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text("cosign.pub"))
        let notBase64 = #expect(throws: SigningError.self) { try verifier.signer(of: Data(), signature: "%%%") }
        #expect(notBase64?.code == .invalidSignature)
        let notDER = #expect(throws: SigningError.self) { try verifier.signer(of: Data(), signature: "AAAA") }
        #expect(notDER?.code == .invalidSignature)
        let noKey = #expect(throws: SigningError.self) { try CosignVerifier(publicKeysPEM: "no key here") }
        #expect(noKey?.code == .invalidKey)
    }

    @Test func payloadEscapesLikeGoAndKeepsSortedAnnotations() throws {
        let digest = ImageDigest.of(Data("x".utf8))
        let payload = SimpleSigningPayload(dockerReference: "r<&>\"\u{2028}", digest: digest, annotations: ["b": "2", "a": "1"])
        let text = String(decoding: payload.bytes, as: UTF8.self)
        #expect(text.contains(#""docker-reference":"r\u003c\u0026\u003e\"\u2028""#))
        #expect(text.hasSuffix(#""optional":{"a":"1","b":"2"}}"#))
        #expect(try SimpleSigningPayload.parse(payload.bytes) == payload)
    }

    @Test func aPayloadWithoutADigestIsInvalid() {
        let error = #expect(throws: SigningError.self) {
            try SimpleSigningPayload.parse(
                Data(#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"md5:00"},"type":"t"},"optional":null}"#.utf8))
        }
        #expect(error?.code == .invalidPayload)
    }
}
