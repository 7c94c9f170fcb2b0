import Foundation
import Testing

@testable import StockOpsKit

/// A stage handing fixed secrets to the image stages, as fetch-secrets does after a Vault read.
struct ProvideSecrets: Stage {
    var values: [String: String]

    func run(_ context: StageContext) async throws -> FetchedSecrets {
        FetchedSecrets(values: values.mapValues { Secret($0).registered() })
    }
}

/// The Docker engine the image tests use: the one at `DOCKER_HOST` (scripts/test.sh starts one).
enum DockerEngine {
    static func require() throws -> String {
        guard let host = ProcessInfo.processInfo.environment["DOCKER_HOST"], !host.isEmpty else {
            throw FixtureError("DOCKER_HOST is not set: these tests need a Docker engine; run them through scripts/test.sh, which starts one")
        }
        return host
    }

    /// Runs `docker ARGS` against the test engine and returns its standard output.
    @discardableResult
    static func docker(_ arguments: [String], directory: String? = nil) async throws -> String {
        let result = try await ProcessRunner().run(
            Command("docker", arguments, environment: Command.baseEnvironment(adding: ["DOCKER_HOST"]), workingDirectory: directory))
        guard result.succeeded else { throw FixtureError("docker \(arguments.joined(separator: " ")) failed: \(result.output)") }
        return result.output
    }

    /// Builds a small image from `dockerfile` and pushes it to `registry` as `repository:tag`; returns the reference.
    static func pushSmallImage(_ dockerfile: String, files: [String: String] = [:], to registry: LocalRegistry, repository: String, tag: String) async throws
        -> String
    {
        let directory = temporaryDirectory("image-" + repository)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try dockerfile.write(toFile: directory + "/Dockerfile", atomically: true, encoding: .utf8)
        for (name, content) in files { try content.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        let reference = "\(registry.host)/\(repository):\(tag)"
        try await docker(["build", "--quiet", "--tag", reference, directory])
        try await docker(["push", reference])
        return reference
    }
}

@Suite(.serialized) struct ImageStagesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let username = "robot-ci"
    static let password = "harbor-robot-\(UUID().uuidString.prefix(8))"

    static func config(registry: String, scanners: [String] = ["secret"]) throws -> PipelineConfig {
        var config = try PipelineConfig.load(path: root + "/pipelines/stockops.yml")
        config.registry.host = registry
        // scripts/test.sh builds the release binaries into this scratch path before the tests, because a
        // SwiftPM nested in `swift test` cannot take the lock of the tests' own `.build`.
        config.images.scratchPath = ".build-images"
        config.images.scanners = scanners
        return config
    }

    static func settings(_ config: PipelineConfig, secrets: StageRef<FetchedSecrets>?, cache: String) -> ImageSettings {
        ImageSettings(registry: config.registry, images: config.images, secrets: secrets, trivyCacheDirectory: cache)
    }

    static func runDirectory() -> String { temporaryDirectory("image-run") }

    static func scheduler(runDirectory: String) -> Scheduler {
        Scheduler(jobs: 2, runner: ProcessRunner(grace: .seconds(2)), paths: RunPaths(root: root, runDirectory: runDirectory), cache: nil)
    }

    /// The build node tags a checkout with uncommitted changes `uncommitted-…`: the tests of `git-<sha7>` need a clean
    /// one (CI's clone is).
    static func requireCleanCheckout() async throws {
        let status = try await ProcessRunner().run(Command("git", ["-C", root, "status", "--porcelain"])).check("git status").output
        try #require(status.isEmpty, "these tests build the checkout's commit as git-<sha7>: commit or stash the local changes first:\n\(status)")
    }

