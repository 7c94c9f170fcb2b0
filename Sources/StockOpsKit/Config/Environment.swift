/// A deployment environment, named in `environments:` of the pipeline (dev, stage and prod unless it lists more).
///
/// dev, stage and prod are the promotion chain: a stage deploy proves the digests it ran, and prod takes only digests
/// stage proved, as version tags. Any other environment (a `qa`, a preview) deploys like stage without writing proofs.
public struct Environment: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// An environment named `rawValue`: lowercase letters, digits and `-`, starting with a letter, at most 32
    /// characters (it becomes part of Compose project, AppRole and Vault path names).
    public init?(rawValue: String) {
        guard Self.isValidName(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(known name: String) {
        rawValue = name
    }

    public static let dev = Environment(known: "dev")
    public static let stage = Environment(known: "stage")
    public static let prod = Environment(known: "prod")

    /// The environments of a pipeline that does not list any: dev, stage and prod, in promotion order.
    public static let standard: [Environment] = [.dev, .stage, .prod]

    public var description: String { rawValue }

    /// Promotion order: dev, stage, prod, then every other environment by name.
    public static func < (lhs: Environment, rhs: Environment) -> Bool {
        let left = standard.firstIndex(of: lhs) ?? standard.count
        let right = standard.firstIndex(of: rhs) ?? standard.count
        return left == right ? lhs.rawValue < rhs.rawValue : left < right
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.utf8.count <= 32 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// What a name that is not an environment name gets told.
    static let nameRule = "an environment name is lowercase letters, digits and '-', starting with a letter, at most 32 characters"
}

/// How an environment is reached and what its images are called.
public struct EnvironmentConfig: Sendable, Equatable, Codable {
    /// Git ref pattern selecting the environment: `refs/heads/develop`, `refs/heads/release/**`, `refs/tags/v*.*.*`.
    public var ref: String
    /// Image tag template: `{sha7}` is the short commit, `{ref}` the last component of the ref (e.g. `v1.2.3`).
    public var tag: String
    /// Whether deploying needs a manual approval.
    public var approval: Bool
    /// `runs-on` labels of the self-hosted runner that reaches the environment's Docker engine (`runner:`); nil for
    /// the default, ``RunnerLabels/defaults(for:)``.
    public var runner: [String]?
    /// `verify:` what a deploy or rollback checks before anything runs: every digest's signature, or nothing.
    public var verify: DeployVerification
    /// `strategy: canary`: how a deploy lets the new version earn its traffic; nil for `strategy: switch` (the default:
    /// all traffic at once after the smoke test).
    public var canary: CanaryPolicy?
    /// `variables:`: what the Compose file of the environment reads besides what stockops sets (`LOG_LEVEL`,
    /// `SERVICE_MEMORY`, `DB_MEMORY` …); the same variable in stockops's own environment overrides it.
    public var variables: [String: String]

    public init(
        ref: String, tag: String, approval: Bool = false, runner: [String]? = nil, verify: DeployVerification? = nil, canary: CanaryPolicy? = nil,
        variables: [String: String] = [:]
    ) {
        self.canary = canary
        self.variables = variables
        self.ref = ref
        self.tag = tag
        self.approval = approval
        self.runner = runner
        self.verify = verify ?? (approval ? .signature : .none)
    }

    /// The defaults of `environment`: stage and prod verify signatures, dev does not.
    public static func defaultVerification(_ environment: Environment) -> DeployVerification {
        environment == .dev ? .none : .signature
    }

    public static let defaults: [Environment: EnvironmentConfig] = [
        .dev: EnvironmentConfig(ref: "refs/heads/develop", tag: "dev-{sha7}", verify: DeployVerification.none, variables: ["LOG_LEVEL": "debug"]),
        .stage: EnvironmentConfig(ref: "refs/heads/release/**", tag: "stage-{sha7}", verify: .signature),
        .prod: EnvironmentConfig(
            ref: "refs/tags/v*.*.*", tag: "{ref}", approval: true, verify: .signature, variables: ["SERVICE_MEMORY": "512m", "DB_MEMORY": "1g"]),
    ]
}

/// What the deployer checks of each digest before it runs it (`environments.<env>.verify`).
public enum DeployVerification: String, Sendable, Equatable, Codable, CaseIterable {
    /// A signature that verifies with a trusted public key (``ReleaseTrust``); `--force-unverified` overrides it.
    case signature
    /// Nothing.
    case none
}

/// `runs-on` labels of the self-hosted runners the workflows run on.
public enum RunnerLabels {
    /// An environment's default: `[self-hosted, stockops-<env>]`.
    public static func defaults(for environment: Environment) -> [String] { ["self-hosted", "stockops-\(environment.rawValue)"] }
    /// Pull requests' default: `[self-hosted, stockops-pr]`, a runner that reaches no environment.
    public static let pullRequests = ["self-hosted", "stockops-pr"]

    /// Whether `label` can be a runner label: letters, digits, `-`, `_` and `.`.
    static func isValid(_ label: String) -> Bool {
        !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }
}

extension EnvironmentConfig {
    /// The `runs-on` labels of `environment`'s jobs.
    public func runsOn(_ environment: Environment) -> [String] { runner ?? RunnerLabels.defaults(for: environment) }
}

/// An image tag such as `dev-1a2b3c4` or `v1.2.3`.
public struct ImageTag: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// Renders `template` for a commit and ref.
    public init(template: String, commit: String, ref: String) {
        let last = ref.split(separator: "/").last.map(String.init) ?? ref
        value =
            template
            .replacingOccurrences(of: "{sha7}", with: String(commit.prefix(7)))
            .replacingOccurrences(of: "{sha}", with: commit)
            .replacingOccurrences(of: "{ref}", with: last)
    }

    public var description: String { value }
}

/// Why an environment could not be chosen.
public struct EnvironmentError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Neither `--env` nor a ref that maps to an environment.
        case undetermined
        /// `--env` names an environment the pipeline does not list.
        case unknown
        /// `--env` names another environment than the ref's.
        case contradictsRef = "contradicts-ref"
    }

    public let code: Code
    public let message: String
    public var description: String { message }
}

