import Foundation
import Testing

@testable import StockOpsKit

@Suite("DockerCommand argv")
struct DockerCommandTests {
    let docker = DockerCommand(configDirectory: "/run/stockops/42/docker")

    func build(cache: Bool = true) throws -> DockerCommand.Build {
        DockerCommand.Build(
            context: "services/trade", dockerfile: "services/trade/Dockerfile",
            image: try ImageReference.parse("harbor.example.com/stocks/trade:git-abc1234"),
            revision: "abc1234def5678abc1234def5678abc1234def56", source: "https://git.example.com/stocks/stocks",
            created: "2026-11-22T18:00:00Z",
            cache: cache ? try ImageReference.parse("harbor.example.com/stocks/trade:buildcache") : nil,
            metadataFile: "/run/stockops/42/trade-metadata.json")
    }

    @Test func loginReadsThePasswordFromStandardInput() {
        #expect(
            docker.login(registry: "harbor.example.com", username: "robot$stockops")
                == [
                    "docker", "--config", "/run/stockops/42/docker", "login", "--username", "robot$stockops",
                    "--password-stdin", "harbor.example.com",
                ])
        #expect(docker.logout(registry: "harbor.example.com") == ["docker", "--config", "/run/stockops/42/docker", "logout", "harbor.example.com"])
    }

    @Test func buildxBuildPushesWithRegistryCache() throws {
        #expect(
            docker.buildxBuild(try build())
                == [
                    "docker", "--config", "/run/stockops/42/docker", "buildx", "build",
                    "--file", "services/trade/Dockerfile",
                    "--tag", "harbor.example.com/stocks/trade:git-abc1234",
                    "--label", "org.opencontainers.image.revision=abc1234def5678abc1234def5678abc1234def56",
                    "--label", "org.opencontainers.image.source=https://git.example.com/stocks/stocks",
                    "--label", "org.opencontainers.image.created=2026-11-22T18:00:00Z",
                    "--cache-from", "type=registry,ref=harbor.example.com/stocks/trade:buildcache",
                    "--cache-to", "type=registry,ref=harbor.example.com/stocks/trade:buildcache,mode=max,image-manifest=true,oci-mediatypes=true",
                    "--metadata-file", "/run/stockops/42/trade-metadata.json",
                    "--push", "services/trade",
                ])
    }

    @Test func withoutCacheExportTheRegistryCacheIsOnlyRead() throws {
        var request = try build()
        request.exportsCache = false
        let argv = docker.buildxBuild(request)
        #expect(!argv.contains("--cache-to"))
        let from = try #require(argv.firstIndex(of: "--cache-from"))
        #expect(argv[from + 1] == "type=registry,ref=harbor.example.com/stocks/trade:buildcache")
        #expect(argv.suffix(2) == ["--push", "services/trade"])
    }

    @Test(arguments: [
        (DocumentedFixtures.buildxInspectDockerContainer, "elated_tesla", "docker-container", true),
        (DocumentedFixtures.buildxInspectDockerDriver, "default", "docker", false),
        (DocumentedFixtures.buildxInspectDockerDriverContainerd, "default", "docker", true),
    ])
    func buildxInspectGivesTheDriverAndCacheExport(output: String, name: String, driver: String, exportsCache: Bool) throws {
        let builder = try BuildxBuilder.parse(inspectOutput: output)
        #expect(builder.name == name)
        #expect(builder.driver == driver)
        #expect(builder.exportsRegistryCache == exportsCache)
    }

    @Test func buildxInspectLabelsAndErrors() throws {
        let builder = try BuildxBuilder.parse(inspectOutput: DocumentedFixtures.buildxInspectDockerContainer)
        #expect(builder.workerLabels["org.mobyproject.buildkit.worker.snapshotter"] == "overlayfs")
        #expect(builder.workerLabels["org.mobyproject.buildkit.worker.oci.process-mode"] == "sandbox")
        #expect(builder.workerLabels["All"] == nil)
        #expect(builder.workerLabels.count == 6)
        #expect(throws: ToolOutputError.self) { try BuildxBuilder.parse(inspectOutput: "ERROR: no builder \"missing\" found") }
        #expect(docker.buildxInspect() == ["docker", "--config", "/run/stockops/42/docker", "buildx", "inspect"])
    }

    @Test func theBuildStageExportsCacheOnlyWhereTheBuilderCan() {
        func inspect(_ output: String, exitStatus: Int32 = 0) -> ProcessResult {
            ProcessResult(pid: 1, exitStatus: exitStatus, signal: nil, output: output, truncated: false)
        }
        #expect(BuildImageStage.cacheExportUnsupported(inspect: inspect(DocumentedFixtures.buildxInspectDockerContainer)) == nil)
        #expect(BuildImageStage.cacheExportUnsupported(inspect: inspect(DocumentedFixtures.buildxInspectDockerDriverContainerd)) == nil)
        let classic = BuildImageStage.cacheExportUnsupported(inspect: inspect(DocumentedFixtures.buildxInspectDockerDriver))
        #expect(classic?.contains("docker driver without the containerd image store") == true)
        #expect(classic?.contains("--driver docker-container") == true)
        #expect(BuildImageStage.cacheExportUnsupported(inspect: inspect("ERROR: no builder found", exitStatus: 1)) != nil)
    }

    @Test func plainBuildAndPushFallback() throws {
        var request = try build(cache: false)
        request.buildArguments = [("SWIFT_VERSION", "6.3")]
        #expect(
            docker.build(request)
                == [
                    "docker", "--config", "/run/stockops/42/docker", "build",
                    "--file", "services/trade/Dockerfile",
                    "--tag", "harbor.example.com/stocks/trade:git-abc1234",
                    "--label", "org.opencontainers.image.revision=abc1234def5678abc1234def5678abc1234def56",
                    "--label", "org.opencontainers.image.source=https://git.example.com/stocks/stocks",
                    "--label", "org.opencontainers.image.created=2026-11-22T18:00:00Z",
                    "--build-arg", "SWIFT_VERSION=6.3",
                    "services/trade",
                ])
        #expect(
            docker.push(request.image)
                == ["docker", "--config", "/run/stockops/42/docker", "push", "harbor.example.com/stocks/trade:git-abc1234"])
    }

    @Test func inspectAndBuildxDetection() {
        #expect(
            docker.imageInspect("stocks/trade:local", format: "{{.Id}}")
                == ["docker", "--config", "/run/stockops/42/docker", "image", "inspect", "--format", "{{.Id}}", "stocks/trade:local"])
        #expect(docker.buildxVersion() == ["docker", "--config", "/run/stockops/42/docker", "buildx", "version"])
    }

    @Test func metadataFileGivesThePushedDigest() throws {
        let digest = try DockerCommand.parseMetadata(Data(DocumentedFixtures.buildxMetadata.utf8))
        #expect(digest.description == "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3")
        #expect(throws: ToolOutputError.self) { try DockerCommand.parseMetadata(Data("{}".utf8)) }
        #expect(throws: ToolOutputError.self) { try DockerCommand.parseMetadata(Data("not json".utf8)) }
    }

    @Test func passwordNeverInArgv() throws {
        let password = Secret("registry-password-value")
        let argv =
            docker.login(registry: "harbor.example.com", username: "robot$stockops")
            + docker.buildxBuild(try build()) + docker.build(try build())
        #expect(!argv.contains { $0.contains(password.reveal()) })
    }
}