    static func head() async throws -> String {
        try await ProcessRunner().run(Git(repository: root).resolveCommit("HEAD")).check("git rev-parse HEAD").output.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @Test func anImageUnderTheCommitsTagFromElsewhereIsRebuiltFromTheCommit() async throws {
        _ = try DockerEngine.require()
        try await Self.requireCleanCheckout()
        let registry = try await LocalRegistry.start(.htpasswd(username: Self.username, password: Self.password))
        defer { registry.stop() }
        let config = try Self.config(registry: registry.host)
        let commit = try await Self.head()
        let client = registry.client(RegistryCredentials(username: Self.username, password: Secret(Self.password)))
        // Someone with push rights put another image under the commit's tag before the run.
        let impostor = try await HandmadeImage(seed: "impostor").push(with: client, to: "stockapp/trade", tag: "git-" + commit.prefix(7))

        var graph = GraphBuilder()
        let secrets = graph.add("fetch-secrets", ProvideSecrets(values: ["HARBOR_USERNAME": Self.username, "HARBOR_PASSWORD": Self.password]))
        let settings = Self.settings(config, secrets: secrets, cache: temporaryDirectory("trivy-cache"))
        let service = try #require(config.services.first { $0.name == "trade" })
        let build = graph.add(NodeID("build", key: "trade"), BuildImageStage(service: service, settings: settings))
        graph.add("docker-logout", DockerLogoutStage(settings: settings), policy: .finally, after: [build.id])
        let directory = Self.runDirectory()
        let result = await Self.scheduler(runDirectory: directory).run(try graph.build())
        #expect(result[build.id]?.status == .passed, "\(result[build.id]?.reason ?? "")")
        let built = try #require(result.outputs[build])
        #expect(!built.reused)
        #expect(built.digest != impostor.description)
        let stored = try #require(try await client.digest(of: try RegistryTag.parse(built.tag), in: "stockapp/trade"))
        #expect(stored.description == built.digest)
        #expect(try await client.labels("stockapp/trade", .digest(stored))[RegistryClient.revisionLabel] == commit)
        let log = try String(contentsOfFile: RunPaths(root: Self.root, runDirectory: directory).logPath(for: build.id), encoding: .utf8)
        #expect(log.contains("but its \(RegistryClient.revisionLabel) is missing, not \(commit): rebuilding it from the commit"), "\(log)")
        #expect(!allFiles(under: directory).contains { $0.contains("/images/") }, "the build context is in the run record")
    }

    @Test func buildPushesBothServiceImagesOnceAndReusesTheTag() async throws {
        _ = try DockerEngine.require()
        try await Self.requireCleanCheckout()
        let registry = try await LocalRegistry.start(.htpasswd(username: Self.username, password: Self.password))
        defer { registry.stop() }
        let config = try Self.config(registry: registry.host)
        let cache = temporaryDirectory("trivy-cache")

        func runBuilds() async throws -> (RunResult, String) {
            var graph = GraphBuilder()
            let secrets = graph.add(
                "fetch-secrets", ProvideSecrets(values: ["HARBOR_USERNAME": Self.username, "HARBOR_PASSWORD": Self.password]))
            let settings = Self.settings(config, secrets: secrets, cache: cache)
            var builds: [NodeID] = []
            for service in config.services {
                builds.append(
                    graph.add(
                        NodeID("build", key: service.name), BuildImageStage(service: service, settings: settings),
                        policy: NodePolicy(.gate, resources: ["swiftpm-build"])
                    ).id)
            }
            graph.add("docker-logout", DockerLogoutStage(settings: settings), policy: .finally, after: builds)
            let directory = Self.runDirectory()
            return (await Self.scheduler(runDirectory: directory).run(try graph.build()), directory)
        }

        let commit = try await Self.head()
        let (first, firstDirectory) = try await runBuilds()
        for service in config.services {
            #expect(first[NodeID("build", key: service.name)]?.status == .passed, "\(first[NodeID("build", key: service.name)]?.reason ?? "")")
            let built = try #require(first.outputs[StockOpsPipeline.build(service.name)])
            #expect(built.reused == false)
            #expect(built.tag == "git-" + commit.prefix(7))
            #expect(built.repository == "\(registry.host)/stockapp/\(service.name)")
            let stored = try await registry.client(RegistryCredentials(username: Self.username, password: Secret(Self.password))).digest(
                of: try RegistryTag.parse(built.tag), in: "stockapp/\(service.name)")
            #expect(stored?.description == built.digest)

            // The image carries the OCI labels and runs the service binary as the non-root user.
            let labels = try await DockerEngine.docker(["image", "inspect", "--format", "{{json .Config.Labels}}", "\(built.repository):\(built.tag)"])
            #expect(labels.contains("\"org.opencontainers.image.revision\":\"\(commit)\""))
            let user = try await DockerEngine.docker(["image", "inspect", "--format", "{{.Config.User}}", "\(built.repository):\(built.tag)"])
            #expect(user.trimmingCharacters(in: .whitespacesAndNewlines) == "10001:10001")
        }
        // The password went through stdin, once per run: the logs show --password-stdin and never the password.
        let logs = try config.services.map { service in
            try String(
                contentsOfFile: RunPaths(root: Self.root, runDirectory: firstDirectory).logPath(for: NodeID("build", key: service.name)), encoding: .utf8)
        }.joined()
        #expect(logs.components(separatedBy: " login --username *** --password-stdin ").count == 2)
        #expect(!logs.contains(Self.password))
        #expect(first["docker-logout"]?.status == .passed)
        let firstPaths = RunPaths(root: Self.root, runDirectory: firstDirectory)
        #expect(!FileManager.default.fileExists(atPath: ImageSettings.dockerConfig(firstPaths)), "the per-run Docker configuration outlived the run")
        #expect(!allFiles(under: firstDirectory).contains { $0.hasSuffix("config.json") }, "a Docker configuration is in the run record")

        let (second, _) = try await runBuilds()
        for service in config.services {
            let built = try #require(second.outputs[StockOpsPipeline.build(service.name)])
            #expect(built.reused == true)
            #expect(built.digest == first.outputs[StockOpsPipeline.build(service.name)]?.digest)
        }
    }

    /// `git-<sha7>` is written once and builds are reproducible: the same commit built into another registry gives the
    /// same digest, and two overlapping runs of one commit agree on one digest (the later one reuses the first's image).
    @Test func oneCommitGivesOneDigestAcrossRegistriesAndOverlappingRuns() async throws {
        _ = try DockerEngine.require()
        try await Self.requireCleanCheckout()
        let state = temporaryDirectory("build-state")
        let cache = temporaryDirectory("trivy-cache")

        func build(into registry: LocalRegistry) async throws -> (BuiltImage, String) {
            let config = try Self.config(registry: registry.host)
            let service = try #require(config.services.first { $0.name == "trade" })
            var graph = GraphBuilder()
            var settings = Self.settings(config, secrets: nil, cache: cache)
            settings.processEnvironment = ["STOCKOPS_STATE_DIR": state]
            let node = graph.add(NodeID("build", key: "trade"), BuildImageStage(service: service, settings: settings))
            let directory = Self.runDirectory()
            let result = await Self.scheduler(runDirectory: directory).run(try graph.build())
            #expect(result[node.id]?.status == .passed, "\(result[node.id]?.reason ?? "")")
            let log = try String(contentsOfFile: RunPaths(root: Self.root, runDirectory: directory).logPath(for: node.id), encoding: .utf8)
            return (try #require(result.outputs[node]), log)
        }

        let first = try await LocalRegistry.start()
        defer { first.stop() }
        let second = try await LocalRegistry.start()
        defer { second.stop() }
        let (one, _) = try await build(into: first)
        let (other, _) = try await build(into: second)
        #expect(!one.reused && !other.reused)
        #expect(one.digest == other.digest, "two builds of one commit gave two digests")
        let created = try await DockerEngine.docker([
            "image", "inspect", "--format", "{{index .Config.Labels \"org.opencontainers.image.created\"}}", "\(other.repository):\(other.tag)",
        ])
        let commitTime = try await ProcessRunner().run(Command("git", ["-C", Self.root, "log", "-1", "--format=%cI", "HEAD"])).check("git log").output
        #expect(
            ISO8601DateFormatter().date(from: created.trimmingCharacters(in: .whitespacesAndNewlines))
                == ISO8601DateFormatter().date(from: commitTime.trimmingCharacters(in: .whitespacesAndNewlines)))

        let third = try await LocalRegistry.start()
        defer { third.stop() }
        async let left = build(into: third)
        async let right = build(into: third)
        let (a, b) = try await (left, right)
        #expect(a.0.digest == b.0.digest)
        #expect([a.0.reused, b.0.reused].sorted { !$0 && $1 } == [false, true], "exactly one of the overlapping runs builds")
        #expect((a.0.reused ? a.1 : b.1).contains("another run is building trade git-"), "the waiting run says so")
        let stored = try await third.client().digest(of: try RegistryTag.parse(a.0.tag), in: "stockapp/trade")
        #expect(stored?.description == a.0.digest)
    }

    /// Trivy's secret scanner finds a planted AWS key as CRITICAL: a real finding, not a fixture.
    @Test func scanGateBlocksAPlantedCredentialAndPassesACleanImage() async throws {
        _ = try DockerEngine.require()
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let config = try Self.config(registry: registry.host)
        let clean = try await DockerEngine.pushSmallImage(
            "FROM debian:bookworm-slim\nCOPY motd /etc/motd\n", files: ["motd": "stock app\n"], to: registry, repository: "stockapp/clean", tag: "git-1111111")
        let planted = try await DockerEngine.pushSmallImage(
            "FROM debian:bookworm-slim\nCOPY config.env /app/config.env\n",
            files: ["config.env": "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\nAWS_SECRET_ACCESS_KEY=fGhQ2x8Zt3kLmN0pQrS5tUvW7xYz9AbCdEfGhIjK\n"],
            to: registry, repository: "stockapp/planted", tag: "git-2222222")

        var graph = GraphBuilder()
        let settings = Self.settings(config, secrets: nil, cache: temporaryDirectory("trivy-cache"))
        for (name, reference) in [("clean", clean), ("planted", planted)] {
            let repository = "stockapp/" + name
            let tag = String(reference.split(separator: ":").last!)
            let digest = try #require(try await registry.client().digest(of: try RegistryTag.parse(tag), in: repository))
            let image = graph.add(
                NodeID("build", key: name),
                Fixed(value: BuiltImage(service: name, repository: "\(registry.host)/\(repository)", tag: tag, digest: digest.description, reused: true)))
            graph.add(
                NodeID("scan", key: name), ScanImageStage(image: image, settings: settings, failOn: config.gates.failingSeverities),
                policy: NodePolicy(.gate, resources: [ImageSettings.trivyResource]))
        }
        let directory = Self.runDirectory()
        let result = await Self.scheduler(runDirectory: directory).run(try graph.build())

        #expect(result["scan[clean]"]?.status == .passed, "\(result["scan[clean]"]?.reason ?? "")")
        let report = try #require(result.outputs[StageRef<ScanReport>("scan[clean]")])
        #expect(report.counts["CRITICAL", default: 0] == 0)
        #expect(report.reports.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let sarif = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report.reports[1]))) as? [String: Any]
        #expect(sarif?["version"] as? String == "2.1.0")

        let blocked = try #require(result["scan[planted]"])
        #expect(blocked.status == .failed)
        #expect(blocked.failureKind == .failed)
        #expect(blocked.reason?.contains("CRITICAL aws-access-key-id") == true, "\(blocked.reason ?? "")")
        #expect(result.status == .failed)
        let log = try String(contentsOfFile: RunPaths(root: Self.root, runDirectory: directory).logPath(for: "scan[planted]"), encoding: .utf8)
        #expect(!log.contains("AKIA2E0A8F3B244C9986"), "the planted key was printed")
    }

    /// Without trivy's vulnerability DB (it cannot be downloaded here) the scan is an infrastructure failure
    /// after its retries: never a pass, never "vulnerabilities found".
    @Test func scanWithoutTheVulnerabilityDatabaseIsAnInfrastructureFailure() async throws {
        _ = try DockerEngine.require()
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        var config = try Self.config(registry: registry.host, scanners: ["vuln"])
        config.images.ignoreFile = "no-such-ignore-file"
        let refusing = try RefusingLoopbackPort()
        defer { refusing.close() }
        config.images.trivyDatabaseRepository = "127.0.0.1:\(refusing.port)/trivy-db"
        let reference = try await DockerEngine.pushSmallImage("FROM debian:bookworm-slim\n", to: registry, repository: "stockapp/base", tag: "git-3333333")
        let digest = try #require(try await registry.client().digest(of: try RegistryTag.parse("git-3333333"), in: "stockapp/base"))
        let settings = Self.settings(config, secrets: nil, cache: temporaryDirectory("trivy-cache"))

        var graph = GraphBuilder()
        let image = graph.add(
            "build[base]",
            Fixed(
                value: BuiltImage(
                    service: "base", repository: String(reference.split(separator: ":").dropLast().joined(separator: ":")), tag: "git-3333333",
                    digest: digest.description, reused: true)))
        graph.add(
            "scan[base]", ScanImageStage(image: image, settings: settings, failOn: [.critical]),
            policy: NodePolicy(.gate, retries: 1, retryDelay: .milliseconds(10)))
        let result = await Self.scheduler(runDirectory: Self.runDirectory()).run(try graph.build())

        let scan = try #require(result["scan[base]"])
        #expect(scan.status == .failed)
        #expect(scan.attempts == 2)
        #expect(scan.failureKind == .transient)
        #expect(scan.reason?.contains("database-download") == true, "\(scan.reason ?? "")")
        #expect(result.hasInfrastructureFailure)
    }

    @Test func sbomsInBothFormatsOfThePushedImage() async throws {
        _ = try DockerEngine.require()
        let registry = try await LocalRegistry.start()
        defer { registry.stop() }
        let config = try Self.config(registry: registry.host)
        _ = try await DockerEngine.pushSmallImage("FROM debian:bookworm-slim\n", to: registry, repository: "stockapp/base", tag: "git-4444444")
        let digest = try #require(try await registry.client().digest(of: try RegistryTag.parse("git-4444444"), in: "stockapp/base"))

        var graph = GraphBuilder()
        let image = graph.add(
            "build[base]",
            Fixed(
                value: BuiltImage(service: "base", repository: "\(registry.host)/stockapp/base", tag: "git-4444444", digest: digest.description, reused: true)))
        graph.add("sbom[base]", SBOMStage(image: image, settings: Self.settings(config, secrets: nil, cache: temporaryDirectory("trivy-cache"))))
        let result = await Self.scheduler(runDirectory: Self.runDirectory()).run(try graph.build())

        #expect(result["sbom[base]"]?.status == .passed, "\(result["sbom[base]"]?.reason ?? "")")
        let sbom = try #require(result.outputs[StageRef<SBOMReport>("sbom[base]")])
        // The base image is Debian with libpq5: its packages are components.
        #expect(sbom.components > 50)
        let cycloneDX = try String(contentsOfFile: sbom.cycloneDX, encoding: .utf8)
        #expect(cycloneDX.contains("pkg:deb/debian/libpq5"))
        let spdx = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sbom.spdx))) as? [String: Any]
        #expect(spdx?["spdxVersion"] as? String == "SPDX-2.3")
        #expect(((spdx?["packages"] as? [Any])?.count ?? 0) > 50)
    }
}

/// A stage producing a fixed value, standing in for a node that ran earlier.
struct Fixed<Value: Codable & Sendable>: Stage {
    var value: Value
    func run(_ context: StageContext) async throws -> Value { value }
}
