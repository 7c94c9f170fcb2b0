import CurlHTTP
import Foundation

/// The image of one service in a release: its repository in the registry and the digest every tag points to.
public struct ReleaseImage: Codable, Sendable, Equatable {
    public var service: String
    /// `project/service`, without the registry host.
    public var repository: String
    public var digest: ImageDigest

    public init(service: String, repository: String, digest: ImageDigest) {
        self.service = service
        self.repository = repository
        self.digest = digest
    }
}

/// What `promote` produces: the environment's tag, re-tagged in the registry onto the built digests.
public struct Promotion: Codable, Sendable, Equatable {
    public var environment: Environment
    /// `dev-<sha7>`, `stage-<sha7>` or `v<semver>`.
    public var tag: RegistryTag
    /// Tags moved only once the deploy passed its smoke test (`latest` in prod).
    public var followingTags: [RegistryTag]
    /// The short commit the images were built from.
    public var commit: String
    public var images: [ReleaseImage]
    /// Prod: whether every digest carried a verified stage proof (nil outside prod).
    public var verifiedInStage: Bool?
    /// Prod: the stage proof check was overridden with `--force-unverified`.
    public var forceUnverified: Bool

    public init(
        environment: Environment, tag: RegistryTag, followingTags: [RegistryTag], commit: String, images: [ReleaseImage], verifiedInStage: Bool?,
        forceUnverified: Bool
    ) {
        self.environment = environment
        self.tag = tag
        self.followingTags = followingTags
        self.commit = commit
        self.images = images
        self.verifiedInStage = verifiedInStage
        self.forceUnverified = forceUnverified
    }

    /// Digest per service, as the ledger records them.
    public var digests: [String: String] {
        Dictionary(uniqueKeysWithValues: images.map { ($0.service, $0.digest.description) })
    }
}

/// A release tag could not be computed.
public struct ReleaseTagError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The tags of a release in an environment.
public enum ReleaseTags {
    /// The short commit of a `git-<sha7>` build tag.
    public static func commit(ofBuildTag tag: String) throws(ReleaseTagError) -> String {
        if tag.hasPrefix("uncommitted-"), let sha = tag.split(separator: "-").dropFirst().first, sha.count == 7, sha.allSatisfy(\.isHexDigit) {
            return String(sha)
        }
        guard tag.hasPrefix("git-") else {
            throw ReleaseTagError(message: "build tag \"\(tag)\" is not git-<sha7>; the build stage must push the immutable git-<sha7> tag first")
        }
        let sha = String(tag.dropFirst(4))
        guard sha.count >= 7, sha.allSatisfy(\.isHexDigit) else {
            throw ReleaseTagError(message: "build tag \"\(tag)\" is not git-<sha7>")
        }
        return sha
    }

    /// The environment's tag from its template (`dev-{sha7}`, `stage-{sha7}`, `{ref}`), and the tags that follow a
    /// successful deploy (`latest` for an environment that requires approval, i.e. prod).
    ///
    /// In prod the tag must be a semantic version (`v1.2.3`), taken from the Git tag in `ref` (`refs/tags/v1.2.3`).
    public static func compute(environment: Environment, config: EnvironmentConfig, commit: String, ref: String?) throws(ReleaseTagError) -> (
        tag: RegistryTag, following: [RegistryTag]
    ) {
        if config.tag.contains("{ref}"), ref?.isEmpty ?? true {
            throw ReleaseTagError(
                message: "the \(environment.rawValue) tag \"\(config.tag)\" needs the Git ref: run on a tag push (GITHUB_REF=refs/tags/vX.Y.Z)")
        }
        let rendered = ImageTag(template: config.tag, commit: commit, ref: ref ?? "").value
        let tag: RegistryTag
        do {
            tag = environment == .prod ? try RegistryTag.version(rendered) : try RegistryTag.parse(rendered)
        } catch {
            throw ReleaseTagError(message: "the \(environment.rawValue) tag rendered from \"\(config.tag)\" is invalid: \(error.message)")
        }
        if tag.name == "latest" {
            throw ReleaseTagError(message: "the \(environment.rawValue) tag must not be latest")
        }
        return (tag, environment == .prod ? [RegistryTag("latest")!] : [])
    }
}

/// How the deploy stages and commands reach the registry of `pipelines/stockops.yml`.
public enum RegistryAccess {
    /// `config` with the registry host the image stages use: `STOCKOPS_REGISTRY` when set.
    public static func effective(_ config: PipelineConfig, environment: RunEnvironment) -> PipelineConfig {
        var config = config
        if let host = environment.registryHost { config.registry.host = host }
        return config
    }

    /// The registry credentials: `STOCKOPS_REGISTRY_USERNAME`/`STOCKOPS_REGISTRY_PASSWORD` when set (an override,
    /// registered for masking), else `HARBOR_USERNAME`/`HARBOR_PASSWORD` fetched from Vault; anonymous otherwise.
    public static func credentials(fetched: FetchedSecrets?, environment: RunEnvironment) -> RegistryCredentials? {
        if let login = environment.registryLogin {
            return RegistryCredentials(username: login.username, password: Secret(login.password).registered())
        }
        if let username = fetched?["HARBOR_USERNAME"], let password = fetched?["HARBOR_PASSWORD"], !username.isEmpty {
            return RegistryCredentials(username: username.reveal(), password: password)
        }
        return nil
    }