extension Environment {
    /// The environment a Git ref deploys to, or nil when it deploys nowhere.
    public static func derive(fromRef ref: String, using environments: [Environment: EnvironmentConfig] = EnvironmentConfig.defaults) -> Environment? {
        environments.keys.sorted().first { environments[$0].map { GlobPattern($0.ref).matches(ref) } ?? false }
    }

    /// Refuses `environment` unless the pipeline lists it.
    public static func check(_ environment: Environment, in environments: [Environment: EnvironmentConfig]) throws(EnvironmentError) {
        guard environments[environment] == nil else { return }
        throw EnvironmentError(
            code: .unknown,
            message: "no environment \(environment) in the pipeline (it has \(environments.keys.sorted().map(\.rawValue).joined(separator: ", "))); "
                + "add \(environment) under environments: with its ref and tag, or pass one of those")
    }

    /// Chooses the environment from an explicit `--env` and the ref (`GITHUB_REF`).
    ///
    /// An explicit choice that contradicts the ref is refused unless `force` is set.
    public static func resolve(
        explicit: Environment?, ref: String?, force: Bool, using environments: [Environment: EnvironmentConfig] = EnvironmentConfig.defaults
    ) throws(EnvironmentError) -> Environment {
        if let explicit { try check(explicit, in: environments) }
        let derived = ref.flatMap { derive(fromRef: $0, using: environments) }
        switch (explicit, derived) {
        case (let explicit?, let derived?) where explicit != derived && !force:
            throw EnvironmentError(
                code: .contradictsRef,
                message:
                    "--env \(explicit.rawValue) contradicts GITHUB_REF=\(ref!), which deploys to \(derived.rawValue); drop --env, or pass --force to override")
        case (let explicit?, _):
            return explicit
        case (nil, let derived?):
            return derived
        case (nil, nil):
            let names = environments.keys.sorted()
            let known = names.compactMap { name in environments[name].map { "\($0.ref) → \(name)" } }.joined(separator: ", ")
            let about = ref.map { "GITHUB_REF=\($0) maps to no environment" } ?? "GITHUB_REF is not set"
            throw EnvironmentError(
                code: .undetermined, message: "\(about); pass --env \(names.map(\.rawValue).joined(separator: "|")) (refs: \(known))")
        }
    }
}

/// A path pattern: `*` matches within one segment, `**` across segments, `?` one character.
public struct GlobPattern: Sendable, Equatable {
    public let pattern: String

    public init(_ pattern: String) {
        self.pattern = pattern
    }

    public func matches(_ text: String) -> Bool {
        Self.match(Array(pattern.utf8)[...], Array(text.utf8)[...])
    }

    private static func match(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        let star = UInt8(ascii: "*")
        if first == star {
            let deep = pattern.dropFirst().first == star
            let rest = deep ? pattern.dropFirst(2) : pattern.dropFirst()
            var index = text.startIndex
            while true {
                if match(rest, text[index...]) { return true }
                guard index < text.endIndex, deep || text[index] != UInt8(ascii: "/") else { return false }
                index += 1
            }
        }
        guard let character = text.first else { return false }
        if first == UInt8(ascii: "?") ? character != UInt8(ascii: "/") : first == character {
            return match(pattern.dropFirst(), text.dropFirst())
        }
        return false
    }
}
