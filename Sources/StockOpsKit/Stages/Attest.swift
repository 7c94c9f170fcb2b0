import Foundation

/// What `attest[<service>]` attached to the image.
public struct AttestationReport: Codable, Sendable, Equatable {
    public var service: String
    public var digest: String
    /// The DSSE envelope of the SLSA provenance.
    public var provenance: String
    /// The DSSE envelope of the CycloneDX SBOM; nil when `sbom[<service>]` was skipped.
    public var sbom: String?
}

/// `attest[<service>]`: a SLSA v1 provenance statement (commit, workflow run, builder, `Package.resolved`) and the
/// CycloneDX SBOM of `sbom[<service>]`, each an in-toto statement in a DSSE envelope signed with `SIGNING_KEY`, attached
/// as `cosign attest --key` attaches them (`sha256-<hex>.att`), then read back and verified.
public struct AttestImageStage: Stage {
    public var image: StageRef<BuiltImage>
    public var sbom: StageRef<SBOMReport>
    public var settings: ImageSettings
    /// `GITHUB_*` of the workflow run.
    public var processEnvironment: RunEnvironment
    /// The directory of the image's SwiftPM package, relative to the repository root: its `Package.resolved` is
    /// recorded.
    public var package: String
    public var dependencies: [NodeID] { [image.id, sbom.id] + (settings.secrets.map { [$0.id] } ?? []) }

    public init(
        image: StageRef<BuiltImage>, sbom: StageRef<SBOMReport>, settings: ImageSettings, processEnvironment: RunEnvironment, package: String = "."
    ) {
        self.package = package
        self.image = image
        self.sbom = sbom
        self.settings = settings
        self.processEnvironment = processEnvironment
    }

    /// Why `attest[*]` is skipped: no `SIGNING_KEY` was fetched (keyless attestations need `cosign attest`).
    public static func skipReason(images: ImagesConfig, secrets: StageRef<FetchedSecrets>?, outputs: Outputs) -> String? {
        if images.keylessIdentity != nil { return "keyless signing: attestations are made with SIGNING_KEY only" }
        // fetch-secrets skipped or failed: no key was fetched, which is the skip reason below.
        guard (secrets.flatMap { try? outputs.value($0) })?[SignImageStage.keyKey] == nil else { return nil }
        return "no \(SignImageStage.keyKey) was fetched from Vault to sign attestations with"
    }

    public func run(_ context: StageContext) async throws -> AttestationReport {
        let built = try context.value(image)
        let pinned = try settings.pinned(built)
        let trust: ReleaseTrust
        do {
            // Without fetched secrets (fetch-secrets skipped) there is no proof key, which fails below.
            trust = try ReleaseTrust.resolve(
                publicKeyFiles: settings.images.publicKeyFiles, root: context.paths.root, secrets: settings.secrets.flatMap { try? context.value($0) })
        } catch {
            throw StageFailure.failed(error.message)
        }
        guard let key = trust.proofKey, let verifier = trust.verifier else {
            throw StageFailure.failed("no \(SignImageStage.keyKey) was fetched from Vault: add it under vault: in pipelines/stockops.yml")
        }
        let client = try settings.client(context)
        do {
            let labels = try await client.labels(pinned.repository, .digest(pinned.digest))
            let provenance = InTotoStatement(
                subjectName: pinned.reference.description, digest: pinned.digest, predicateType: InTotoStatement.slsaProvenance,
                predicate: SLSAProvenance.predicate(
                    labels: labels, root: ServiceConfig.directory(of: package, root: context.paths.root),
                    runID: (context.paths.runDirectory as NSString).lastPathComponent, environment: processEnvironment
                ))
            let provenanceDigest = try await CosignAttestations.attach(provenance, to: pinned, key: key, registry: client)
            var sbomDigest: ImageDigest?
            // A skipped sbom node has no report: the provenance is attested alone, as the log says.
            if let report = try? context.value(sbom), let document = FileManager.default.contents(atPath: report.cycloneDX) {
                let statement = InTotoStatement(
                    subjectName: pinned.reference.description, digest: pinned.digest, predicateType: InTotoStatement.cycloneDX, predicate: document)
                sbomDigest = try await CosignAttestations.attach(statement, to: pinned, key: key, registry: client)
            }
            let found = try await CosignAttestations.verify(pinned, verifier: verifier, registry: client)
            for rejected in found.rejected { context.log.write("attestation \(rejected) not verified\n") }
            let types = Set(found.verified.map(\.predicateType))
            guard types.contains(InTotoStatement.slsaProvenance), sbomDigest == nil || types.contains(InTotoStatement.cycloneDX) else {
                throw StageFailure.failed("the attestations of \(pinned) did not verify after they were attached: \(found.rejected.joined(separator: "; "))")
            }
            context.log.write(
                "attested \(pinned): provenance \(provenanceDigest.short())"
                    + (sbomDigest.map { ", CycloneDX SBOM \($0.short())" } ?? ", no SBOM (sbom skipped)") + "\n")
            return AttestationReport(service: built.service, digest: built.digest, provenance: provenanceDigest.description, sbom: sbomDigest?.description)
        } catch let error as SigningError {
            throw StageFailure.failed("\(error)")
        }
    }
}