    /// The registry credentials of a command that runs outside the pipeline (`rollback`, `status`, `doctor`), found
    /// the way the pipeline finds them: `STOCKOPS_REGISTRY_USERNAME`/`_PASSWORD` when set (an override), else
    /// `HARBOR_USERNAME`/`HARBOR_PASSWORD` read from Vault with the CI AppRole (``readFromVault(_:config:environment:)``).
    /// Anonymous (nil) when neither is configured.
    public static func credentials(config: PipelineConfig, environment: RunEnvironment) async throws(StockOpsError) -> RegistryCredentials? {
        if let overriding = credentials(fetched: nil, environment: environment) { return overriding }
        return try await credentials(vault: readFromVault(registryKeys, config: config, environment: environment), config: config)
    }

    static let registryKeys: Set<String> = ["HARBOR_USERNAME", "HARBOR_PASSWORD"]

    /// What a command outside the pipeline (`rollback`, `tags`, `verify`) needs of the registry: its credentials
    /// (``credentials(config:environment:)``) and, with `keys`, the trusted public keys (``ReleaseTrust``: the
    /// `images.sign.public-keys` files, else `SIGNING_PUBLIC_KEY`), read from Vault in one login.
    static func outsidePipeline(config: PipelineConfig, root: String, environment: RunEnvironment, keys: Bool) async throws(StockOpsError)
        -> (credentials: RegistryCredentials?, trust: ReleaseTrust)
    {
        let overriding = credentials(fetched: nil, environment: environment)
        let wanted = (overriding == nil ? registryKeys : []).union(keys ? [SignImageStage.publicKeyKey] : [])
        let vault = wanted.isEmpty ? nil : try await readFromVault(wanted, config: config, environment: environment)
        var found = overriding
        if found == nil { found = try credentials(vault: vault, config: config) }
        do {
            let publicKey = vault.map { FetchedSecrets(values: $0.values.filter { $0.key == SignImageStage.publicKeyKey }) }
            return (found, try ReleaseTrust.resolve(config: config, root: root, secrets: publicKey))
        } catch {
            throw StockOpsError(.config, error.message)
        }
    }

    /// The credentials in values read from Vault; nil when nothing was read, an error when the keys are missing.
    static func credentials(vault: FetchedSecrets?, config: PipelineConfig) throws(StockOpsError) -> RegistryCredentials? {
        guard let vault, !vault.paths.isEmpty else { return nil }
        guard let found = credentials(fetched: vault, environment: [:]) else {
            let path = config.vault.first { !$0.keys.filter(registryKeys.contains).isEmpty }?.path ?? "Vault"
            throw StockOpsError(
                .infrastructure,
                "registry credentials: \(path) in Vault has no HARBOR_USERNAME and HARBOR_PASSWORD; write them there or set STOCKOPS_REGISTRY_USERNAME and STOCKOPS_REGISTRY_PASSWORD"
            )
        }
        return found
    }

    /// Reads `keys` from Vault with the CI AppRole (`VAULT_ADDR`, `VAULT_ROLE_ID`, `VAULT_SECRET_ID` or their `_FILE`
    /// forms), from the paths `vault:` of `pipelines/stockops.yml` declares them at, and revokes the token. Only those
    /// keys are kept. Nil when Vault is not configured or no path declares one of them.
    public static func readFromVault(_ keys: Set<String>, config: PipelineConfig, environment: RunEnvironment) async throws(StockOpsError) -> FetchedSecrets? {
        let paths = config.vault.filter { !$0.keys.filter(keys.contains).isEmpty }
        guard !paths.isEmpty, let settings = VaultSettings(environment: environment) else { return nil }
        let what = keys.sorted().joined(separator: ", ")
        let client = settings.client()
        do {
            _ = try await settings.login(client)
        } catch let error as VaultError {
            throw StockOpsError(.infrastructure, "reading \(what) from Vault: " + FetchSecretsStage.failure(error, path: nil).message)
        } catch let error as StageFailure {
            throw StockOpsError(.infrastructure, "reading \(what) from Vault: " + error.message)
        } catch {
            throw StockOpsError(.infrastructure, "reading \(what) from Vault: \(error)")
        }
        var fetched = FetchedSecrets()
        for path in paths {
            let values: [String: Secret]
            do {
                values = try await FetchSecretsStage.values(path.path, client: client)
            } catch {
                // A token left to expire on its own is harmless; the read failure below is what gets reported.
                await Task { try? await client.revokeSelf() }.value
                throw StockOpsError(
                    .infrastructure,
                    "cannot read \(path.path) from Vault: \(error.message); grant the AppRole read on it, or set what it provides another way (see docs/stockops.md)"
                )
            }
            let wanted = values.filter { keys.contains($0.key) }
            fetched.values.merge(wanted) { $1 }
            fetched.paths[path.path] = wanted.keys.sorted()
        }
        // The values are read; a token left to expire on its own is harmless, so a failed revocation is ignored.
        await Task { try? await client.revokeSelf() }.value
        return fetched
    }

    /// A client of `registry` (plain HTTP for a loopback host, as Docker treats them; HTTPS otherwise).
    public static func client(_ registry: RegistryConfig, credentials: RegistryCredentials?) -> RegistryClient {
        RegistryClient(baseURL: registry.baseURL, credentials: credentials, http: http)
    }

    static let http = HTTPClientConfiguration(
        connectTimeout: .seconds(5), totalTimeout: .seconds(60),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(250), maxDelay: .seconds(2)))
}
