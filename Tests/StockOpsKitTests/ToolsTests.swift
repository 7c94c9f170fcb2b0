import Foundation
import Testing

@testable import StockOpsKit

@Suite struct ToolsTests {
    @Test func gitArgv() {
        let git = Git(repository: "/repo", environment: ["PATH": "/usr/bin"])
        #expect(git.changedFiles(since: "abc").arguments == ["-C", "/repo", "diff", "--name-only", "--no-renames", "-z", "abc", "--"])
        #expect(git.resolveCommit("origin/main").arguments == ["-C", "/repo", "rev-parse", "--verify", "--quiet", "--end-of-options", "origin/main^{commit}"])
        #expect(git.mergeBase("HEAD", "main").arguments.suffix(4) == ["merge-base", "--end-of-options", "HEAD", "main"])
        #expect(git.indexEntries(["services/trade/"]).arguments.suffix(5) == ["ls-files", "--stage", "-z", "--", "services/trade/"])
        #expect(git.untrackedFiles().executable == "git")
        #expect(git.untrackedFiles().environment == ["PATH": "/usr/bin"])
    }

    @Test func gitParsers() {
        #expect(Git.parseNULSeparated("a b\0c\0\0") == ["a b", "c"])
        #expect(Git.parseLines(" x \n\ny\n") == ["x", "y"])
        #expect(Git.path("services/trade/a.swift", isUnder: "services/trade/"))
        #expect(!Git.path("services/trader/a.swift", isUnder: "services/trade/"))
        #expect(Git.path("Package.swift", isUnder: "Package.swift"))
        #expect(!Git.path("Package.swift.bak", isUnder: "Package.swift"))
        #expect(Git.path("Sources/Postgres/x.swift", isUnder: "Sources/Postgres"))
    }

    @Test func swiftTestArgv() {
        let swift = SwiftPM(swift: "swift", llvmCov: "/opt/swift/usr/bin/llvm-cov", packageDirectory: "/repo", environment: [:])
        #expect(
            swift.test(filter: "TradeServiceTests", xunitOutput: "/r/junit-trade.xml").arguments
                == ["test", "--package-path", "/repo", "--filter", "TradeServiceTests", "--xunit-output", "/r/junit-trade.xml", "--enable-code-coverage"])
        #expect(swift.test(filter: "T", xunitOutput: "x.xml", coverage: false).arguments.last == "x.xml")
        #expect(swift.showCodecovPath().arguments == ["test", "--package-path", "/repo", "--show-codecov-path"])
        #expect(
            swift.coverageSummary(profile: "p.profdata", binary: "b.xctest")
                == Command("/opt/swift/usr/bin/llvm-cov", ["export", "-summary-only", "-instr-profile", "p.profdata", "b.xctest"], environment: [:]))
        #expect(SwiftPM.xunitFiles(for: "/r/junit-trade.xml") == ["/r/junit-trade.xml", "/r/junit-trade-swift-testing.xml"])
    }

    @Test func junitCounts() {
        let xml = """
            <testsuites><testsuite name="x" tests="3">
            <testcase classname="A" name="a" time="0.1"></testcase>
            <testcase classname="A" name="b" time="0.1"><failure message="boom"></failure></testcase>
            <testcase classname="A" name="c" time="0.1"/>
            </testsuite></testsuites>
            """
        #expect(TestCounts.parse(junit: xml) == TestCounts(tests: 3, failures: 1))
    }

    @Test func coverageIsRestrictedToTheServiceSources() throws {
        let json = """
            {"data":[{"files":[
              {"filename":"/repo/services/trade/Sources/TradeService/Order.swift","summary":{"lines":{"count":100,"covered":80,"percent":80}}},
              {"filename":"/repo/services/trade/Tests/TradeServiceTests/OrderTests.swift","summary":{"lines":{"count":50,"covered":50,"percent":100}}},
              {"filename":"/repo/Sources/ServiceKit/Server.swift","summary":{"lines":{"count":100,"covered":0,"percent":0}}}
            ],"totals":{}}],"type":"llvm.coverage.json.export","version":"2.0.1"}
            """
        let coverage = try LineCoverage.parse(llvmCovExport: Data(json.utf8), under: ["/repo/services/trade/Sources/"])
        #expect(coverage == LineCoverage(covered: 80, count: 100))
        #expect(coverage.percent == 80)
    }

    @Test func commandsDisplayQuoted() {
        #expect(Command("git", ["commit", "-m", "it's done"], environment: [:]).displayString == "git commit -m 'it'\\''s done'")
    }

    @Test func sha256KnownVectors() {
        #expect(Digest.sha256("").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var hasher = Digest.Hasher()
        for _ in 0..<1000 { hasher.update(Array("a".utf8) + Array(repeating: UInt8(ascii: "a"), count: 999)) }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
