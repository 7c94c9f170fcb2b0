import Foundation
import Testing

@testable import StockOpsKit

/// Cache keys remember a tool's version by its binary, so a plan does not start every tool each time.
@Suite struct ToolVersionsTests {
    @Test func aVersionIsAskedOnceUntilTheBinaryChanges() async throws {
        let directory = temporaryDirectory("tool-versions")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tool = directory + "/fake-tool"
        let calls = directory + "/calls"
        func install(_ version: String) throws {
            try "#!/bin/sh\necho called >> '\(calls)'\necho 'fake-tool \(version)'\n".write(toFile: tool, atomically: false, encoding: .utf8)
            chmod(tool, 0o755)
        }
        func callCount() -> Int { ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count }
        try install("1.0")
        let command = Command(tool, ["--version"])
        let runner = ProcessRunner()
        let cache = directory + "/cache"

        #expect(try await ToolVersions.output(of: command, runner: runner, cacheDirectory: cache) == "fake-tool 1.0\n")
        #expect(try await ToolVersions.output(of: command, runner: runner, cacheDirectory: cache) == "fake-tool 1.0\n")
        #expect(callCount() == 1, "the unchanged binary was asked again")
        #expect(FileManager.default.fileExists(atPath: cache + "/tool-versions.json"))

        // Another binary (another size and time) is asked again.
        try install("2.0.1")
        #expect(try await ToolVersions.output(of: command, runner: runner, cacheDirectory: cache) == "fake-tool 2.0.1\n")
        #expect(callCount() == 2)
        // Without a cache directory the tool is always asked.
        _ = try await ToolVersions.output(of: command, runner: runner, cacheDirectory: nil)
        #expect(callCount() == 3)
    }
}
