import ArgumentParser
import Foundation
import StockOpsKit

struct BenchSignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Measure native signing and verification of an image against a registry.",
        discussion: """
            Pushes --count small images to --repository, then for each one, with a new client (a fresh connection): \
            signs it natively (payload and config blobs, .sig manifest) and verifies it (manifest, payload blob, \
            ECDSA). The key is the cosign key file --key opened with STOCKOPS_BENCH_KEY_PASSWORD, or a new P-256 key. \
            Prints `sign|verify count median_ms p90_ms total_ms` lines.
            """
    )

    @Option(help: "The registry, host[:port] (plain HTTP on loopback).")
    var registry: String

    @Option(help: "The repository to push the measured images to.")
    var repository: String = "stockapp/bench-sign"

    @Option(help: "A cosign encrypted private key file; a new key when absent.")
    var key: String?

    @Option(help: "Images signed and verified.")
    var count: Int = 20

    func run() async throws {
        let signingKey: CosignPrivateKey
        if let key {
            signingKey = try CosignPrivateKey(
                pem: try String(contentsOfFile: key, encoding: .utf8),
                password: Secret(ProcessInfo.processInfo.environment["STOCKOPS_BENCH_KEY_PASSWORD"] ?? ""))
        } else {
            signingKey = CosignPrivateKey(signingKey: P256.Signing.PrivateKey())
        }
        let baseURL = RegistryConfig(host: registry, project: "").baseURL
        var images: [PinnedImageReference] = []
        let setup = RegistryClient(baseURL: baseURL)
        for index in 1...count {
            let layer = Data("bench-sign layer \(index) \(UUID().uuidString)\n".utf8)
            let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(ImageDigest.of(layer))"]}}"#.utf8)
            _ = try await setup.uploadBlob(layer, to: repository)
            _ = try await setup.uploadBlob(config, to: repository)
            let manifest = ImageManifest(
                mediaType: ImageManifest.ociManifest,
                bytes: Data(
                    """
                    {"schemaVersion":2,"mediaType":"\(ImageManifest.ociManifest)","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(ImageDigest.of(config))","size":\(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(ImageDigest.of(layer))","size":\(layer.count)}]}
                    """.utf8))
            let digest = try await setup.putManifest(manifest, in: repository, as: .tag(try RegistryTag.parse("bench-\(index)")))
            images.append(try ImageReference.parse(registry + "/" + repository).pinned(to: digest))
        }
        var signing: [Double] = []
        var verifying: [Double] = []
        for image in images {
            let start = ContinuousClock.now
            let outcome = try await NativeSigner(key: signingKey, registry: RegistryClient(baseURL: baseURL)).sign(image)
            let signed = ContinuousClock.now
            let verification = try await NativeVerifier(
                verifier: CosignVerifier(publicKeys: [signingKey.signingKey.publicKey]), registry: RegistryClient(baseURL: baseURL)
            )
            .verify(image: image)
            let verified = ContinuousClock.now
            guard outcome.appended, verification.verified.count == 1 else { throw ValidationError("\(image) was not signed and verified once") }
            signing.append(Self.milliseconds(signed - start))
            verifying.append(Self.milliseconds(verified - signed))
        }
        for (name, samples) in [("sign", signing), ("verify", verifying)] {
            let sorted = SecretsBenchmark.Samples(samples)
            print(String(format: "%@ %d %.3f %.3f %.3f", name, sorted.milliseconds.count, sorted.median, sorted.quantile(0.9), sorted.total))
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
