/// One thing `stockops doctor` checked: a tool, a server or the state directory.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case tool
        case server
        case state
    }

    /// The outcome. An optional check that is not `ok` is a `warning`; its detail says what was found.
    public enum Status: String, Codable, Sendable {
        case ok
        case missing
        case tooOld = "too-old"
        case unreachable
        case unauthorised
        case warning
    }

    /// What was checked: `git`, `docker engine`, `vault secret/data/ci/pipeline`.
    public var name: String
    public var kind: Kind
    /// Whether the configured pipeline cannot run without it.
    public var required: Bool
    public var status: Status
    /// Where it was found: a tool's path, a server's address, the state directory; nil when not found.
    public var found: String?
    /// The version found, when the check reads one.
    public var version: String?
    /// The oldest version stockops supports, when there is one.
    public var minimum: String?
    /// What was found, or what went wrong; never a secret value.
    public var detail: String
    /// One line on what to do; nil when nothing needs doing.
    public var fix: String?

    public init(
        name: String, kind: Kind, required: Bool, status: Status, found: String? = nil, version: String? = nil, minimum: String? = nil, detail: String,
        fix: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.required = required
        self.status = status
        self.found = found
        self.version = version
        self.minimum = minimum
        self.detail = detail
        self.fix = fix
    }

    /// A failed check: its own status when required, a warning otherwise.
    static func problem(
        _ status: Status, name: String, kind: Kind, required: Bool, found: String? = nil, version: String? = nil, minimum: String? = nil, detail: String,
        fix: String?
    ) -> DoctorCheck {
        DoctorCheck(
            name: name, kind: kind, required: required, status: required ? status : .warning, found: found, version: version, minimum: minimum, detail: detail,
            fix: fix)
    }

    /// Whether the pipeline can run as far as this check goes.
    public var passed: Bool { status == .ok || status == .warning }

    private enum CodingKeys: String, CodingKey {
        case name, kind, required, status, found, version, minimum, detail, fix
    }

    /// Encodes every key, absent values as `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encode(required, forKey: .required)
        try container.encode(status, forKey: .status)
        try container.encode(found, forKey: .found)
        try container.encode(version, forKey: .version)
        try container.encode(minimum, forKey: .minimum)
        try container.encode(detail, forKey: .detail)
        try container.encode(fix, forKey: .fix)
    }
}

/// Whether the configured pipeline can run on this machine: every check, and the verdict.
public struct DoctorReport: Codable, Sendable, Equatable {
    /// The version of this JSON shape.
    public var schemaVersion: Int
    /// The environment the checks were made for.
    public var environment: String
    public var checks: [DoctorCheck]
    /// True when every required check passed; optional misses are warnings.
    public var ok: Bool

    public static let currentSchemaVersion = 1

    public init(environment: String, checks: [DoctorCheck]) {
        schemaVersion = Self.currentSchemaVersion
        self.environment = environment
        self.checks = checks
        ok = checks.allSatisfy(\.passed)
    }

    /// Required checks that failed.
    public var problems: [DoctorCheck] { checks.filter { !$0.passed } }

    /// Optional checks that did not pass, and caveats of passing ones.
    public var warnings: [DoctorCheck] { checks.filter { $0.status == .warning } }

    /// 0 when the pipeline can run, 3 (infrastructure) otherwise.
    public var exitStatus: ExitStatus { ok ? .success : .infrastructure }
}
