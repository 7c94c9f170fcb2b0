import Foundation
import Testing

@testable import StockOpsKit

/// Contract tests: argv as Sigstore's cosign documentation gives it (`cosign sign --key env://… --yes IMAGE@DIGEST`,
/// `cosign verify --key …`, keyless `--certificate-identity`/`--certificate-oidc-issuer`).
@Suite("CosignCommand argv and verify output")
struct CosignCommandTests {
    static let digest = "sha256:" + String(repeating: "0123456789abcdef", count: 4)
    let image = try! ImageReference.parse("harbor.example.com/stocks/trade@" + CosignCommandTests.digest).pinned()

    @Test func signsADigestWithAKeyFromTheEnvironment() {
        #expect(
            CosignCommand().sign(image)
                == ["cosign", "sign", "--yes", "--key", "env://COSIGN_PRIVATE_KEY", "harbor.example.com/stocks/trade@" + Self.digest])
        #expect(
            CosignCommand(transparencyLog: false).sign(image)
                == ["cosign", "sign", "--yes", "--key", "env://COSIGN_PRIVATE_KEY", "--tlog-upload=false", image.description])
    }

    @Test func refusesATagOnlyReference() throws {
        let tagged = try ImageReference.parse("harbor.example.com/stocks/trade:git-abc1234")
        let error = #expect(throws: ImageReferenceError.self) { try CosignCommand().sign(tagged) }
        #expect(error?.code == .missingDigest)
        #expect(throws: ImageReferenceError.self) { try CosignCommand().verify(tagged) }
        let both = try ImageReference.parse("harbor.example.com/stocks/trade:git-abc1234@" + Self.digest)
        #expect(try CosignCommand().sign(both).last == "harbor.example.com/stocks/trade@" + Self.digest)
    }

    @Test func verifiesWithThePublicKey() {
        #expect(
            CosignCommand().verify(image)
                == ["cosign", "verify", "--key", "env://COSIGN_PUBLIC_KEY", "--output", "json", image.description])
        #expect(
            CosignCommand(transparencyLog: false).verify(image)
                == ["cosign", "verify", "--key", "env://COSIGN_PUBLIC_KEY", "--insecure-ignore-tlog=true", "--output", "json", image.description])
    }

    @Test func keyless() {
        let keyless = CosignCommand(
            mode: .keyless(
                certificateIdentity: "https://git.example.com/stocks/stocks/.ci/release.yml@refs/heads/main",
                oidcIssuer: "https://token.actions.githubusercontent.com"))
        #expect(keyless.sign(image) == ["cosign", "sign", "--yes", image.description])
        #expect(
            keyless.verify(image)
                == [
                    "cosign", "verify",
                    "--certificate-identity", "https://git.example.com/stocks/stocks/.ci/release.yml@refs/heads/main",
                    "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
                    "--output", "json", image.description,
                ])
    }

    @Test func keysTravelInTheEnvironmentOnly() {
        let privateKey = Secret("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-key-material\n")
        let password = Secret("cosign-password-value")
        let environment = CosignCommand.signingEnvironment(privateKey: privateKey, password: password, dockerConfig: "/run/42/docker")
        #expect(environment["COSIGN_PRIVATE_KEY"] == privateKey)
        #expect(environment["COSIGN_PASSWORD"] == password)
        #expect(environment["DOCKER_CONFIG"]?.reveal() == "/run/42/docker")
        let argv = CosignCommand().sign(image) + CosignCommand().verify(image)
        #expect(!argv.contains { $0.contains("secret-key-material") || $0.contains("cosign-password-value") })
        #expect(CosignCommand.verificationEnvironment(publicKey: "PEM", dockerConfig: "/d")["COSIGN_PUBLIC_KEY"]?.reveal() == "PEM")
    }

    @Test func readsVerifiedDigests() throws {
        #expect(try CosignCommand.parseVerifiedDigests(DocumentedFixtures.cosignVerify).map(\.description) == [Self.digest])
        #expect(throws: ToolOutputError.self) { try CosignCommand.parseVerifiedDigests("Error: no matching signatures") }
        #expect(throws: ToolOutputError.self) {
            try CosignCommand.parseVerifiedDigests(
                #"[{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:1"},"type":"cosign container image signature"}}]"#)
        }
    }

    @Test func readsCosign3BundleSignatures() throws {
        #expect(try CosignCommand.parseVerifiedDigests(DocumentedFixtures.cosign3Verify).map(\.description) == [Self.digest])
    }

    @Test func leavesOutAttestationsVerifiedAlongsideSignatures() throws {
        let other = "sha256:" + String(repeating: "f", count: 64)
        let output = """
            [{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"\(other)"},"type":"https://slsa.dev/provenance/v1"},"optional":{}},\
            {"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"\(Self.digest)"},"type":"https://sigstore.dev/cosign/sign/v1"},"optional":{}}]
            """
        #expect(try CosignCommand.parseVerifiedDigests(output).map(\.description) == [Self.digest])
    }
}
