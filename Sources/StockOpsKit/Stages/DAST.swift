import Foundation

/// What `dast[<environment>]` found on each service.
public struct DASTResult: Codable, Sendable, Equatable {
    /// The scan of one service.
    public struct Target: Codable, Sendable, Equatable {
        public var service: String
        public var url: String
        public var outcome: ZAPBaselineCommand.Outcome
        public var exitStatus: Int32?
        public var alerts: [ZAPBaselineCommand.Alert]
        /// Reports relative to the run directory.
        public var reports: ZAPBaselineCommand.Reports
    }

    public var environment: String
    public var image: String
    public var targets: [Target]
}

/// `dast[<environment>]`: an OWASP ZAP baseline scan (passive: spider, then report) of every service of a
/// deployed environment, in ZAP's container image, writing JSON, HTML and XML reports.
///
/// `zap-baseline.py` exits 0 (pass), 1 (a FAIL rule), 2 (warnings only) or 3 (the scan failed). A FAIL
/// fails the node (so do warnings with `fail-on-warnings`); a scan that could not run is an infrastructure
/// error. The node is allow-failure: its verdict is reported, it blocks nothing.
public struct DASTStage: Stage {
    public var environment: Environment
    public var config: DASTConfig
    public var services: [ServiceConfig]
    public var docker: String
    /// Where the Docker engine ZAP runs in is named (`DOCKER_HOST`, `DOCKER_CONFIG`).
    public var processEnvironment: RunEnvironment

    public init(
        environment: Environment, config: DASTConfig, services: [ServiceConfig], docker: String = "docker", processEnvironment: RunEnvironment = [:]
    ) {
        self.processEnvironment = processEnvironment
        self.environment = environment
        self.config = config
        self.services = services
        self.docker = docker
    }

    /// The URL each service of the environment is scanned at.
    public var targets: [(service: String, url: String)] {
        services.compactMap { service in
            service.ports[environment].map { (service.name, "http://\(config.host):\($0)") }
        }
    }

    public func run(_ context: StageContext) async throws -> DASTResult {
        guard !targets.isEmpty else {
            throw StageFailure.failed("no service has a port for \(environment.rawValue) (services[].ports.\(environment.rawValue)): nothing to scan")
        }
        let manager = FileManager.default
        let name = "dast-\(environment.rawValue)"
        let work = context.paths.reportsDirectory + "/" + name
        try manager.createDirectory(atPath: work, withIntermediateDirectories: true)
        // ZAP runs as the image's `zap` user and writes its reports into the mounted directory.
        guard chmod(work, 0o777) == 0 else {
            throw StageFailure.infrastructure("cannot make \(work) writable for ZAP: \(String(cString: strerror(errno)))")
        }
        var rulesFile: String?
        if let rules = config.rulesFile {
            let source = context.paths.root + "/" + rules
            guard manager.fileExists(atPath: source) else {
                throw StageFailure.failed("the ZAP rules file \(rules) does not exist; add it or fix security.dast.rules")
            }
            rulesFile = (rules as NSString).lastPathComponent
            // Best effort: clears a copy from an earlier attempt; the copy below fails if one is still in the way.
            try? manager.removeItem(atPath: work + "/" + rulesFile!)
            try manager.copyItem(atPath: source, toPath: work + "/" + rulesFile!)
        }

        let zap = ZAPBaselineCommand(
            docker: docker, image: config.image, environment: Command.baseEnvironment(adding: ["DOCKER_HOST", "DOCKER_CONFIG"], from: processEnvironment))
        var results: [DASTResult.Target] = []
        for target in targets {
            let reports = ZAPBaselineCommand.Reports(name: "zap-\(target.service)")
            let result = try await context.run(
                zap.baseline(target: target.url, workDirectory: work, reports: reports, minutes: config.minutes, rulesFile: rulesFile))
            let outcome = ZAPBaselineCommand.Outcome(exitStatus: result.exitStatus)
            var alerts: [ZAPBaselineCommand.Alert] = []
            if let data = manager.contents(atPath: work + "/" + reports.json) {
                do {
                    alerts = try ZAPBaselineCommand.parseReport(data)
                } catch {
                    // A report that cannot be read is not "no alerts".
                    throw StageFailure.infrastructure("\(target.service): zap-baseline.py's report \(reports.json) cannot be read: \(error)")
                }
            }
            for alert in alerts where alert.risk > 0 {
                context.log.write("\(target.service): \(alert)\n")
            }
            context.log.write(
                "\(target.service) at \(target.url): \(outcome.rawValue) (zap-baseline.py exited \(result.exitStatus.map(String.init) ?? "by signal")), \(alerts.count) alerts\n"
            )
            let prefix = "reports/\(name)/"
            results.append(
                DASTResult.Target(
                    service: target.service, url: target.url, outcome: outcome, exitStatus: result.exitStatus, alerts: alerts,
                    reports: ZAPBaselineCommand.Reports(json: prefix + reports.json, html: prefix + reports.html, xml: prefix + reports.xml)))
            if outcome == .error {
                let tail = result.output.split(whereSeparator: \.isNewline).suffix(3).joined(separator: " / ")
                throw StageFailure.infrastructure(
                    "ZAP could not scan \(target.service) at \(target.url) (exit \(result.exitStatus.map(String.init) ?? "by signal")): \(tail)")
            }
        }

        let failing = results.filter { $0.outcome == .fail || (config.failOnWarnings && $0.outcome == .warn) }
        if !failing.isEmpty {
            let listed = failing.map {
                "\($0.service): \($0.outcome.rawValue), " + $0.alerts.filter { $0.risk > 0 }.prefix(3).map(\.name).joined(separator: ", ")
            }.joined(separator: "; ")
            throw StageFailure.failed("ZAP baseline of \(environment.rawValue): \(listed); see reports/\(name)/zap-<service>.html")
        }
        return DASTResult(environment: environment.rawValue, image: config.image, targets: results)
    }
}
