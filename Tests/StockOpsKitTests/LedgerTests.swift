import Foundation
import Testing

@testable import StockOpsKit

@Suite struct LedgerTests {
    func entry(_ tag: String, _ outcome: LedgerEntry.Outcome, action: LedgerEntry.Action = .deploy, seconds offset: TimeInterval = 0) -> LedgerEntry {
        LedgerEntry(
            time: Date(timeIntervalSince1970: 1_800_000_000 + offset), environment: .dev, action: action, tag: tag,
            images: ["trade": "sha256:" + String(repeating: "a", count: 64)], outcome: outcome, actor: "alice")
    }

    @Test func appendsOneJSONObjectPerLineAndReadsThemBack() throws {
        let directory = temporaryDirectory()
        let ledger = Ledger(stateDirectory: directory + "/state", environment: .dev)
        try ledger.append(entry("dev-aaaaaaa", .succeeded))
        try ledger.append(entry("dev-bbbbbbb", .failed, seconds: 60))
        #expect(ledger.path == directory + "/state/dev.ledger.jsonl")
        let text = try String(contentsOfFile: ledger.path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(text.hasSuffix("\n"))
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(first?["tag"] as? String == "dev-aaaaaaa")
        #expect(first?["outcome"] as? String == "succeeded")
        #expect(first?["time"] as? String == "2027-01-15T08:00:00Z")
        let contents = try ledger.read()
        #expect(contents.problems.isEmpty)
        #expect(contents.entries.map(\.tag) == ["dev-aaaaaaa", "dev-bbbbbbb"])
        #expect(contents.entries[1] == entry("dev-bbbbbbb", .failed, seconds: 60))
    }

    @Test func aMissingLedgerIsEmpty() throws {
        let contents = try Ledger(stateDirectory: temporaryDirectory(), environment: .prod).read()
        #expect(contents.entries.isEmpty)
        #expect(contents.last == nil)
    }

    @Test func aTornLastLineIsReportedAndTheNextEntryStartsOnItsOwnLine() throws {
        let directory = temporaryDirectory()
        let ledger = Ledger(stateDirectory: directory, environment: .stage)
        try ledger.append(entry("stage-aaaaaaa", .succeeded))
        let handle = try #require(FileHandle(forWritingAtPath: ledger.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"action":"deploy","tag":"stage-bbb"#.utf8))
        try handle.close()

        let torn = try ledger.read()
        #expect(torn.entries.map(\.tag) == ["stage-aaaaaaa"])
        #expect(torn.problems == [LedgerProblem(line: 2, message: "incomplete last line (a write was interrupted); ignored")])

        try ledger.append(entry("stage-ccccccc", .succeeded, seconds: 10))
        let repaired = try ledger.read()
        #expect(repaired.entries.map(\.tag) == ["stage-aaaaaaa", "stage-ccccccc"])
        #expect(repaired.problems.count == 1)
        #expect(repaired.problems.first?.line == 2)
        #expect(repaired.problems.first?.message == "not a ledger entry (invalid JSON); ignored")
    }

    @Test func aLineThatIsNotAnEntryIsSkippedWithItsNumber() throws {
        let data = Data(
            (String(data: try Ledger.encoder.encode(entry("dev-aaaaaaa", .succeeded)), encoding: .utf8)! + "\n"
                + #"{"tag":"dev-bbbbbbb"}"# + "\n\n"
                + String(data: try Ledger.encoder.encode(entry("dev-ccccccc", .succeeded)), encoding: .utf8)! + "\n").utf8)
        let contents = Ledger.parse(data)
        #expect(contents.entries.map(\.tag) == ["dev-aaaaaaa", "dev-ccccccc"])
        #expect(contents.problems.map(\.line) == [2])
        #expect(contents.problems[0].message == "not a ledger entry (no time); ignored")
    }

    @Test func thePreviousGoodTagSkipsFailuresAndTheFailedTag() {
        let contents = LedgerContents(
            entries: [
                entry("dev-aaaaaaa", .succeeded),
                entry("dev-bbbbbbb", .succeeded),
                entry("dev-ccccccc", .failed),
                entry("dev-bbbbbbb", .succeeded, action: .autoRollback),
                entry("dev-ddddddd", .failed),
            ], problems: [])
        #expect(contents.previousGood(excluding: "dev-ddddddd")?.tag == "dev-bbbbbbb")
        #expect(contents.previousGood(excluding: "dev-bbbbbbb")?.tag == "dev-aaaaaaa")
        #expect(contents.lastGood?.tag == "dev-bbbbbbb")
        #expect(contents.last?.tag == "dev-ddddddd")
        #expect(LedgerContents(entries: [entry("dev-ccccccc", .failed)], problems: []).previousGood(excluding: "dev-ccccccc") == nil)
    }

    @Test func theStateDirectoryComesFromTheEnvironment() {
        #expect(StateDirectory.resolve(root: "/repo", environment: [:]) == "/repo/.stockops/state")
        #expect(StateDirectory.resolve(root: "/repo", environment: ["STOCKOPS_STATE_DIR": "/var/lib/stockops"]) == "/var/lib/stockops")
        #expect(StateDirectory.resolve(root: "/repo", environment: ["STOCKOPS_STATE_DIR": "state"]) == "/repo/state")
    }

    @Test func anUnwritableStateDirectoryIsAnErrorNamingTheVariable() throws {
        let directory = temporaryDirectory()
        #expect(FileManager.default.createFile(atPath: directory + "/file", contents: Data()))
        let ledger = Ledger(stateDirectory: directory + "/file/state", environment: .dev)
        #expect {
            try ledger.append(entry("dev-aaaaaaa", .succeeded))
        } throws: { error in
            "\(error)".contains("STOCKOPS_STATE_DIR")
        }
    }
}
