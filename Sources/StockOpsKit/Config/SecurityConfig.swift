/// The security nodes switched on under `security:` in `pipelines/stockops.yml`.
///
/// A node runs when its key is present (an empty mapping is enough) and `enabled` is not `false`.
public struct SecurityConfig: Sendable, Equatable {
    public var secretScan: SecretScanConfig?
    public var sast: SASTConfig?
    public var sca: SCAConfig?
    public var dast: DASTConfig?
    public var defectDojo: DefectDojoConfig?

    public init(
        secretScan: SecretScanConfig? = nil, sast: SASTConfig? = nil, sca: SCAConfig? = nil, dast: DASTConfig? = nil, defectDojo: DefectDojoConfig? = nil
    ) {
        self.secretScan = secretScan
        self.sast = sast
        self.sca = sca
        self.dast = dast
        self.defectDojo = defectDojo
    }
}

/// `secret-scan`: gitleaks when installed, else trivy's secret scanner, over the work tree.
public struct SecretScanConfig: Sendable, Equatable {
    /// Which scanner runs.
    public enum Scanner: String, Sendable, Equatable, CaseIterable {
        /// gitleaks when it is on `PATH`, else trivy.
        case auto
        case gitleaks
        case trivy
    }

    public var scanner: Scanner = .auto
    /// The allowlist, relative to the root; nil for none.
    public var allowlist: String?

    public init(scanner: Scanner = .auto, allowlist: String? = nil) {
        self.scanner = scanner
        self.allowlist = allowlist
    }
}

/// `sast`: semgrep with the repository's rules.
public struct SASTConfig: Sendable, Equatable {
    /// The rules directory or file, relative to the root.
    public var rules: String = "pipelines/semgrep"
    /// The scanned paths, relative to the root.
    public var paths: [String] = ["Sources/", "services/"]
    /// Whether findings fail the run (gate) instead of being reported (allow-failure).
    public var blocking: Bool = false

    public init(rules: String = "pipelines/semgrep", paths: [String] = ["Sources/", "services/"], blocking: Bool = false) {
        self.rules = rules
        self.paths = paths
        self.blocking = blocking
    }
}

/// `sca`: trivy's vulnerability scan of `Package.resolved`.
public struct SCAConfig: Sendable, Equatable {
    /// Whether findings fail the run (gate) instead of being reported (allow-failure).
    public var blocking: Bool = true
    /// Severities that fail the node; nil for `gates.vulnerabilities.fail-on`.
    public var failOn: [Severity]?
    /// trivy's cache with the vulnerability DB, relative to the root.
    public var cacheDirectory: String = ".stockops/trivy-cache"
    /// `--db-repository`, such as a registry mirror of `trivy-db`.
    public var databaseRepository: String?

    public init(blocking: Bool = true, failOn: [Severity]? = nil, cacheDirectory: String = ".stockops/trivy-cache", databaseRepository: String? = nil) {
        self.blocking = blocking
        self.failOn = failOn
        self.cacheDirectory = cacheDirectory
        self.databaseRepository = databaseRepository
    }
}

/// `dast[<environment>]`: an OWASP ZAP baseline scan of the deployed services.
public struct DASTConfig: Sendable, Equatable {
    /// The environments scanned after their deployment.
    public var environments: [Environment] = [.stage]
    /// ZAP's container image.
    public var image: String = "ghcr.io/zaproxy/zaproxy:stable"
    /// The host the services answer on; each service is scanned at `http://<host>:<port of the environment>`.
    public var host: String = "127.0.0.1"
    /// Minutes ZAP spiders each target (`-m`).
    public var minutes: Int = 1
    /// A ZAP rules file (`-c`), relative to the root, turning rules into FAIL, WARN or IGNORE.
    public var rulesFile: String?
    /// Whether the node fails (as allowed failure) on warnings too, not only on FAIL rules.
    public var failOnWarnings: Bool = false