/// The SLSA v1 provenance predicate of an image built by stockops.
public enum SLSAProvenance {
    public static let buildType = "urn:stockops:build:image:v1"

    /// From the image's OCI labels (revision, source, creation time), `Package.resolved` in the package directory `root`, the stockops
    /// run and the GitHub Actions run (`GITHUB_*`) when there is one.
    public static func predicate(labels: [String: String], root: String, runID: String, environment: RunEnvironment) -> Data {
        let commit = labels[RegistryClient.revisionLabel] ?? ""
        let source = labels["org.opencontainers.image.source"] ?? ""
        var external: [String: Any] = ["commit": commit, "source": source]
        for (value, name) in [
            (environment.githubRepository, "repository"), (environment.githubRef, "ref"), (environment.githubWorkflowRef, "workflow"),
            (environment.githubEventName, "event"),
        ] {
            if let value { external[name] = value }
        }
        var dependencies: [[String: Any]] = []
        if !commit.isEmpty { dependencies.append(["uri": "git+" + (source.isEmpty ? "unknown" : source), "digest": ["gitCommit": commit]]) }
        if let resolved = FileManager.default.contents(atPath: root + "/Package.resolved") {
            dependencies.append(["uri": "Package.resolved", "digest": ["sha256": ImageDigest.of(resolved).hex]])
        }
        let server = environment.githubServerURL
        var builder = "urn:stockops:host:" + (ProcessInfo.processInfo.hostName.isEmpty ? "unknown" : ProcessInfo.processInfo.hostName)
        var invocation = "urn:stockops:run:" + runID
        if environment.isGitHubActions, let repository = environment.githubRepository, let run = environment.githubRunID {
            builder = server + "/" + repository + "/actions/runner/" + (environment.runnerName ?? "self-hosted")
            invocation = server + "/" + repository + "/actions/runs/" + run + "/attempts/" + environment.githubRunAttempt
        }
        var metadata: [String: Any] = ["invocationId": invocation, "finishedOn": ISO8601DateFormatter().string(from: Date())]
        if let created = labels["org.opencontainers.image.created"] { metadata["startedOn"] = created }
        let predicate: [String: Any] = [
            "buildDefinition": [
                "buildType": buildType, "externalParameters": external,
                "internalParameters": ["stockopsRun": runID], "resolvedDependencies": dependencies,
            ],
            "runDetails": ["builder": ["id": builder, "version": ["stockops": StockOpsKit.version]], "metadata": metadata],
        ]
        // The predicate holds only strings, arrays and dictionaries, which always serialize.
        return (try? JSONSerialization.data(withJSONObject: predicate, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
