import Foundation
import Testing

@testable import StockOpsKit

@Suite struct EnvironmentLockTests {
    func holder(_ command: String) -> LockHolder {
        LockHolder(command: command)
    }

    /// The pid of a process that has exited and been reaped.
    func goneProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func takesWritesItsHolderAndReleases() async throws {
        let state = temporaryDirectory()
        let lock = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-aaaaaaa"))
        #expect(lock.path == state + "/dev.lock")
        #expect(lock.tookOverFrom == nil)
        guard case .held(let recorded, let gone) = try EnvironmentLock.inspect(stateDirectory: state, environment: .dev) else {
            Issue.record("the lock is not reported held")
            return
        }
        #expect(recorded.pid == getpid())
        #expect(recorded.command == "deploy dev-aaaaaaa")
        #expect(recorded.host == ProcessInfo.processInfo.hostName)
        #expect(!gone)
        lock.release()
        #expect(try EnvironmentLock.inspect(stateDirectory: state, environment: .dev) == .free)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lock.path)).isEmpty)
        #expect(try EnvironmentLock.inspect(stateDirectory: state, environment: .stage) == .free)
    }

    @Test func aSecondHolderIsRefusedWithTheFirstOnesRecord() async throws {
        let state = temporaryDirectory()
        let first = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-aaaaaaa"))
        defer { first.release() }
        await #expect {
            _ = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-bbbbbbb"))
        } throws: { error in
            guard let error = error as? LockError, error.code == .busy else { return false }
            return error.message.contains("the dev environment is locked: held: deploy dev-aaaaaaa by") && error.message.contains("(pid \(getpid())")
                && error.message.contains("--wait SECONDS")
        }
        let other = try await EnvironmentLock.acquire(stateDirectory: state, environment: .stage, holder: holder("deploy stage-aaaaaaa"))
        other.release()
    }

    @Test(.timeLimit(.minutes(3))) func aWaitingHolderGetsTheLockOnceReleased() async throws {
        let state = temporaryDirectory()
        let first = try await EnvironmentLock.acquire(stateDirectory: state, environment: .prod, holder: holder("deploy v1.0.0"))
        let waits = Recorder<LockState>()
        // Released as the second holder reports that it waits, in that report itself: the waiting path always runs, and
        // no other task has to be scheduled on a busy machine before the wait ends. The wait is long because under the whole
        // suite this test took 35 s of a 2-core machine's time for what takes 0.2 s alone.
        let second = try await EnvironmentLock.acquire(stateDirectory: state, environment: .prod, holder: holder("rollback v0.9.0"), wait: .seconds(120)) {
            waits.append($0)
            first.release()
        }
        #expect(waits.values.count == 1)
        if case .held(let holder, _) = waits.values.first {
            #expect(holder.command == "deploy v1.0.0")
        } else {
            Issue.record("onWait did not report the holder: \(waits.values)")
        }
        guard case .held(let recorded, _) = try EnvironmentLock.inspect(stateDirectory: state, environment: .prod) else {
            Issue.record("not held after the wait")
            return
        }
        #expect(recorded.command == "rollback v0.9.0")
        second.release()
    }

    @Test func aRecordLeftByAGoneProcessIsStaleAndTakenOver() async throws {
        let state = temporaryDirectory()
        let dead = LockHolder(pid: try goneProcessID(), command: "deploy dev-aaaaaaa", since: Date(timeIntervalSince1970: 1_800_000_000))
        try Ledger.encoder.encode(dead).write(to: URL(fileURLWithPath: EnvironmentLock.path(stateDirectory: state, environment: .dev)))
        #expect(dead.processIsGone)
        let inspected = try EnvironmentLock.inspect(stateDirectory: state, environment: .dev)
        #expect(inspected == .stale(dead))
        #expect(inspected.description.contains("ended without releasing the lock"))
        let lock = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-bbbbbbb"))
        #expect(lock.tookOverFrom == dead)
        lock.release()
    }

    @Test func aMaintenanceLockHoldsWithoutAProcessUntilUnlocked() async throws {
        let state = temporaryDirectory()
        let replaced = try await EnvironmentLock.lockForMaintenance(
            stateDirectory: state, environment: .stage, holder: LockHolder(command: "maintenance", reason: "database upgrade"), wait: .zero)
        #expect(replaced == nil)
        guard case .maintenance(let maintenance) = try EnvironmentLock.inspect(stateDirectory: state, environment: .stage) else {
            Issue.record("not a maintenance lock")
            return
        }
        #expect(maintenance.reason == "database upgrade")
        await #expect {
            _ = try await EnvironmentLock.acquire(stateDirectory: state, environment: .stage, holder: holder("deploy stage-aaaaaaa"), wait: .milliseconds(300))
        } throws: { error in
            (error as? LockError)?.message.contains("locked for maintenance") == true && (error as? LockError)?.message.contains("database upgrade") == true
        }
        await #expect(throws: LockError.self) {
            try await EnvironmentLock.lockForMaintenance(stateDirectory: state, environment: .stage, holder: LockHolder(command: "maintenance"), wait: .zero)
        }
        #expect(try EnvironmentLock.unlockMaintenance(stateDirectory: state, environment: .stage) == .maintenance(maintenance))
        #expect(try EnvironmentLock.inspect(stateDirectory: state, environment: .stage) == .free)
        let lock = try await EnvironmentLock.acquire(stateDirectory: state, environment: .stage, holder: holder("deploy stage-aaaaaaa"))
        lock.release()
    }

    @Test func unlockRefusesALockARunningProcessHolds() async throws {
        let state = temporaryDirectory()
        let lock = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-aaaaaaa"))
        #expect(throws: LockError.self) { try EnvironmentLock.unlockMaintenance(stateDirectory: state, environment: .dev) }
        lock.release()
        #expect(try EnvironmentLock.unlockMaintenance(stateDirectory: state, environment: .dev) == .free)
    }

    // MARK: The stockops binary in other processes

    /// The `stockops` built beside the running tests (in `.build-stockops/debug`, or whichever build directory they run
    /// from): `swift build --build-tests` builds both.
    static var binary: String {
        let tests = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (tests as NSString).deletingLastPathComponent + "/stockops"
    }

    /// Runs the binary and releases `lock` once a line of its output contains `marker`.
    func stockops(_ arguments: [String], state: String, releasing lock: EnvironmentLock, when marker: String) async throws -> ToolResult {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw FixtureError("\(Self.binary) is missing: run swift build --build-tests first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["STOCKOPS_STATE_DIR"] = state
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: temporaryDirectory())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let reader = pipe.fileHandleForReading
        let output = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var data = Data()
                var released = false
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                    if !released, String(decoding: data, as: UTF8.self).contains(marker) {
                        released = true
                        lock.release()
                    }
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
        process.waitUntilExit()
        return ToolResult(status: process.terminationStatus, output: output)
    }

    func stockops(_ arguments: [String], state: String) async throws -> ToolResult {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw FixtureError("\(Self.binary) is missing: run swift build --build-tests first")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["STOCKOPS_STATE_DIR"] = state
        return try await runTool([Self.binary] + arguments, environment: environment, directory: temporaryDirectory())
    }

    @Test func anotherProcessIsRefusedWhileThisOneHoldsTheLock() async throws {
        let state = temporaryDirectory()
        let lock = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-aaaaaaa"))
        let refused = try await stockops(["lock", "--env", "dev", "--wait", "0"], state: state)
        #expect(refused.status == 4, "\(refused.output)")
        #expect(refused.output.contains("deploy dev-aaaaaaa"))
        #expect(refused.output.contains("pid \(getpid())"))
        let unlock = try await stockops(["unlock", "--env", "dev"], state: state)
        #expect(unlock.status == 4, "\(unlock.output)")

        // The other process is released once it says it waits for the lock.
        let waited = try await stockops(
            ["lock", "--env", "dev", "--wait", "30", "--reason", "disk full"], state: state, releasing: lock, when: "waiting up to")
        #expect(waited.status == 0, "\(waited.output)")
        #expect(waited.output.contains("dev is locked for maintenance"))
        await #expect(throws: LockError.self) {
            _ = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-bbbbbbb"))
        }
        let history = try await stockops(["history", "--env", "dev"], state: state)
        #expect(history.status == 0)
        #expect(history.output.contains("no deploys recorded for dev"))
        let unlocked = try await stockops(["unlock", "--env", "dev"], state: state)
        #expect(unlocked.status == 0, "\(unlocked.output)")
        #expect(unlocked.output.contains("unlocked dev"))
        #expect(unlocked.output.contains("disk full"))
        let free = try await EnvironmentLock.acquire(stateDirectory: state, environment: .dev, holder: holder("deploy dev-bbbbbbb"))
        free.release()
    }

    @Test func twoProcessesRacingForTheLockNeverBothGetIt() async throws {
        let state = temporaryDirectory()
        async let first = stockops(["lock", "--env", "prod", "--wait", "0"], state: state)
        async let second = stockops(["lock", "--env", "prod", "--wait", "0"], state: state)
        let statuses = try await [first.status, second.status].sorted()
        #expect(statuses == [0, 4])
    }
}
