import Foundation
import Testing

@testable import StockOpsKit

/// Which keys deploys trust (`images.sign.public-keys`, `SIGNING_PUBLIC_KEY`, `SIGNING_KEY`) and which environments
/// verify (`environments.<env>.verify`).
@Suite struct ReleaseTrustTests {
    static let repositoryPipeline = OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml"

    func config(_ replacing: [(String, String)] = []) throws -> PipelineConfig {
        var yaml = try String(contentsOfFile: Self.repositoryPipeline, encoding: .utf8)
        for (old, new) in replacing {
            guard yaml.contains(old) else { throw FixtureError("pipelines/stockops.yml no longer contains \(old)") }
            yaml = yaml.replacingOccurrences(of: old, with: new)
        }
        return try PipelineConfig.parse(yaml, file: "pipelines/stockops.yml")
    }

    @Test func everyEnvironmentOfTheRepositoryVerifiesSignaturesAndVerifyCanBeSwitchedOff() throws {
        let repository = try config()
        for environment in Environment.standard {
            #expect(repository.environments[environment]?.verify == .signature, "\(environment)")
        }
        #expect(EnvironmentConfig.defaults[.dev]?.verify == DeployVerification.none)
        #expect(EnvironmentConfig.defaults[.stage]?.verify == .signature)
        let off = try config([("tag: stage-{sha7}\n", "tag: stage-{sha7}\n    verify: none\n")])
        #expect(off.environments[.stage]?.verify == DeployVerification.none)
        #expect(throws: ConfigError.self) { try self.config([("tag: stage-{sha7}\n", "tag: stage-{sha7}\n    verify: cosign\n")]) }
        do {
            _ = try config([("tag: stage-{sha7}\n", "tag: stage-{sha7}\n    verify: cosign\n")])
        } catch {
            #expect("\(error)".contains("'cosign' is not a check; use signature or none"), "\(error)")
        }
    }

    @Test func theKeysComeFromTheRepositoryFilesAndVault() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let withFile = try config([("  sign:\n", "  sign:\n    public-keys: [keys/release.pub]\n")])
        #expect(withFile.images.publicKeyFiles == ["keys/release.pub"])

        // A listed file that is missing is an error that names it.
        #expect {
            try ReleaseTrust.resolve(config: withFile, root: root, secrets: nil)
        } throws: { error in
            (error as? SigningError)?.message.contains("images.sign.public-keys: cannot read keys/release.pub") == true
        }

        let fileKey = P256.Signing.PrivateKey()
        try FileManager.default.createDirectory(atPath: root + "/keys", withIntermediateDirectories: true)
        try fileKey.publicKey.pemRepresentation.write(toFile: root + "/keys/release.pub", atomically: true, encoding: .utf8)
        let vaultKey = try CosignPrivateKey(pem: try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem"), password: Secret("hello"))
        let otherPublic = P256.Signing.PrivateKey().publicKey
        let secrets = FetchedSecrets(values: [
            SignImageStage.keyKey: Secret(try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem")), SignImageStage.passwordKey: Secret("hello"),
            SignImageStage.publicKeyKey: Secret(otherPublic.pemRepresentation),
        ])
        let trust = try ReleaseTrust.resolve(config: withFile, root: root, secrets: secrets)
        #expect(trust.keySources == ["keys/release.pub", "SIGNING_PUBLIC_KEY (Vault)", "SIGNING_KEY (Vault)"])
        let keys = try #require(trust.verifier?.publicKeys.map(\.derRepresentation))
        #expect(keys == [fileKey.publicKey.derRepresentation, otherPublic.derRepresentation, vaultKey.signingKey.publicKey.derRepresentation])
        #expect(trust.proofKey?.signingKey.publicKey.derRepresentation == vaultKey.signingKey.publicKey.derRepresentation)

        // Nothing configured: no verifier, so every image fails the check with a message saying what to configure.
        let none = try ReleaseTrust.resolve(config: try config(), root: root, secrets: nil)
        #expect(none.verifier == nil && none.proofKey == nil)

        // A wrong password is an error naming the key.
        #expect {
            try ReleaseTrust.resolve(
                config: try self.config(), root: root,
                secrets: FetchedSecrets(values: [
                    SignImageStage.keyKey: Secret(try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem")),
                    SignImageStage.passwordKey: Secret("nope"),
                ]))
        } throws: { error in
            (error as? SigningError)?.code == .wrongPassword && (error as? SigningError)?.message.hasPrefix("SIGNING_KEY from Vault") == true
        }
    }

    @Test func aCheckWithoutKeysFailsEveryImageAndSaysWhatToConfigure() async throws {
        let image = try ImageReference.parse("registry.example.com:5000/stockapp/trade").pinned(to: ImageDigest.of(Data("trade".utf8)))
        let check = try await ReleaseTrust().check(["trade": image], registry: RegistryClient(baseURL: "http://127.0.0.1:1"))
        #expect(check.verified.isEmpty)
        #expect(check.failures["trade"]?.contains("images.sign.public-keys") == true)
        #expect(!check.passedStage("trade"))
    }

    /// A key is opened once per process; another password is still checked.
    @Test func anOpenedKeyIsReusedAndAWrongPasswordStillFails() throws {
        let pem = try CosignFixtures.text("encrypted-sigstore-key-password-hello.pem")
        let first = try CosignPrivateKey.opened(pem: pem, password: Secret("hello"))
        let again = try CosignPrivateKey.opened(pem: pem, password: Secret("hello"))
        #expect(first.signingKey.derRepresentation == again.signingKey.derRepresentation)
        #expect(first.signingKey.derRepresentation == (try CosignPrivateKey(pem: pem, password: Secret("hello"))).signingKey.derRepresentation)
        #expect(throws: SigningError.self) { try CosignPrivateKey.opened(pem: pem, password: Secret("not-hello")) }
    }
}
