import Foundation
import Testing

/// `swift format` with the repository's `.swift-format`: every Swift file is formatted and has no lint finding.
@Suite("swift format on the repository's Swift files")
struct FormatTests {
    static let paths = ["Package.swift", "Sources", "Tests", "services"]

    static func lint(_ paths: [String], configuration: String, directory: String) async throws -> ToolResult {
        try await runTool(
            ["swift", "format", "lint", "--strict", "--parallel", "--recursive", "--configuration", configuration] + paths, directory: directory)
    }

    @Test func everySwiftFileIsFormatted() async throws {
        let root = OpenBaoDevServer.repositoryRoot.path
        let result = try await Self.lint(Self.paths, configuration: root + "/.swift-format", directory: root)
        #expect(
            result.status == 0 && result.output.isEmpty,
            "run `swift format format --in-place --parallel --recursive \(Self.paths.joined(separator: " "))`:\n\(result.output)")
    }

    @Test func theCheckFindsAFileThatIsNotFormatted() async throws {
        let root = OpenBaoDevServer.repositoryRoot.path
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "struct Unformatted {\n  func f( ) -> Int { return  1 }\n}\n".write(toFile: directory + "/Unformatted.swift", atomically: true, encoding: .utf8)
        let result = try await Self.lint(["Unformatted.swift"], configuration: root + "/.swift-format", directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("Unformatted.swift:2"), "\(result.output)")
    }
}
