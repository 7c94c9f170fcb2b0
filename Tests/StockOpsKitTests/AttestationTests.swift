import Foundation
import Testing

@testable import StockOpsKit

/// Provenance and SBOM attestations in `cosign attest`'s layout (DSSE envelopes in `sha256-<hex>.att`) against the
/// real `docker-registry`, DSSE signatures checked by Python's `cryptography`, and `stockops verify`.
@Suite struct AttestationTests {
    static func key(_ file: String = "encrypted-sigstore-key-password-hello.pem", password: String = "hello") throws -> CosignPrivateKey {
        try CosignPrivateKey(pem: try CosignFixtures.text(file), password: Secret(password))
    }

    static let revision = "0123456789abcdef0123456789abcdef01234567"

    /// A root holding the repository's pipeline pointed at `registry`, trusting `key` (`images.sign.public-keys`).
    static func pipelineRoot(registry: LocalRegistry, trusting key: CosignPrivateKey) throws -> String {
        let root = temporaryDirectory("pipeline-root")
        try FileManager.default.createDirectory(atPath: root + "/pipelines", withIntermediateDirectories: true)
        let pipeline = try String(contentsOfFile: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml", encoding: .utf8)
        try pipeline.replacingOccurrences(of: "host: localhost:5000", with: "host: \(registry.host)")
            .replacingOccurrences(of: "\n  sign:\n", with: "\n  sign:\n    public-keys: [pipelines/cosign.pub]\n")
            .write(toFile: root + "/pipelines/stockops.yml", atomically: true, encoding: .utf8)
        try key.publicKeyPEM.write(toFile: root + "/pipelines/cosign.pub", atomically: true, encoding: .utf8)
        return root
    }

    static func provenance(_ image: PinnedImageReference, root: String = "/nonexistent", runID: String = "20261130T000000Z-abcd") -> InTotoStatement {
        InTotoStatement(
            subjectName: image.reference.description, digest: image.digest, predicateType: InTotoStatement.slsaProvenance,
            predicate: SLSAProvenance.predicate(
                labels: [RegistryClient.revisionLabel: revision, "org.opencontainers.image.source": "https://example.com/stockops.git"], root: root,
                runID: runID,
                environment: ["GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/stocks", "GITHUB_RUN_ID": "42", "GITHUB_REF": "refs/heads/develop"]))
    }

    static let sbom = Data(#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"a"},{"name":"b"},{"name":"c"}]}"#.utf8)

    @Test func thePreAuthenticationEncodingIsTheSpecificationsExample() {
        let encoded = DSSEEnvelope.preAuthenticationEncoding(type: "http://example.com/HelloWorld", body: Data("hello world".utf8))
        #expect(String(decoding: encoded, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        #expect(DSSEEnvelope.preAuthenticationEncoding(type: "t", body: Data("é".utf8)) == Data("DSSEv1 1 t 2 é".utf8))
    }

    @Test func aNativeEnvelopeVerifiesWithPythonCryptography() async throws {
        let key = try Self.key()
        let image = try ImageReference.parse("registry.example.com:5000/stockapp/trade").pinned(to: ImageDigest.of(Data("python".utf8)))
        let envelope = try DSSEEnvelope.sign(Self.provenance(image).bytes, key: key)
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try key.publicKeyPEM.write(toFile: directory + "/key.pub", atomically: true, encoding: .utf8)
        try envelope.bytes.write(to: URL(fileURLWithPath: directory + "/envelope.json"))
        let script = """
            import base64, json, sys
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            key = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
            envelope = json.load(open(sys.argv[2]))
            body = base64.b64decode(envelope["payload"])
            kind = envelope["payloadType"].encode()
            pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)
            key.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
            statement = json.loads(body)
            print("verified", statement["predicateType"], statement["subject"][0]["digest"]["sha256"], statement["predicate"]["buildDefinition"]["externalParameters"]["commit"])
            """
        let result = try await runTool(["python3", "-c", script, directory + "/key.pub", directory + "/envelope.json"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("verified https://slsa.dev/provenance/v1 \(image.digest.hex) \(Self.revision)"), "\(result.output)")
    }

    @Test func attestationsAreAttachedVerifiedAndReportedAgainstTheRegistry() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let key = try Self.key()
        let digest = try await HandmadeImage(seed: "attested").push(with: client, to: "stockapp/trade", tag: "git-1234567")
        let image = try ImageReference.parse("\(registry.host)/stockapp/trade").pinned(to: digest)
        let trust = ReleaseTrust(verifier: CosignVerifier(publicKeys: [key.signingKey.publicKey]), proofKey: key, keySources: ["fixture key"])
        let verifier = ImageVerifier(trust: trust, registry: client)

        // Nothing attached yet: nothing verifies, and the report says what is missing.
        let bare = try await verifier.report(image, tag: RegistryTag("git-1234567"))
        #expect(!bare.passed && !bare.signature.verified && !bare.provenance.verified && !bare.sbom.verified)
        #expect(bare.provenance.detail?.contains("no SLSA provenance attestation") == true)

        try await NativeSigner(key: key, registry: client).sign(image)
        try await CosignAttestations.attach(Self.provenance(image), to: image, key: key, registry: client)
        try await CosignAttestations.attach(
            InTotoStatement(subjectName: image.reference.description, digest: image.digest, predicateType: InTotoStatement.cycloneDX, predicate: Self.sbom),
            to: image, key: key, registry: client)
        // Attesting the same predicate type again with the same key replaces it instead of piling up layers (the
        // statement of another run), while another key's attestation of that type stays.
        try await CosignAttestations.attach(Self.provenance(image, runID: "20261130T000001Z-ef01"), to: image, key: key, registry: client)
        let otherKey = CosignPrivateKey(signingKey: P256.Signing.PrivateKey())
        try await CosignAttestations.attach(Self.provenance(image), to: image, key: otherKey, registry: client)

        let manifest = try await client.manifest("stockapp/trade", .tag(CosignAttestations.tag(for: digest)))
        let layers = try CosignSignatureManifest(parsing: manifest).layers
        #expect(layers.count == 3, "one provenance and one SBOM of this key, one provenance of the other")
        #expect(layers.allSatisfy { $0.mediaType == "application/vnd.dsse.envelope.v1+json" && $0.annotations?["dev.cosignproject.cosign/signature"] == "" })
        #expect(Set(layers.compactMap { $0.annotations?["predicateType"] }) == ["https://slsa.dev/provenance/v1", "https://cyclonedx.org/bom"])

        let report = try await verifier.report(image, tag: nil)
        #expect(report.passed)
        #expect(report.signature == .init(verified: true, count: 1, stageProof: false))
        #expect(report.provenance.commit == Self.revision && report.provenance.invocation == "https://github.com/acme/stocks/actions/runs/42/attempts/1")
        #expect(report.sbom == .init(verified: true, components: 3))

        // Another key's view: nothing verifies, and each attestation says why.
        let stranger = ImageVerifier(
            trust: ReleaseTrust(verifier: CosignVerifier(publicKeys: [P256.Signing.PrivateKey().publicKey]), keySources: ["other"]), registry: client)
        let foreign = try await stranger.report(image, tag: nil)
        #expect(!foreign.passed && !foreign.provenance.verified)
        #expect(foreign.provenance.detail?.contains("the key did not make this signature") == true, "\(foreign.provenance.detail ?? "")")

        // A statement about another image, signed by the trusted key and attached here, is rejected.
        let other = try ImageReference.parse("\(registry.host)/stockapp/trade").pinned(to: ImageDigest.of(Data("another image".utf8)))
        let misplaced = try DSSEEnvelope.sign(Self.provenance(other).bytes, key: key)
        let found = try await CosignAttestations.verify(image, verifier: trust.verifier!, registry: client)
        #expect(found.verified.count == 2 && found.rejected.count == 1, "the other key's provenance does not verify with this key")
        #expect(throws: SigningError.self) { try InTotoStatement.parse(try misplaced.verifiedPayload(trust.verifier!), about: image.digest) }
    }

    @Test func stockopsVerifyPrintsTheStatusAndExitsByIt() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let key = try Self.key()
        let root = try Self.pipelineRoot(registry: registry, trusting: key)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let signed = try await HandmadeImage(seed: "verify signed").push(with: client, to: "stockapp/trade", tag: "v1.0.0")
        let signedImage = try ImageReference.parse("\(registry.host)/stockapp/trade").pinned(to: signed)
        try await NativeSigner(key: key, registry: client).sign(signedImage)
        try await CosignAttestations.attach(Self.provenance(signedImage), to: signedImage, key: key, registry: client)
        try await HandmadeImage(seed: "verify unsigned").push(with: client, to: "stockapp/trade", tag: "dev-1234567")

        func verify(_ image: String, json: Bool = false) async throws -> (status: Int32, output: String, errors: String) {
            let directory = temporaryDirectory("verify")
            let result = try await runTool(
                ["sh", "-c", "exec \"$0\" \"$@\" 2>\"\(directory)/err\"", EnvironmentLockTests.binary, "verify", image, "--root", root]
                    + (json ? ["--json"] : []),
                environment: ["PATH": "/usr/bin:/bin"], directory: directory)
            return (result.status, result.output, (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? "")
        }
        let (ok, text, _) = try await verify("trade:v1.0.0")
        #expect(ok == 0, "\(text)")
        #expect(text.contains("signature:   verified (1 signature(s), no stage proof)"), "\(text)")
        #expect(text.contains("provenance:  verified (commit \(Self.revision)"), "\(text)")
        #expect(text.contains("sbom:        NOT verified: no CycloneDX SBOM attestation"), "\(text)")

        let (jsonStatus, json, _) = try await verify("\(registry.host)/stockapp/trade@\(signed)", json: true)
        #expect(jsonStatus == 0)
        #expect(try await JSONSchemaCheck.problems(json, command: "verify").isEmpty, "\(json)")
        let decoded = try JSONDecoder().decode(ImageVerificationReport.self, from: Data(json.utf8))
        #expect(decoded.image == signedImage.description && decoded.provenance.verified && decoded.keys == ["pipelines/cosign.pub"])

        let (unsigned, unsignedText, _) = try await verify("trade:dev-1234567")
        #expect(unsigned == 1)
        #expect(unsignedText.contains("signature:   NOT verified") && unsignedText.contains("has no signatures"), "\(unsignedText)")

        let (missing, _, missingErrors) = try await verify("trade:v9.9.9")
        #expect(missing == 2)
        #expect(missingErrors.contains("stockapp/trade:v9.9.9 is not in \(registry.host)"), "\(missingErrors)")
        let (foreign, _, foreignErrors) = try await verify("ghcr.io/acme/trade:v1")
        #expect(foreign == 2 && foreignErrors.contains("is not in the pipeline's registry"))
    }
}

/// `stockops tags`: what a rollback could go to, against the real registry.
@Suite struct RollbackTargetsTests {
    @Test func prodListsReleaseVersionsAndSaysWhichARollbackTakes() async throws {
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let client = registry.client()
        let key = try AttestationTests.key()
        let root = try AttestationTests.pipelineRoot(registry: registry, trusting: key)
        defer { try? FileManager.default.removeItem(atPath: root) }

        // tag → (signed, stage proof); every service gets its own image under each tag.
        let plan: [(String, Bool, Bool)] = [
            ("v1.0.0", true, false), ("v1.1.0", true, true), ("v0.9.0", true, false), ("v0.8.0", false, false), ("git-abcdef1", true, true),
        ]
        var digests: [String: [String: String]] = [:]
        for (tag, signed, proved) in plan {
            for service in ["stock-listing", "trade"] {
                let digest = try await HandmadeImage(seed: "\(tag)-\(service)").push(with: client, to: "stockapp/\(service)", tag: tag)
                digests[tag, default: [:]][service] = digest.description
                let image = try ImageReference.parse("\(registry.host)/stockapp/\(service)").pinned(to: digest)
                if signed { try await NativeSigner(key: key, registry: client).sign(image) }
                if proved { try await ReleaseTrust(verifier: nil, proofKey: key).writeStageProof(image, registry: client) }
            }
        }
        _ = try await HandmadeImage(seed: "only trade").push(with: client, to: "stockapp/trade", tag: "v2.0.0")
        try Ledger(stateDirectory: root + "/state", environment: .prod).append(
            LedgerEntry(environment: .prod, action: .deploy, tag: "v1.0.0", images: digests["v1.0.0"]!, outcome: .succeeded, actor: "t"))

        let request = EnvironmentRequest(root: root, environment: .prod, processEnvironment: ["STOCKOPS_STATE_DIR": root + "/state", "PATH": "/usr/bin:/bin"])
        let listed = JSONOutput.document(try await RollbackTargets.list(request))
        #expect(try await JSONSchemaCheck.problems(listed, command: "tags").isEmpty, "\(listed)")
        struct Listing: Decodable {
            var schemaVersion: Int
            var tags: [RollbackTarget]
        }
        let listing = try JSONDecoder().decode(Listing.self, from: Data(listed.utf8))
        #expect(listing.schemaVersion == 1)
        #expect(listing.tags.map(\.tag) == ["v1.1.0", "v1.0.0", "v0.9.0", "v0.8.0", "git-abcdef1"], "v2.0.0 exists for trade only")
        let byTag = Dictionary(uniqueKeysWithValues: listing.tags.map { ($0.tag, $0) })
        #expect(byTag["v1.0.0"]?.live == true && byTag["v1.0.0"]?.wasLive == true && byTag["v1.0.0"]?.acceptable == true)
        #expect(byTag["v1.1.0"]?.stageProof == true && byTag["v1.1.0"]?.acceptable == true && byTag["v1.1.0"]?.wasLive == false)
        #expect(byTag["v0.9.0"]?.acceptable == false && byTag["v0.9.0"]?.refusal == "never live in prod and no stage proof")
        #expect(byTag["v0.8.0"]?.signaturesVerified == false && byTag["v0.8.0"]?.acceptable == false)
        #expect(byTag["git-abcdef1"]?.refusal == "not a release version")
        #expect(byTag["v1.0.0"]?.digests == digests["v1.0.0"])

        let table = try await runTool(
            [EnvironmentLockTests.binary, "tags", "--root", root, "--env", "prod"],
            environment: ["STOCKOPS_STATE_DIR": root + "/state", "PATH": "/usr/bin:/bin"],
            directory: root)
        #expect(table.status == 0, "\(table.output)")
        let rows = table.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first == ["TAG", "WAS", "LIVE", "SIGNED", "STAGE", "PROOF", "ROLLBACK", "TAKES", "IT"], "\(table.output)")
        #expect(rows.contains(["v1.0.0", "(live)", "yes", "yes", "no", "yes"]), "\(table.output)")
        #expect(table.output.contains("no: never live in prod and no stage proof"), "\(table.output)")
    }
}
