import Foundation

/// Argv builders for `swift test` and `llvm-cov`, and parsers of their reports. Pure values.
public struct SwiftPM: Sendable, Equatable {
    public var swift: String
    public var llvmCov: String
    public var packageDirectory: String
    /// `--scratch-path`: SwiftPM's build directory when not the package's `.build`.
    public var scratchPath: String?
    public var environment: [String: String]

    public init(
        swift: String = "swift", llvmCov: String = SwiftPM.defaultLLVMCov, packageDirectory: String, scratchPath: String? = nil,
        environment: [String: String] = Command.baseEnvironment()
    ) {
        self.swift = swift
        self.llvmCov = llvmCov
        self.packageDirectory = packageDirectory
        self.scratchPath = scratchPath
        self.environment = environment
    }

    /// `<subcommand> --package-path <dir> [--scratch-path <dir>]`.
    private func package(_ subcommand: String) -> [String] {
        [subcommand, "--package-path", packageDirectory] + (scratchPath.map { ["--scratch-path", $0] } ?? [])
    }

    /// `llvm-cov` of the Swift toolchain when present, else the one in `PATH`.
    public static var defaultLLVMCov: String {
        FileManager.default.isExecutableFile(atPath: "/opt/swift/usr/bin/llvm-cov") ? "/opt/swift/usr/bin/llvm-cov" : "llvm-cov"
    }

    /// `swift test --filter <target> --xunit-output <path> --enable-code-coverage`.
    public func test(filter: String, xunitOutput: String, coverage: Bool = true) -> Command {
        var arguments = package("test") + ["--filter", filter, "--xunit-output", xunitOutput]
        if coverage { arguments.append("--enable-code-coverage") }
        return Command(swift, arguments, environment: environment)
    }

    /// Prints the path of the exported coverage JSON; `default.profdata` lies next to it.
    public func showCodecovPath() -> Command {
        Command(swift, package("test") + ["--show-codecov-path"], environment: environment)
    }

    /// `swift build [--product P] ARGUMENTS`, such as `-c release --static-swift-stdlib`.
    public func build(product: String?, arguments: [String]) -> Command {
        Command(swift, package("build") + (product.map { ["--product", $0] } ?? []) + arguments, environment: environment)
    }

    /// Links without symbol tables (`ld -s`): a service binary shrinks from 113 MB to about 70 MB, and so does the
    /// image layer every push moves. Crash backtraces then show addresses only.
    public static let strippedLink = ["-Xlinker", "-s"]

    public func version() -> Command {
        Command(swift, ["--version"], environment: environment)
    }

    /// `llvm-cov export -summary-only`: per-file line counts as JSON.
    public func coverageSummary(profile: String, binary: String) -> Command {
        Command(llvmCov, ["export", "-summary-only", "-instr-profile", profile, binary], environment: environment)
    }

    /// The xUnit files `swift test --xunit-output <path>` writes: XCTest's, and swift-testing's next to it.
    public static func xunitFiles(for path: String) -> [String] {
        let base = path.hasSuffix(".xml") ? String(path.dropLast(4)) : path
        return [path, base + "-swift-testing.xml"]
    }
}

/// Counts from xUnit/JUnit XML.
public struct TestCounts: Sendable, Codable, Equatable {
    public var tests: Int
    public var failures: Int

    public init(tests: Int, failures: Int) {
        self.tests = tests
        self.failures = failures
    }

    /// Counts `<testcase` elements and those containing `<failure` or `<error`.
    public static func parse(junit xml: String) -> TestCounts {
        var counts = TestCounts(tests: 0, failures: 0)
        let cases = xml.components(separatedBy: "<testcase").dropFirst()
        for testCase in cases {
            counts.tests += 1
            let body = testCase.components(separatedBy: "</testcase>").first ?? testCase
            if body.contains("<failure") || body.contains("<error") { counts.failures += 1 }
        }
        return counts
    }

    /// The failed test cases of a JUnit report, as `classname.name: message` (the message's first line, when there is
    /// one).
    public static func failures(junit xml: String) -> [String] {
        var failed: [String] = []
        for testCase in xml.components(separatedBy: "<testcase").dropFirst() {
            let body = testCase.components(separatedBy: "</testcase>").first ?? testCase
            guard let failure = body.range(of: "<failure") ?? body.range(of: "<error") else { continue }
            let opening = String(body[..<(body.firstIndex(of: ">") ?? body.endIndex)])
            let name = [attribute("classname", in: opening), attribute("name", in: opening)].compactMap { $0 }.joined(separator: ".")
            let message = attribute("message", in: String(body[failure.lowerBound...].prefix { $0 != ">" }))
                .flatMap { $0.split(separator: "\n").first.map(String.init) }
            failed.append(name + (message.map { ": \($0)" } ?? ""))
        }
        return failed
    }

    /// The value of `name="…"` in an XML start tag, unescaped.
    static func attribute(_ name: String, in tag: String) -> String? {
        guard let start = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return unescapeXML(rest[..<end])
    }

    /// XML's five named entities and its numeric character references (`&#8594;`, `&#x2192;`) decoded; anything
    /// else is kept as written.
    static func unescapeXML(_ text: Substring) -> String {
        let named: [Substring: Character] = ["lt": "<", "gt": ">", "quot": "\"", "apos": "'", "amp": "&"]
        var out = ""
        var rest = text
        while let ampersand = rest.firstIndex(of: "&") {
            out += rest[..<ampersand]
            let entity = rest[rest.index(after: ampersand)...].prefix { $0 != ";" && $0 != "&" }
            let end = entity.endIndex
            guard end < rest.endIndex, rest[end] == ";", let character = named[entity] ?? numericReference(entity) else {
                out.append("&")
                rest = rest[rest.index(after: ampersand)...]
                continue
            }
            out.append(character)
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    private static func numericReference(_ entity: Substring) -> Character? {
        guard entity.hasPrefix("#") else { return nil }
        let digits = entity.dropFirst()
        let value = digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
        return value.flatMap(Unicode.Scalar.init).map(Character.init)
    }

    public static func + (lhs: TestCounts, rhs: TestCounts) -> TestCounts {
        TestCounts(tests: lhs.tests + rhs.tests, failures: lhs.failures + rhs.failures)
    }
}

/// Line coverage of a set of sources.
public struct LineCoverage: Sendable, Codable, Equatable {
    public var covered: Int
    public var count: Int

    public var percent: Double { count == 0 ? 100 : Double(covered) * 100 / Double(count) }

    /// Sums the per-file line summaries of `llvm-cov export -summary-only` for files under any of `prefixes`.
    public static func parse(llvmCovExport data: Data, under prefixes: [String]) throws -> LineCoverage {
        struct Export: Decodable {
            struct Unit: Decodable {
                struct File: Decodable {
                    struct Summary: Decodable {
                        struct Lines: Decodable {
                            let count: Int
                            let covered: Int
                        }
                        let lines: Lines
                    }
                    let filename: String
                    let summary: Summary
                }
                let files: [File]
            }
            let data: [Unit]
        }
        let export = try JSONDecoder().decode(Export.self, from: data)
        var total = LineCoverage(covered: 0, count: 0)
        for unit in export.data {
            for file in unit.files where prefixes.contains(where: { file.filename.hasPrefix($0) }) {
                total.covered += file.summary.lines.covered
                total.count += file.summary.lines.count
            }
        }
        return total
    }
}
