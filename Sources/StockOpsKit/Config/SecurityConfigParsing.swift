import Foundation
import Yams

/// Reading of `security:`, `gates.coverage.environments` and the `kind: gitops` environments.
extension PipelineConfig {
    static func decodeSecurity(
        _ root: YAMLValue, registry: RegistryConfig, vault: [VaultSecret], environments known: Set<Environment>
    ) throws(ConfigError) -> SecurityConfig {
        var security = SecurityConfig()
        guard let section = try root.optional("security") else { return security }
        _ = try section.mapping(allowed: ["secret-scan", "sast", "sca", "dast", "defectdojo"])

        if let node = try section.optional("secret-scan")?.enabledSection(allowed: ["scanner", "allowlist"]) {
            var config = SecretScanConfig()
            if let scanner = try node.optional("scanner") {
                let text = try scanner.nonEmptyString()
                guard let value = SecretScanConfig.Scanner(rawValue: text) else {
                    throw scanner.error(.invalidValue, "unknown scanner '\(text)'; use auto, gitleaks or trivy")
                }
                config.scanner = value
            }
            config.allowlist = try node.optional("allowlist")?.relativePath()
            security.secretScan = config
        }

        if let node = try section.optional("sast")?.enabledSection(allowed: ["rules", "paths", "blocking"]) {
            var config = SASTConfig()
            config.rules = try node.optional("rules")?.relativePath() ?? config.rules
            if let paths = try node.optional("paths") {
                config.paths = []
                for item in try paths.list() { config.paths.append(try item.relativePath()) }
                guard !config.paths.isEmpty else { throw paths.error(.invalidValue, "list at least one path to scan") }
            }
            config.blocking = try node.optional("blocking")?.bool() ?? config.blocking
            security.sast = config
        }

        if let node = try section.optional("sca")?.enabledSection(allowed: ["blocking", "fail-on", "cache-dir", "db-repository"]) {
            var config = SCAConfig()
            config.blocking = try node.optional("blocking")?.bool() ?? config.blocking
            if let failOn = try node.optional("fail-on") { config.failOn = try failOn.severities() }
            config.cacheDirectory = try node.optional("cache-dir")?.relativePath() ?? config.cacheDirectory
            config.databaseRepository = try node.optional("db-repository")?.nonEmptyString()
            security.sca = config
        }

        if let node = try section.optional("dast")?.enabledSection(allowed: ["environments", "image", "host", "minutes", "rules", "fail-on-warnings"]) {
            var config = DASTConfig()
            if let environments = try node.optional("environments") {
                config.environments = []
                for item in try environments.list() { config.environments.append(try item.environment(known)) }
                guard !config.environments.isEmpty else { throw environments.error(.invalidValue, "list at least one environment, e.g. [stage]") }
            }
            config.image = try node.optional("image")?.nonEmptyString() ?? config.image
            config.host = try node.optional("host")?.nonEmptyString() ?? config.host
            if let minutes = try node.optional("minutes") {
                config.minutes = try minutes.int()
                guard (1...60).contains(config.minutes) else { throw minutes.error(.invalidValue, "must be between 1 and 60 minutes") }
            }
            config.rulesFile = try node.optional("rules")?.relativePath()
            config.failOnWarnings = try node.optional("fail-on-warnings")?.bool() ?? config.failOnWarnings
            security.dast = config
        }

        if let node = try section.optional("defectdojo")?.enabledSection(allowed: ["url", "token-key", "product", "product-type", "repository-engagement"]) {
            var config = DefectDojoConfig(url: try node.required("url").httpURL(), product: try node.optional("product")?.nonEmptyString() ?? registry.project)
            let tokenNode = try node.optional("token-key")
            config.tokenKey = try tokenNode?.nonEmptyString() ?? config.tokenKey
            try (tokenNode ?? node).requireFetched(config.tokenKey, vault: vault, for: "security.defectdojo.token-key")
            config.productType = try node.optional("product-type")?.nonEmptyString() ?? config.productType
            config.repositoryEngagement = try node.optional("repository-engagement")?.nonEmptyString() ?? config.repositoryEngagement
            security.defectDojo = config
        }
        return security
    }

