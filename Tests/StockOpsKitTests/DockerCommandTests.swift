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
                    "--cache-to", "type=registry,ref=harbor.example.com/stocks/trade:buildcache,mode=max",
                    "--metadata-file", "/run/stockops/42/trade-metadata.json",
                    "--push", "services/trade",
                ])
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
        let argv = docker.login(registry: "harbor.example.com", username: "robot$stockops")
            + docker.buildxBuild(try build()) + docker.build(try build())
        #expect(!argv.contains { $0.contains(password.reveal()) })
    }
}
