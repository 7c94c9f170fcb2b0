import Foundation
import Synchronization
import Testing

@testable import StockOpsKit

@Suite struct ProcessRunnerTests {
    let runner = ProcessRunner(grace: .seconds(2))

    @Test func capturesOutputAndExitStatus() async throws {
        let result = try await runner.run(Command("sh", ["-c", "echo out; echo err >&2; exit 3"]))
        #expect(result.exitStatus == 3)
        #expect(result.output.contains("out"))
        #expect(result.output.contains("err"))
        #expect(!result.succeeded)
        #expect(throws: StageFailure.self) { try result.check("sh") }
    }

    @Test func argumentsAreNeverInterpretedByAShell() async throws {
        let result = try await runner.run(Command("printf", ["%s|", "a b", "$(echo no)", "*"]))
        #expect(result.output == "a b|$(echo no)|*|")
    }

    @Test func theEnvironmentIsExactlyTheOneGiven() async throws {
        let result = try await runner.run(Command("env", [], environment: ["PATH": "/usr/bin:/bin", "ONLY": "this"]))
        #expect(Set(Git.parseLines(result.output)) == ["PATH=/usr/bin:/bin", "ONLY=this"])
    }

    @Test func runsInTheWorkingDirectory() async throws {
        let directory = temporaryDirectory()
        let result = try await runner.run(Command("pwd", [], workingDirectory: directory))
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix(directory.split(separator: "/").last.map(String.init)!))
    }

    @Test func aMissingToolIsAnInfrastructureError() async throws {
        await #expect {
            try await runner.run(Command("stockops-no-such-tool", []))
        } throws: { error in
            guard let error = error as? ProcessError else { return false }
            return error.code == .toolMissing && error.failureKind == .infrastructure && error.message.contains("stockops-no-such-tool")
        }
    }

    @Test func outputIsStreamedToTheLogAndBounded() async throws {
        let directory = temporaryDirectory()
        let log = NodeLog(path: directory + "/node.log")
        let bounded = ProcessRunner(outputLimit: 1000)
        let result = try await bounded.run(Command("sh", ["-c", "i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); done"]), log: log)
        #expect(result.truncated)
        #expect(result.output.utf8.count <= 1000)
        #expect(result.output.hasSuffix("line499\n"))
        let logged = log.contents()
        #expect(logged.hasPrefix("line0\n"))
        #expect(logged.hasSuffix("line499\n"))
    }

    @Test func theChildInheritsNoOtherDescriptor() async throws {
        let path = temporaryDirectory() + "/held-open-for-writing"
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(descriptor > 2)
        defer { close(descriptor) }
        let result = try await runner.run(Command("sh", ["-c", "ls -l /proc/$$/fd"]))
        #expect(result.succeeded)
        #expect(!result.output.contains("held-open-for-writing"))
    }

    @Test func theChildHasItsOwnProcessGroup() async throws {
        let result = try await runner.run(Command("sh", ["-c", "ps -o pgid= -p $$"]))
        #expect(Int32(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) == result.pid)
    }

    @Test(.timeLimit(.minutes(1))) func cancellationKillsTheWholeProcessGroup() async throws {
        let pid = Mutex<Int32?>(nil)
        let directory = temporaryDirectory()
        let task = Task {
            try await runner.run(Command("sh", ["-c", "sleep 300 & echo $! > \(directory)/grandchild; wait"])) { spawned in pid.withLock { $0 = spawned } }
        }
        let start = ContinuousClock.now
        // Ready once the shell has spawned the grandchild and written its whole pid (the file can exist still empty).
        func writtenGrandchild() -> Int32? {
            (try? String(contentsOfFile: directory + "/grandchild", encoding: .utf8)).flatMap { $0.hasSuffix("\n") ? Int32($0.dropLast()) : nil }
        }
        while pid.withLock({ $0 }) == nil || writtenGrandchild() == nil {
            try #require(start.secondsSinceNow < 60, "the shell never spawned its grandchild")
            try await Task.sleep(for: .milliseconds(10))
        }
        let grandchild = try #require(writtenGrandchild())
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(start.secondsSinceNow < 120, "the 300 s sleep was cut short")
        let child = try #require(pid.withLock { $0 })
        #expect(kill(child, 0) == -1)
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(grandchild, 0) == -1
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(gone, "the grandchild in the same group is gone too")
    }

    @Test(.timeLimit(.minutes(1))) func aProcessIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let quick = ProcessRunner(grace: .milliseconds(300))
        let pid = Mutex<Int32?>(nil)
        let directory = temporaryDirectory()
        let ready = directory + "/ready"
        let task = Task {
            try await quick.run(Command("sh", ["-c", "trap '' TERM; touch '\(ready)'; while :; do sleep 0.05; done"])) { spawned in
                pid.withLock { $0 = spawned }
            }
        }
        let start = ContinuousClock.now
        // The trap is in place once the file exists: only then does SIGTERM meet a process that ignores it.
        while pid.withLock({ $0 }) == nil || !FileManager.default.fileExists(atPath: ready) {
            try #require(start.secondsSinceNow < 60, "the shell never got ready")
            try await Task.sleep(for: .milliseconds(10))
        }
        let shell = try #require(pid.withLock { $0 })
        let cancelled = ContinuousClock.now
        task.cancel()
        // Gone within the grace and a margin; a runner that never kills it would leave `task.value` waiting forever.
        while kill(shell, 0) == 0, cancelled.secondsSinceNow < 30 { try await Task.sleep(for: .milliseconds(20)) }
        let gone = kill(shell, 0) == -1
        #expect(gone, "the process ignoring SIGTERM was not killed within 30 s")
        if !gone { _ = kill(-shell, SIGKILL) }
        _ = try? await task.value
        #expect(cancelled.secondsSinceNow >= 0.3, "ended before the grace: SIGTERM was not ignored, so the kill path did not run")
    }
}