    /// Per-environment minimum coverage under `gates.coverage.environments`.
    static func decodeCoverageOverrides(_ root: YAMLValue, environments known: Set<Environment>) throws(ConfigError) -> [Environment: Double] {
        guard let coverage = try root.optional("gates")?.optional("coverage"), let section = try coverage.optional("environments") else { return [:] }
        var overrides: [Environment: Double] = [:]
        for (environment, value) in try section.environmentMapping(known) {
            let minimum = try value.double()
            guard (0...100).contains(minimum) else { throw value.error(.invalidValue, "must be a percentage between 0 and 100") }
            overrides[environment] = minimum
        }
        return overrides
    }

    /// The `gitops:` settings of every environment with `kind: gitops`.
    static func decodeGitOps(_ root: YAMLValue, vault: [VaultSecret], environments known: Set<Environment>) throws(ConfigError) -> [Environment: GitOpsTarget] {
        guard let section = try root.optional("environments") else { return [:] }
        var targets: [Environment: GitOpsTarget] = [:]
        for (key, value) in try section.mapping() {
            let environment = try value.environmentName(key, known: known)
            let kindNode = try value.optional("kind")
            let kind = try kindNode?.nonEmptyString() ?? "compose"
            guard ["compose", "gitops"].contains(kind) else {
                throw kindNode!.error(.invalidValue, "unknown kind '\(kind)'; use compose or gitops")
            }
            let gitopsNode = try value.optional("gitops")
            guard kind == "gitops" else {
                if let gitopsNode { throw gitopsNode.error(.invalidValue, "gitops: is read only with kind: gitops") }
                continue
            }
            guard let node = gitopsNode else {
                throw ConfigError(
                    code: .missingKey, file: value.file, keyPath: value.path + ".gitops", line: value.line,
                    message: "kind: gitops needs a gitops: mapping with at least repository:")
            }
            _ = try node.mapping(allowed: ["repository", "branch", "overlay", "pin", "author", "token-key", "images", "argocd"])
            let repositoryNode = try node.required("repository")
            let repository = try repositoryNode.nonEmptyString()
            if let url = URL(string: repository), url.scheme != nil, url.password != nil {
                throw repositoryNode.error(.invalidValue, "the URL must not hold credentials; name a fetched secret with gitops.token-key")
            }
            var target = GitOpsTarget(repository: repository, overlay: "overlays/\(environment.rawValue)")
            target.branch = try node.optional("branch")?.gitRefName() ?? target.branch
            target.overlay = try node.optional("overlay")?.relativePath() ?? target.overlay
            if let pin = try node.optional("pin") {
                let text = try pin.nonEmptyString()
                guard let value = GitOpsTarget.Pin(rawValue: text) else { throw pin.error(.invalidValue, "unknown pin '\(text)'; use tag or digest") }
                target.pin = value
            }
            if let author = try node.optional("author") {
                _ = try author.mapping(allowed: ["name", "email"])
                target.authorName = try author.required("name").nonEmptyString()
                let email = try author.required("email")
                target.authorEmail = try email.nonEmptyString()
                guard target.authorEmail.contains("@"), !target.authorEmail.contains(where: { $0 == "<" || $0 == ">" || $0.isNewline }) else {
                    throw email.error(.invalidValue, "'\(target.authorEmail)' is not an e-mail address")
                }
            }
            if let tokenNode = try node.optional("token-key") {
                let key = try tokenNode.nonEmptyString()
                try tokenNode.requireFetched(key, vault: vault, for: tokenNode.path)
                target.tokenKey = key
            }
            if let images = try node.optional("images") {
                for (service, name) in try images.mapping() { target.imageNames[service] = try name.nonEmptyString() }
            }
            if let argo = try node.optional("argocd") {
                _ = try argo.mapping(allowed: ["url", "application", "token-key", "timeout"])
                var argoTarget = ArgoCDTarget(url: try argo.required("url").httpURL(), application: try argo.required("application").nonEmptyString())
                let tokenNode = try argo.optional("token-key")
                argoTarget.tokenKey = try tokenNode?.nonEmptyString() ?? argoTarget.tokenKey
                try (tokenNode ?? argo).requireFetched(argoTarget.tokenKey, vault: vault, for: argo.path + ".token-key")
                if let timeout = try argo.optional("timeout") {
                    argoTarget.timeout = try timeout.int()
                    guard (1...7200).contains(argoTarget.timeout) else { throw timeout.error(.invalidValue, "must be between 1 and 7200 seconds") }
                }
                target.argoCD = argoTarget
            }
            targets[environment] = target
        }
        return targets
    }

