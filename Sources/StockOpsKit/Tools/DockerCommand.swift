import Foundation

/// Argv builders for the `docker` CLI. Pure values: nothing is executed here.
///
/// Every command uses a per-run client configuration directory (`--config`), so a login never touches the
/// user's `~/.docker` and ends with the run. The password reaches `docker login` on standard input
/// (`--password-stdin`), never in argv.
public struct DockerCommand: Sendable, Equatable {
    /// The executable, `docker` unless configured.
    public var executable: String
    /// The per-run client configuration directory passed as `--config`.
    public var configDirectory: String

    public init(executable: String = "docker", configDirectory: String) {
        self.executable = executable
        self.configDirectory = configDirectory
    }

    /// What `docker buildx build` (or `docker build`) gets.
    public struct Build: Sendable, Equatable {
        /// The build context directory.
        public var context: String
        /// The Dockerfile, relative to the working directory.
        public var dockerfile: String
        /// Where the image goes, such as `harbor.example.com/stocks/trade:git-abc1234`.
        public var image: ImageReference
        /// The full commit SHA, recorded as `org.opencontainers.image.revision`.
        public var revision: String
        /// The repository URL, recorded as `org.opencontainers.image.source`.
        public var source: String
        /// RFC 3339 creation time, recorded as `org.opencontainers.image.created`.
        public var created: String
        /// A registry reference for the build cache (`--cache-from`/`--cache-to type=registry`), such as
        /// `harbor.example.com/stocks/trade:buildcache`.
        public var cache: ImageReference?
        /// Whether the build also writes ``cache`` (`--cache-to`), which needs a builder that exports cache
        /// (``BuildxBuilder/exportsRegistryCache``); it is only read (`--cache-from`) otherwise.
        public var exportsCache: Bool
        /// Where buildx writes its metadata JSON (with `containerimage.digest`).
        public var metadataFile: String?
        public var platform: String?
        public var buildArguments: [(String, String)]

        public init(
            context: String, dockerfile: String, image: ImageReference, revision: String, source: String, created: String,
            cache: ImageReference? = nil, exportsCache: Bool = true, metadataFile: String? = nil, platform: String? = nil,
            buildArguments: [(String, String)] = []
        ) {
            self.context = context
            self.dockerfile = dockerfile
            self.image = image
            self.revision = revision
            self.source = source
            self.created = created
            self.cache = cache
            self.exportsCache = exportsCache
            self.metadataFile = metadataFile
            self.platform = platform
            self.buildArguments = buildArguments
        }

        public static func == (lhs: Build, rhs: Build) -> Bool {
            lhs.context == rhs.context && lhs.dockerfile == rhs.dockerfile && lhs.image == rhs.image
                && lhs.revision == rhs.revision && lhs.source == rhs.source && lhs.created == rhs.created
                && lhs.cache == rhs.cache && lhs.exportsCache == rhs.exportsCache && lhs.metadataFile == rhs.metadataFile && lhs.platform == rhs.platform
                && lhs.buildArguments.elementsEqual(rhs.buildArguments, by: { $0 == $1 })
        }

        /// The OCI annotation labels, in a fixed order.
        var labels: [String] {
            [
                "org.opencontainers.image.revision=\(revision)",
                "org.opencontainers.image.source=\(source)",
                "org.opencontainers.image.created=\(created)",
            ]
        }

        var commonArguments: [String] {
            var arguments = ["--file", dockerfile, "--tag", image.description]
            for label in labels { arguments += ["--label", label] }
            if let platform { arguments += ["--platform", platform] }
            for (name, value) in buildArguments { arguments += ["--build-arg", "\(name)=\(value)"] }
            return arguments
        }
    }

    private func docker(_ arguments: [String]) -> [String] {
        [executable, "--config", configDirectory] + arguments
    }

    /// `docker login --username U --password-stdin REGISTRY`; write the password to the process's standard input.
    public func login(registry: String, username: String) -> [String] {
        docker(["login", "--username", username, "--password-stdin", registry])
    }

    public func logout(registry: String) -> [String] {
        docker(["logout", registry])
    }

    /// `docker buildx version`: exits 0 when the buildx plugin is installed.
    public func buildxVersion() -> [String] {
        docker(["buildx", "version"])
    }

    /// `docker buildx inspect`: the selected builder, read by ``BuildxBuilder/parse(inspectOutput:)``.
    public func buildxInspect() -> [String] {
        docker(["buildx", "inspect"])
    }

