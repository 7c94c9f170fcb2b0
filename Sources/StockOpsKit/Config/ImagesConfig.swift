/// How images are built, scanned, signed and analysed: the `images:` and `sonarqube:` sections.
public struct ImagesConfig: Sendable, Equatable, Codable {
    /// `swift build -c` of the service binaries copied into the images.
    public var buildConfiguration: String = "release"
    /// SwiftPM's `--scratch-path` for those builds, relative to the repository root; SwiftPM's `.build` when nil.
    public var scratchPath: String?
    /// Recorded as `org.opencontainers.image.source`; the `origin` remote when unset.
    public var sourceURL: String?
    /// trivy `--scanners` of the image scan. Vulnerability scanning needs trivy's DB on the runner.
    public var scanners: [String] = ["vuln", "secret"]
    /// trivy `--db-repository`, such as a registry proxy of `ghcr.io/aquasecurity/trivy-db`; trivy's default when nil.
    public var trivyDatabaseRepository: String?
    /// The trivy ignore file, relative to the repository root.
    public var ignoreFile: String = ".trivyignore"
    /// Whether `sign[*]` must run: false reports a missing cosign as a skip.
    public var signRequired: Bool = false
    /// `images.sign.tool`: cosign, the native signer, or (auto) cosign when installed and native otherwise.
    public var signTool: SignTool = .auto
    /// Keyless signing identity and OIDC issuer; key mode (the key from Vault) when nil.
    public var keylessIdentity: String?
    public var keylessIssuer: String?
    /// `images.sign.public-keys`: PEM files (relative to the repository root) of the keys deploys and rollbacks trust,
    /// besides `SIGNING_PUBLIC_KEY` from Vault.
    public var publicKeyFiles: [String] = []
    /// The SonarQube server; `sonar[*]` is skipped when unset.
    public var sonarHostURL: String?
    /// Whether `sonar[*]` must run: false reports a missing sonar-scanner or server as a skip.
    public var sonarRequired: Bool = false
    /// Whether the server analyses branches and pull requests (Developer Edition or above): only then does the
    /// scanner get `sonar.branch.name` or `sonar.pullrequest.*`, which the Community Edition refuses.
    public var sonarBranches: Bool = false

    public init() {}

    static let scannerNames: Set<String> = ["vuln", "secret", "misconfig", "license"]

    static func decode(images: YAMLValue?, sonarqube: YAMLValue?) throws(ConfigError) -> ImagesConfig {
        var config = ImagesConfig()
        if let images {
            _ = try images.mapping(allowed: ["build-configuration", "scratch-path", "source-url", "scanners", "trivy-db-repository", "ignore-file", "sign"])
            if let node = try images.optional("build-configuration") {
                let value = try node.nonEmptyString()
                guard ["debug", "release"].contains(value) else {
                    throw node.error(.invalidValue, "'\(value)' is not a SwiftPM configuration; use debug or release")
                }
                config.buildConfiguration = value
            }
            config.scratchPath = try images.optional("scratch-path")?.nonEmptyString()
            config.sourceURL = try images.optional("source-url")?.nonEmptyString()
            if let node = try images.optional("scanners") {
                config.scanners = try node.strings()
                if let unknown = config.scanners.first(where: { !scannerNames.contains($0) }) {
                    throw node.error(.invalidValue, "unknown trivy scanner '\(unknown)'; use " + scannerNames.sorted().joined(separator: ", "))
                }
                guard !config.scanners.isEmpty else { throw node.error(.invalidValue, "list at least one scanner") }
            }
            config.trivyDatabaseRepository = try images.optional("trivy-db-repository")?.nonEmptyString()
            config.ignoreFile = try images.optional("ignore-file")?.nonEmptyString() ?? config.ignoreFile
            if let sign = try images.optional("sign") {
                _ = try sign.mapping(allowed: ["required", "keyless", "tool", "public-keys"])
                config.publicKeyFiles = try sign.optional("public-keys")?.strings() ?? []
                config.signRequired = try sign.optional("required")?.bool() ?? false
                if let node = try sign.optional("tool") {
                    let value = try node.nonEmptyString()
                    guard let tool = SignTool(rawValue: value) else {
                        throw node.error(.invalidValue, "'\(value)' is not a signer; use " + SignTool.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    config.signTool = tool
                }
                if let keyless = try sign.optional("keyless") {
                    _ = try keyless.mapping(allowed: ["identity", "issuer"])
                    config.keylessIdentity = try keyless.required("identity").nonEmptyString()
                    config.keylessIssuer = try keyless.required("issuer").nonEmptyString()
                    if config.signTool == .native {
                        throw keyless.error(.invalidValue, "keyless signing needs cosign; use tool: cosign or auto")
                    }
                }
            }
        }
        if let sonarqube {
            _ = try sonarqube.mapping(allowed: ["host-url", "required", "branches"])
            if let node = try sonarqube.optional("host-url") {
                let url = try node.nonEmptyString()
                guard url.hasPrefix("https://") || url.hasPrefix("http://") else { throw node.error(.invalidValue, "'\(url)' is not an http(s) URL") }
                config.sonarHostURL = url
            }
            config.sonarRequired = try sonarqube.optional("required")?.bool() ?? false
            config.sonarBranches = try sonarqube.optional("branches")?.bool() ?? false
        }
        return config
    }
}
