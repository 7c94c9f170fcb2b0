import Foundation
import Testing

@testable import StockOpsKit

/// `images.sign.tool` and `sign[<service>]` with the native signer against a real `docker-registry`.
@Suite("sign node with the native signer")
struct SignNodeNativeTests {
    static func images(_ sign: String) throws -> ImagesConfig {
        try PipelineConfig.parse(ConfigTests.valid + "\nimages:\n  sign:\n" + sign, file: "p.yml").images
    }

    @Test func theToolIsConfigured() throws {
        #expect(try PipelineConfig.parse(ConfigTests.valid, file: "p.yml").images.signTool == .auto)
        #expect(try Self.images("    tool: native\n").signTool == .native)
        #expect(try Self.images("    tool: cosign\n").signTool == .cosign)
        let unknown = #expect(throws: ConfigError.self) { try Self.images("    tool: gpg\n") }
        #expect(unknown?.code == .invalidValue)
        #expect(unknown?.description.contains("use auto, cosign, native") == true)
        let keyless = #expect(throws: ConfigError.self) {
            try Self.images("    tool: native\n    keyless: {identity: ci@example.com, issuer: https://issuer.example.com}\n")
        }
        #expect(keyless?.description.contains("keyless signing needs cosign") == true)
    }

    @Test func autoIsCosignWhenInstalledOrKeylessElseNative() {
        #expect(SignTool.auto.resolved(cosignInstalled: true, keyless: false) == .cosign)
        #expect(SignTool.auto.resolved(cosignInstalled: false, keyless: true) == .cosign)
        #expect(SignTool.auto.resolved(cosignInstalled: false, keyless: false) == .native)
        #expect(SignTool.native.resolved(cosignInstalled: true, keyless: false) == .native)
        #expect(SignTool.cosign.resolved(cosignInstalled: false, keyless: false) == .cosign)
    }

    struct Run {
        let result: RunResult
        let root: String
        var sign: NodeResult? { result["sign[trade]"] }
        func log() throws -> String {
            try String(contentsOfFile: RunPaths(root: root, runDirectory: root + "/.stockops/runs/test").logPath(for: "sign[trade]"), encoding: .utf8)
        }
    }

    /// Pushes an image to `registry` and runs `sign[trade]` on it with `secrets`, as the pipeline adds it.
    static func runSign(_ registry: LocalRegistry, secrets values: [String: String], images: ImagesConfig, image: PinnedImageReference) async throws -> Run {
        let root = temporaryDirectory()
        var graph = GraphBuilder()
        let secrets = graph.add("fetch-secrets", ProvideSecrets(values: values))
        let built = BuiltImage(
            service: "trade", repository: "\(registry.host)/stocks/trade", tag: "git-1a2b3c4", digest: image.digest.description, reused: false)
        let imageRef = graph.add("build[trade]", Fixed(value: built))
        let settings = ImageSettings(registry: RegistryConfig(host: registry.host, project: "stocks"), images: images, secrets: secrets)
        graph.add(
            "sign[trade]", SignImageStage(image: imageRef, settings: settings, cosign: "cosign-absent-\(UUID().uuidString)"),
            when: { outputs in SignImageStage.skipReason(images: images, secrets: secrets, outputs: outputs, cosign: "cosign-absent") })
        return Run(result: await scheduler(root: root).run(try graph.build()), root: root)
    }

    static let keyFile = "encrypted-sigstore-key-password-hello.pem"

    @Test func signsNativelyWithTheKeyFromVaultWhenCosignIsAbsent() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let image = try await NativeSigningRegistryTests.pushed("node", to: registry)
        let pem = try CosignFixtures.text(Self.keyFile)
        let run = try await Self.runSign(
            registry,
            secrets: [
                SignImageStage.keyKey: pem, SignImageStage.passwordKey: "hello",
                SignImageStage.publicKeyKey: try CosignFixtures.text("encrypted-sigstore-key-password-hello.pub"),
            ],
            images: ImagesConfig(), image: image)
        #expect(run.sign?.status == .passed, "\(run.sign?.reason ?? "")")
        let report = run.result.outputs[StageRef<SignatureReport>("sign[trade]")]
        #expect(report == SignatureReport(service: "trade", digest: image.digest.description, mode: "key", tool: "native"))
        let verifier = try CosignVerifier(publicKeysPEM: try CosignFixtures.text("encrypted-sigstore-key-password-hello.pub"))
        #expect(try await NativeVerifier(verifier: verifier, registry: registry.client()).verify(image: image).verified.count == 1)
        let log = try run.log()
        #expect(log.contains("signed and verified \(image) natively"))
        #expect(!log.contains("PRIVATE KEY") && !log.contains("hello"))
    }

    @Test func aWrongPasswordFailsTheNode() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let image = try await NativeSigningRegistryTests.pushed("wrong password", to: registry)
        var images = ImagesConfig()
        images.signTool = .native
        let run = try await Self.runSign(
            registry, secrets: [SignImageStage.keyKey: try CosignFixtures.text(Self.keyFile), SignImageStage.passwordKey: "nope"],
            images: images, image: image)
        #expect(run.sign?.status == .failed)
        #expect(run.sign?.reason?.contains("wrong-password") == true, "\(run.sign?.reason ?? "")")
        #expect(try await registry.client().digest(of: CosignSignatureManifest.tag(for: image.digest), in: "stocks/trade") == nil)
    }

    @Test func withoutASigningKeyTheNativeNodeIsSkippedUnlessRequired() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let image = try await NativeSigningRegistryTests.pushed("no key", to: registry)
        let skipped = try await Self.runSign(registry, secrets: [:], images: ImagesConfig(), image: image)
        #expect(skipped.sign?.status == .skipped)
        #expect(skipped.sign?.reason?.contains("no SIGNING_KEY was fetched from Vault for the native signer") == true)
        var required = ImagesConfig()
        required.signRequired = true
        let failed = try await Self.runSign(registry, secrets: [:], images: required, image: image)
        #expect(failed.sign?.status == .failed)
        #expect(failed.sign?.reason?.contains("no SIGNING_KEY was fetched") == true)
    }

    @Test func cosignModeStillSkipsWhenCosignIsMissing() {
        var images = ImagesConfig()
        images.signTool = .cosign
        let reason = SignImageStage.skipReason(images: images, secrets: nil, outputs: Outputs(), cosign: "cosign-absent-\(UUID().uuidString)")
        #expect(reason?.contains("not installed") == true)
        #expect(reason?.contains("images.sign.tool: native") == true)
    }
}