    /// `docker buildx build … --push`: builds and pushes in one step, with the registry build cache. The cache is
    /// written as an OCI image manifest with OCI media types (`image-manifest=true,oci-mediatypes=true`), which
    /// registries such as Harbor accept where they refuse BuildKit's default cache index.
    public func buildxBuild(_ build: Build) -> [String] {
        var arguments = ["buildx", "build"] + build.commonArguments
        if let cache = build.cache {
            arguments += ["--cache-from", "type=registry,ref=\(cache)"]
            if build.exportsCache {
                arguments += ["--cache-to", "type=registry,ref=\(cache),mode=max,image-manifest=true,oci-mediatypes=true"]
            }
        }
        if let metadataFile = build.metadataFile { arguments += ["--metadata-file", metadataFile] }
        arguments += ["--push", build.context]
        return docker(arguments)
    }

    /// `docker build` without buildx: the fallback, followed by ``push(_:)``.
    public func build(_ build: Build) -> [String] {
        docker(["build"] + build.commonArguments + [build.context])
    }

    public func push(_ image: ImageReference) -> [String] {
        docker(["push", image.description])
    }

    /// `docker image inspect --format FORMAT IMAGE`, such as `{{.Id}}` or `{{json .RepoDigests}}`.
    public func imageInspect(_ image: String, format: String) -> [String] {
        docker(["image", "inspect", "--format", format, image])
    }

    /// The pushed digest from a buildx `--metadata-file` (its `containerimage.digest`).
    public static func parseMetadata(_ data: Data) throws -> ImageDigest {
        // Any parse error becomes the ToolOutputError below, which says what was expected.
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ToolOutputError(.unparsable, "the buildx metadata file is not a JSON object")
        }
        guard let text = object["containerimage.digest"] as? String else {
            throw ToolOutputError(.unparsable, "the buildx metadata file has no containerimage.digest")
        }
        guard let digest = ImageDigest(text) else {
            throw ToolOutputError(.unparsable, "containerimage.digest \"\(text)\" is not a sha256 digest")
        }
        return digest
    }
}

/// The selected buildx builder, as `docker buildx inspect` prints it (`commands/inspect.go` in docker/buildx): a
/// `Driver:` line, then per node a `Labels:` block of its BuildKit worker labels.
public struct BuildxBuilder: Sendable, Equatable {
    /// The worker label BuildKit sets to the containerd snapshotter's name. Docker's own BuildKit sets it only
    /// with the containerd image store.
    public static let snapshotterLabel = "org.mobyproject.buildkit.worker.snapshotter"

    public var name: String
    /// `docker`, `docker-container`, `kubernetes` or `remote`.
    public var driver: String
    /// The worker labels of all nodes.
    public var workerLabels: [String: String]

    public init(name: String, driver: String, workerLabels: [String: String] = [:]) {
        self.name = name
        self.driver = driver
        self.workerLabels = workerLabels
    }

    /// Whether `--cache-to type=registry` works, as buildx decides it (`driver/docker/driver.go` `Features`): every
    /// driver but `docker` exports cache; the `docker` driver only when Docker uses the containerd image store,
    /// which shows as a worker with a snapshotter label.
    public var exportsRegistryCache: Bool {
        driver != "docker" || workerLabels[Self.snapshotterLabel] != nil
    }

    /// Reads `docker buildx inspect` output; throws when it names no driver.
    public static func parse(inspectOutput output: String) throws -> BuildxBuilder {
        var name: String?
        var driver: String?
        var labels: [String: String] = [:]
        var inLabels = false
        for line in output.split(whereSeparator: \.isNewline) {
            let indented = line.first?.isWhitespace ?? false
            if inLabels && indented {
                if let colon = line.firstIndex(of: ":") {
                    labels[line[..<colon].trimmingCharacters(in: .whitespaces)] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                continue
            }
            inLabels = line.trimmingCharacters(in: .whitespaces) == "Labels:"
            if let value = field("Name:", in: line), name == nil { name = value }
            if let value = field("Driver:", in: line), driver == nil { driver = value }
        }
        guard let driver, !driver.isEmpty else { throw ToolOutputError(.unparsable, "docker buildx inspect printed no Driver: line") }
        return BuildxBuilder(name: name ?? "", driver: driver, workerLabels: labels)
    }

    private static func field(_ key: String, in line: Substring) -> String? {
        guard line.hasPrefix(key) else { return nil }
        return line.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
    }
}

/// A tool's output that could not be read.
public struct ToolOutputError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unparsable
        /// An argument the command refuses, such as a reference without a digest.
        case invalidArgument = "invalid-argument"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
