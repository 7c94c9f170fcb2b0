import ArgumentParser
import Foundation
import StockOpsKit

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Show whether an image's signature, stage proof, provenance and SBOM verify.",
        discussion: """
            Resolves the image to its digest in the pipeline's registry and checks, with the trusted public keys \
            (images.sign.public-keys, else SIGNING_PUBLIC_KEY read from Vault with the CI AppRole): its cosign \
            signatures (sha256-<hex>.sig) and whether one is a stage proof, and its attestations (sha256-<hex>.att): \
            the SLSA v1 provenance (commit, builder, workflow run, Package.resolved) and the CycloneDX SBOM.

            Exit codes: 0 signature and provenance verified, 1 either did not, 2 a bad reference or an image that \
            is not in the registry, 3 the registry or Vault could not be reached.

            Examples:
              stockops verify trade:v1.3.0
              stockops verify localhost:5000/stockapp/trade@sha256:1f0c… --json
            """
    )

    @Argument(help: ArgumentHelp("The image: <service>:<tag>, host/project/service:tag, or …@sha256:<digest>.", valueName: "image"))
    var image: String

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        var request = VerifyRequest(root: repository.root.path, image: image, processEnvironment: repository.root.environment)
        request.configPath = repository.config
        let terminal = Terminal()
        let report = try await terminal.report { () async throws(StockOpsError) in try await ImageVerificationReport.verify(request) }
        if json {
            terminal.json(report)
        } else {
            terminal.output.write(Self.render(report))
        }
        if !report.passed { throw ExitCode(ExitStatus.gateFailed.rawValue) }
    }

    static func render(_ report: ImageVerificationReport) -> String {
        func mark(_ ok: Bool) -> String { ok ? "verified" : "NOT verified" }
        var text = "image:       \(report.image)" + (report.tag.map { " (\($0))" } ?? "") + "\n"
        text += "keys:        " + (report.keys.isEmpty ? "none" : report.keys.joined(separator: ", ")) + "\n"
        text += "signature:   \(mark(report.signature.verified))"
        text +=
            report.signature.verified
            ? " (\(report.signature.count) signature(s)\(report.signature.stageProof ? ", stage proof" : ", no stage proof"))"
            : ": \(report.signature.detail ?? "")"
        text += "\nprovenance:  \(mark(report.provenance.verified))"
        if report.provenance.verified {
            text += " (commit \(report.provenance.commit ?? "?"), builder \(report.provenance.builder ?? "?"), run \(report.provenance.invocation ?? "?")"
            text += (report.provenance.packageResolved.map { ", Package.resolved sha256:\($0.prefix(12))" } ?? "") + ")"
        } else {
            text += ": \(report.provenance.detail ?? "")"
        }
        text += "\nsbom:        \(mark(report.sbom.verified))"
        text += report.sbom.verified ? " (CycloneDX, \(report.sbom.components ?? 0) components)" : ": \(report.sbom.detail ?? "")"
        return text + "\n"
    }
}