    /// Checks that names used as image keys are declared services.
    static func checkGitOpsServices(_ targets: [Environment: GitOpsTarget], services: [ServiceConfig], file: String) throws(ConfigError) {
        for (environment, target) in targets {
            for service in target.imageNames.keys where !services.contains(where: { $0.name == service }) {
                throw ConfigError(
                    code: .invalidValue, file: file, keyPath: "environments.\(environment.rawValue).gitops.images.\(service)", line: nil,
                    message: "'\(service)' is not a declared service")
            }
        }
    }
}

extension YAMLValue {
    /// The settings of a switchable node: nil when `enabled: false`, an empty mapping for an empty value
    /// (`sast:`), else the mapping, whose keys must be in `allowed` or `enabled`.
    func enabledSection(allowed: Set<String>) throws(ConfigError) -> YAMLValue? {
        if case .scalar(let scalar) = node, ["", "~", "null"].contains(scalar.string) {
            return YAMLValue(node: .mapping(Node.Mapping([])), file: file, path: path)
        }
        _ = try mapping(allowed: allowed.union(["enabled"]))
        return try optional("enabled")?.bool() ?? true ? self : nil
    }

    /// A path relative to the repository root, without `..`.
    func relativePath() throws(ConfigError) -> String {
        let value = try nonEmptyString()
        guard !value.hasPrefix("/"), !value.split(separator: "/").contains("..") else {
            throw error(.invalidValue, "'\(value)' must be a path relative to the repository root, without '..'")
        }
        return value
    }

    /// An `http://` or `https://` URL without credentials.
    func httpURL() throws(ConfigError) -> String {
        let value = try nonEmptyString()
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw error(.invalidValue, "'\(value)' is not an http(s) URL, e.g. https://defectdojo.example.com")
        }
        guard url.user == nil, url.password == nil else {
            throw error(.invalidValue, "the URL must not hold credentials; name a fetched secret with token-key")
        }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    /// A branch name git accepts.
    func gitRefName() throws(ConfigError) -> String {
        let value = try nonEmptyString()
        let forbidden: Set<Character> = [" ", "~", "^", ":", "?", "*", "[", "\\"]
        guard !value.hasPrefix("-"), !value.contains(".."), !value.contains(where: { forbidden.contains($0) || $0.isNewline }) else {
            throw error(.invalidValue, "'\(value)' is not a valid branch name")
        }
        return value
    }

    /// One of the `known` environments.
    func environment(_ known: Set<Environment>) throws(ConfigError) -> Environment {
        try environmentName(try nonEmptyString(), known: known)
    }

    func severities() throws(ConfigError) -> [Severity] {
        var values: [Severity] = []
        for item in try list() {
            let text = try item.nonEmptyString()
            guard let severity = Severity(rawValue: text.uppercased()) else {
                throw item.error(.invalidValue, "unknown severity '\(text)'; use one of " + Severity.allCases.map(\.rawValue).joined(separator: ", "))
            }
            values.append(severity)
        }
        guard !values.isEmpty else { throw error(.invalidValue, "list at least one severity") }
        return values
    }

    /// Fails unless `key` is one of the keys fetch-secrets reads.
    func requireFetched(_ key: String, vault: [VaultSecret], for setting: String) throws(ConfigError) {
        guard vault.contains(where: { $0.keys.contains(key) }) else {
            throw error(.invalidValue, "\(setting) names \(key), which fetch-secrets does not read; add \(key) to the keys of a path under vault:")
        }
    }
}
