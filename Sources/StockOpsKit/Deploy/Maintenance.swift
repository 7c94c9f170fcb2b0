import Foundation

/// An environment's deploy ledger, newest first: what `stockops history` shows.
public struct LedgerHistory: Sendable, Encodable {
    public var environment: Environment
    /// Newest first.
    public var entries: [LedgerEntry]
    /// The ledger file.
    public var path: String
    /// Lines of the ledger that could not be read, each with its line number.
    public var problems: [LedgerProblem]

    private enum CodingKeys: String, CodingKey {
        case environment, entries
    }

    /// The newest `limit` entries (all when nil) of the ledger of `request`'s environment.
    public static func read(_ request: EnvironmentRequest, limit: Int?) throws(StockOpsError) -> LedgerHistory {
        let ledger = Ledger(stateDirectory: request.stateDirectory, environment: request.environment)
        let contents: LedgerContents
        do {
            contents = try ledger.read()
        } catch {
            throw StockOpsError(.infrastructure, error.description)
        }
        return LedgerHistory(
            environment: request.environment, entries: Array(contents.entries.reversed().prefix(limit ?? Int.max)), path: ledger.path,
            problems: contents.problems)
    }
}

/// What `stockops lock` and `stockops unlock` left.
public struct LockReport: Sendable, Encodable, Equatable {
    public enum State: String, Sendable, Encodable {
        /// `lock`: the maintenance lock is taken.
        case locked
        /// `unlock`: a maintenance lock was removed.
        case unlocked
        /// `unlock`: there was nothing to remove.
        case notLocked = "not-locked"
        /// `unlock`: the record of a holder that is gone was removed.
        case staleRemoved = "stale-removed"
    }

    public var environment: Environment
    public var state: State
    public var holder: LockHolder?
    /// `lock`: the record of a holder that was gone, which it replaced.
    public var replacedStale: LockHolder?
}

/// Maintenance locks: deploys and rollbacks are refused while one is held.
public enum MaintenanceLock {
    /// Takes the maintenance lock of `request`'s environment, waiting up to `wait` for a holder to finish;
    /// `waiting` hears why it waits. A held lock is a ``StockOpsError/Code/locked`` error.
    public static func lock(
        _ request: EnvironmentRequest, reason: String?, wait: Duration, waiting: @escaping @Sendable (String) -> Void
    ) async throws(StockOpsError) -> LockReport {
        let holder = LockHolder(command: "maintenance", maintenance: true, reason: reason)
        let environment = request.environment.rawValue
        do {
            let previous = try await EnvironmentLock.lockForMaintenance(
                stateDirectory: request.stateDirectory, environment: request.environment, holder: holder, wait: wait
            ) { state in
                waiting("waiting up to \(wait) for the \(environment) lock: \(state.description)")
            }
            return LockReport(environment: request.environment, state: .locked, holder: holder, replacedStale: previous)
        } catch {
            throw failure(error)
        }
    }

    /// A held lock as ``StockOpsError/Code/locked``; anything else that kept the lock file from being read or written
    /// as an infrastructure error.
    private static func failure(_ error: any Error) -> StockOpsError {
        guard let error = error as? LockError else { return StockOpsError(.infrastructure, "\(error)") }
        return StockOpsError(error.code == .busy ? .locked : .infrastructure, error.message)
    }

    /// Removes the maintenance lock (or the stale record) of `request`'s environment; a lock a running deploy or
    /// rollback holds is a ``StockOpsError/Code/locked`` error.
    public static func unlock(_ request: EnvironmentRequest) throws(StockOpsError) -> LockReport {
        let state: LockState
        do {
            state = try EnvironmentLock.unlockMaintenance(stateDirectory: request.stateDirectory, environment: request.environment)
        } catch {
            throw failure(error)
        }
        switch state {
        case .free: return LockReport(environment: request.environment, state: .notLocked)
        case .maintenance(let holder): return LockReport(environment: request.environment, state: .unlocked, holder: holder)
        case .stale(let holder): return LockReport(environment: request.environment, state: .staleRemoved, holder: holder)
        case .held(let holder, _):
            throw StockOpsError(.locked, "\(request.environment) is held by \(holder.summary): wait for it to finish")
        }
    }
}

/// Every tag a rollback of an environment could name: what `stockops tags` shows.
public struct RollbackTargets: Sendable, Encodable {
    public var environment: Environment
    /// Newest first, with where each was live, its signatures and stage proof, and whether a rollback takes it.
    public var tags: [RollbackTarget]
    /// `host/project` of the images.
    public var registry: String

    private enum CodingKeys: String, CodingKey {
        case environment, tags
    }

    /// Reads the registry and the ledger of `request`'s environment; a registry or Vault that cannot be reached is an
    /// infrastructure error.
    public static func list(_ request: EnvironmentRequest) async throws(StockOpsError) -> RollbackTargets {
        let config = try request.pipelineConfig()
        let deployer = try await request.deployer(
            config: config, runner: ProcessRunner(), log: NodeLog(path: nil), progress: { _ in }, smokeTimeout: SmokeTest.defaultTimeout,
            lockWait: .zero, approval: nil, runID: "tags", flavor: .standalone)
        do {
            return RollbackTargets(
                environment: request.environment, tags: try await deployer.targets(), registry: config.registry.host + "/" + config.registry.project)
        } catch {
            throw StockOpsError(error.code == .infrastructure ? .infrastructure : .usage, error.message)
        }
    }
}
