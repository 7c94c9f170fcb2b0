import Foundation

/// The exit status and the interleaved standard output and error of a finished child process.
struct ToolResult {
    let status: Int32
    let output: String
}

/// Runs `arguments` (the first one looked up on the PATH through `/usr/bin/env`) to completion,
/// reading its output on a separate thread so the wait does not hold a cooperative thread.
func runTool(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) async throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let reader = pipe.fileHandleForReading
    let data = await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: reader.readDataToEndOfFile()) }
    }
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// The absolute path of `name` on the PATH, if any.
func executableOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
