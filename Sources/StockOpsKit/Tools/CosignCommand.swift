import Foundation

/// Argv builders for `cosign`, and a reader of `cosign verify` output. Pure values: nothing is executed here.
///
/// Only digests are signed or verified (``PinnedImageReference``): a tag can move between signing and use.
/// Keys and their password reach cosign through the environment (`--key env://NAME`, `COSIGN_PASSWORD`),
/// never through argv; registry credentials through `DOCKER_CONFIG`.
public struct CosignCommand: Sendable, Equatable {
    /// How signatures are made and checked.
    public enum Mode: Sendable, Equatable {
        /// A key pair: the private key PEM in `COSIGN_PRIVATE_KEY`, the public key PEM in `COSIGN_PUBLIC_KEY`.
        case key
        /// Sigstore keyless: a certificate for the CI's OIDC identity; verification pins identity and issuer.
        case keyless(certificateIdentity: String, oidcIssuer: String)
    }

    public static let privateKeyVariable = "COSIGN_PRIVATE_KEY"
    public static let publicKeyVariable = "COSIGN_PUBLIC_KEY"
    public static let passwordVariable = "COSIGN_PASSWORD"

    public var executable: String
    public var mode: Mode
    /// Whether signatures go to (and are checked against) the Rekor transparency log.
    public var transparencyLog: Bool

    public init(executable: String = "cosign", mode: Mode = .key, transparencyLog: Bool = true) {
        self.executable = executable
        self.mode = mode
        self.transparencyLog = transparencyLog
    }

    /// `cosign sign --yes [--key env://COSIGN_PRIVATE_KEY] IMAGE@DIGEST`.
    public func sign(_ image: PinnedImageReference) -> [String] {
        var arguments = [executable, "sign", "--yes"]
        if case .key = mode { arguments += ["--key", "env://" + Self.privateKeyVariable] }
        if !transparencyLog { arguments.append("--tlog-upload=false") }
        return arguments + [image.description]
    }

    /// Signs `image`, which must name a digest; a tag-only reference throws ``ImageReferenceError/Code/missingDigest``.
    public func sign(_ image: ImageReference) throws(ImageReferenceError) -> [String] {
        sign(try image.pinned())
    }

    /// `cosign verify --key env://COSIGN_PUBLIC_KEY IMAGE@DIGEST`, or the keyless form with
    /// `--certificate-identity` and `--certificate-oidc-issuer`. Prints the verified payloads as JSON.
    public func verify(_ image: PinnedImageReference) -> [String] {
        var arguments = [executable, "verify"]
        switch mode {
        case .key:
            arguments += ["--key", "env://" + Self.publicKeyVariable]
        case .keyless(let identity, let issuer):
            arguments += ["--certificate-identity", identity, "--certificate-oidc-issuer", issuer]
        }
        if !transparencyLog { arguments.append("--insecure-ignore-tlog=true") }
        return arguments + ["--output", "json", image.description]
    }

    /// Verifies `image`, which must name a digest.
    public func verify(_ image: ImageReference) throws(ImageReferenceError) -> [String] {
        verify(try image.pinned())
    }

    /// The environment `sign` needs in key mode: the private key and its password, plus `DOCKER_CONFIG`.
    public static func signingEnvironment(privateKey: Secret, password: Secret, dockerConfig: String) -> [String: Secret] {
        [privateKeyVariable: privateKey, passwordVariable: password, "DOCKER_CONFIG": Secret(dockerConfig)]
    }

    /// The environment `verify` needs in key mode: the public key, plus `DOCKER_CONFIG`.
    public static func verificationEnvironment(publicKey: String, dockerConfig: String) -> [String: Secret] {
        [publicKeyVariable: Secret(publicKey), "DOCKER_CONFIG": Secret(dockerConfig)]
    }

    /// `critical.type` of a signature: cosign 2's simple-signing payload, and cosign 3's in-toto predicate type
    /// (`types.CosignSignPredicateType`), which `cosign verify` reports for signatures in the Sigstore bundle format.
    public static let signatureTypes: Set<String> = ["cosign container image signature", "https://sigstore.dev/cosign/sign/v1"]

    /// The digests `cosign verify` vouched for, from its JSON output (an array of simple-signing payloads,
    /// `critical.image.docker-manifest-digest`). Log lines before the JSON are skipped. Entries of other types
    /// (attestations, which cosign 3 verifies alongside signatures) vouch for no signature and are left out.
    public static func parseVerifiedDigests(_ output: String) throws -> [ImageDigest] {
        guard let start = output.firstIndex(where: { $0 == "[" || $0 == "{" }) else {
            throw ToolOutputError(.unparsable, "cosign verify printed no JSON")
        }
        let json = Data(output[start...].utf8)
        struct Payload: Decodable {
            struct Critical: Decodable {
                struct Image: Decodable {
                    var digest: String
                    enum CodingKeys: String, CodingKey { case digest = "docker-manifest-digest" }
                }
                var image: Image
                var type: String
            }
            var critical: Critical
        }
        let payloads: [Payload]
        do {
            if output[start] == "[" {
                payloads = try JSONDecoder().decode([Payload].self, from: json)
            } else {
                payloads = try output[start...].split(whereSeparator: \.isNewline).map {
                    try JSONDecoder().decode(Payload.self, from: Data($0.utf8))
                }
            }
        } catch {
            throw ToolOutputError(.unparsable, "cosign verify output is not JSON as documented: \(error)")
        }
        return try payloads.filter { signatureTypes.contains($0.critical.type) }.map { payload in
            guard let digest = ImageDigest(payload.critical.image.digest) else {
                throw ToolOutputError(.unparsable, "\"\(payload.critical.image.digest)\" is not a sha256 digest")
            }
            return digest
        }
    }
}
