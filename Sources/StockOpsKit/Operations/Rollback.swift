import Foundation

/// What `stockops rollback` did: the deployment it made, or why it failed, with its run's log and summary.
public struct RollbackOutcome: CommandOutcome {
    public let environment: Environment
    public let runID: String
    /// The rollback's log file.
    public let log: String
    public let result: Result<Deployment, DeployFailure>
    /// From the start of the rollback to its smoke test's end.
    public let seconds: Double
    /// Why `rollback.json` could not be written; the outcome stands.
    public let summaryProblem: String?

    /// What `--json` prints.
    public var summary: RecordPaths.RollbackSummary {
        RecordPaths.RollbackSummary(result, environment: environment, runID: runID, log: log)
    }

    /// 0 rolled back; otherwise the failure's status (1 smoke test, 2 refused, 3 infrastructure, 4 locked).
    public var exitStatus: ExitStatus {
        switch result {
        case .success: .success
        case .failure(let failure): failure.exitStatus
        }
    }
}

extension RollbackRequest {
    /// `stockops rollback`: returns an environment to a tag that exists for every service in the registry, showing
    /// its progress through `progress`. Throws, with nothing changed, for a request it refuses before acting
    /// (configuration, tag, confirmation, approval, registry login); a rollback that started ends in the outcome.
    public func perform(progress: @escaping @Sendable (String) -> Void) async throws(StockOpsError) -> RollbackOutcome {
        let config = try target.pipelineConfig()
        let environment = target.environment
        var tag: RegistryTag?
        switch (self.tag, toPrevious) {
        case (nil, false), (.some, true):
            throw StockOpsError(.usage, "pass either --tag TAG or --to-previous")
        case (let text?, false):
            do {
                tag = try RegistryTag.parse(text)
            } catch {
                throw StockOpsError(.usage, "--tag: \(error.message)")
            }
        case (nil, true):
            tag = nil
        }

        let question = "Roll \(environment.rawValue) back to \(tag?.name ?? "its previous good tag")?"
        let confirm: (() -> String?)? =
            self.confirm.map { ask in { ask(question, environment.rawValue) } }
            ?? Approval.terminalConfirmation(question, expected: environment.rawValue)
        var approval: Approval?
        if config.environments[environment]?.approval == true {
            approval = try await Approval.resolve(environment: environment, approver: approver, processEnvironment: target.processEnvironment, confirm: confirm)
        } else if !yes {
            guard let confirm else {
                throw StockOpsError(.usage, "rolling back \(environment.rawValue) needs a confirmation: pass --yes, or run on a terminal")
            }
            guard confirm() != nil else { throw StockOpsError(.usage, "not confirmed; nothing was changed") }
        }

        let runID = RecordPaths.newRunID(kind: "rollback")
        let paths = RunPaths(root: target.root, runDirectory: target.root + "/.stockops/runs/" + runID)
        let log = NodeLog(path: paths.logsDirectory + "/rollback.log")
        let deployer = try await target.deployer(
            config: config, runner: ProcessRunner(), log: log, progress: progress, smokeTimeout: smokeTimeout, lockWait: lockWait, approval: approval,
            runID: runID, forceUnverified: forceUnverified)
        let started = ContinuousClock.now
        let result: Result<Deployment, DeployFailure>
        do {
            let destination: RegistryTag
            if let tag {
                destination = tag
            } else {
                destination = try deployer.previousGoodTag()
            }
            // SIGINT/SIGTERM cancel it; a switch of the proxy already under way is finished and recorded first.
            let interruptible = await Interruption.cancellingOnSignals { () async -> Result<Deployment, DeployFailure> in
                do throws(DeployFailure) {
                    return .success(try await deployer.rollback(to: destination))
                } catch {
                    return .failure(error)
                }
            }
            if interruptible.interrupted, case .failure(let error) = interruptible.value {
                result = .failure(DeployFailure(error.code, "interrupted before the proxy was switched, so the live version kept serving: \(error.message)"))
            } else {
                result = interruptible.value
            }
        } catch {
            result = .failure(error)
        }
        log.flush()
        var summaryProblem: String?
        do {
            try RecordPaths.writeSummary(result, to: paths)
        } catch {
            summaryProblem = "\(paths.runDirectory)/rollback.json could not be written: \(error.localizedDescription)"
        }
        return RollbackOutcome(
            environment: environment, runID: runID, log: paths.logsDirectory + "/rollback.log", result: result, seconds: Deployer.seconds(since: started),
            summaryProblem: summaryProblem)
    }
}

/// Records of commands that run outside the pipeline (rollback).
public enum RecordPaths {
    static func newRunID(kind: String) -> String {
        RunRecord.newRunID() + "-" + kind
    }

    /// `rollback.json` in the run directory, and what `rollback --json` prints: the deployment, or the failure.
    public struct RollbackSummary: Encodable, Sendable {
        var status: String
        var deployment: Deployment?
        var error: String?
        var code: String?
        var environment: Environment?
        var runID: String?
        var log: String?

        init(_ outcome: Result<Deployment, DeployFailure>, environment: Environment? = nil, runID: String? = nil, log: String? = nil) {
            switch outcome {
            case .success(let deployment):
                status = "passed"
                self.deployment = deployment
            case .failure(let failure):
                status = "failed"
                error = failure.message
                code = failure.code.rawValue
            }
            self.environment = environment
            self.runID = runID
            self.log = log
        }
    }

    /// Writes `rollback.json` (masked); throws when it cannot be written.
    static func writeSummary(_ outcome: Result<Deployment, DeployFailure>, to paths: RunPaths) throws {
        let summary = RollbackSummary(outcome)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(summary)
        try FileManager.default.createDirectory(atPath: paths.runDirectory, withIntermediateDirectories: true)
        try PrivateFile.write(Data(SecretMasker.shared.mask(String(decoding: data, as: UTF8.self)).utf8), to: paths.runDirectory + "/rollback.json")
    }
}