    public init(
        environments: [Environment] = [.stage], image: String = "ghcr.io/zaproxy/zaproxy:stable", host: String = "127.0.0.1", minutes: Int = 1,
        rulesFile: String? = nil, failOnWarnings: Bool = false
    ) {
        self.environments = environments
        self.image = image
        self.host = host
        self.minutes = minutes
        self.rulesFile = rulesFile
        self.failOnWarnings = failOnWarnings
    }
}

/// `defectdojo`: imports every report of the run into DefectDojo.
public struct DefectDojoConfig: Sendable, Equatable {
    /// The server, such as `https://defectdojo.example.com`.
    public var url: String
    /// The fetched secret holding the API v2 key.
    public var tokenKey: String = "DEFECTDOJO_API_KEY"
    /// `product_name`; created on first import.
    public var product: String
    /// `product_type_name` of a created product.
    public var productType: String = "stockops"
    /// The engagement of reports that belong to no single service (secret scan, SAST, SCA).
    public var repositoryEngagement: String = "repository"

    public init(
        url: String, tokenKey: String = "DEFECTDOJO_API_KEY", product: String, productType: String = "stockops", repositoryEngagement: String = "repository"
    ) {
        self.url = url
        self.tokenKey = tokenKey
        self.product = product
        self.productType = productType
        self.repositoryEngagement = repositoryEngagement
    }
}

/// How a `kind: gitops` environment deploys: an image update in a Kustomize overlay of an infrastructure repository.
public struct GitOpsTarget: Sendable, Equatable {
    /// What the overlay pins an image by.
    public enum Pin: String, Sendable, Equatable, CaseIterable {
        /// `newTag: git-<sha7>`.
        case tag
        /// `digest: sha256:…`.
        case digest
    }

    /// The infrastructure repository: a URL or a local path `git clone` accepts.
    public var repository: String
    public var branch: String = "main"
    /// The overlay directory holding `kustomization.yaml`, relative to the infrastructure repository.
    public var overlay: String
    public var pin: Pin = .digest
    /// The author (and committer) of deploy and rollback commits.
    public var authorName: String = "stockops"
    public var authorEmail: String = "stockops@localhost"
    /// The fetched secret holding an HTTPS token for pushing; nil when the URL needs none (SSH, local).
    public var tokenKey: String?
    /// Kustomize image names by service; by default the service's registry repository (`host/project/service`).
    public var imageNames: [String: String] = [:]
    /// The Argo CD application to wait for; nil to return once pushed.
    public var argoCD: ArgoCDTarget?

    public init(
        repository: String, branch: String = "main", overlay: String, pin: Pin = .digest, authorName: String = "stockops",
        authorEmail: String = "stockops@localhost", tokenKey: String? = nil, imageNames: [String: String] = [:], argoCD: ArgoCDTarget? = nil
    ) {
        self.repository = repository
        self.branch = branch
        self.overlay = overlay
        self.pin = pin
        self.authorName = authorName
        self.authorEmail = authorEmail
        self.tokenKey = tokenKey
        self.imageNames = imageNames
        self.argoCD = argoCD
    }

    /// The overlay's `kustomization.yaml`, relative to the infrastructure repository.
    public var kustomizationPath: String {
        (overlay.hasSuffix("/") ? overlay : overlay + "/") + "kustomization.yaml"
    }
}

/// The Argo CD application a GitOps deployment waits for.
public struct ArgoCDTarget: Sendable, Equatable {
    /// The server, such as `https://argocd.example.com`.
    public var url: String
    public var application: String
    /// The fetched secret holding the API token.
    public var tokenKey: String = "ARGOCD_TOKEN"
    /// Seconds to wait for Synced and Healthy at the pushed revision.
    public var timeout: Int = 300

    public init(url: String, application: String, tokenKey: String = "ARGOCD_TOKEN", timeout: Int = 300) {
        self.url = url
        self.application = application
        self.tokenKey = tokenKey
        self.timeout = timeout
    }
}
