import Foundation
import Synchronization
import Testing

@testable import StockOpsKit

private struct Record: Codable {
    var name: String
    var password: Secret
}

@Suite("Secret never prints its value")
struct SecretTests {
    let value = "s3cr3t-\(UUID().uuidString)"

    @Test func descriptionsAndInterpolationAreRedacted() {
        let secret = Secret(value)
        #expect(secret.description == "[REDACTED]")
        #expect(secret.debugDescription == "[REDACTED]")
        #expect("\(secret)" == "[REDACTED]")
        #expect(String(describing: secret) == "[REDACTED]")
        #expect(String(reflecting: secret) == "[REDACTED]")
        #expect(!"\([secret])".contains(value))
        #expect(!"\(["key": secret])".contains(value))
        #expect(!"\(Record(name: "db", password: secret))".contains(value))
        #expect(secret.reveal() == value)
    }

    @Test func dumpIsRedacted() {
        var output = ""
        dump(Record(name: "db", password: Secret(value)), to: &output)
        #expect(!output.contains(value))
        #expect(output.contains("[REDACTED]"))
    }

    @Test func jsonEncodingIsRedacted() throws {
        let data = try JSONEncoder().encode(Record(name: "db", password: Secret(value)))
        let json = String(decoding: data, as: UTF8.self)
        #expect(!json.contains(value))
        #expect(json.contains(#""password":"[REDACTED]""#))
    }

    @Test func decodesFromAPlainString() throws {
        let record = try JSONDecoder().decode(Record.self, from: Data(#"{"name":"db","password":"\#(value)"}"#.utf8))
        #expect(record.password.reveal() == value)
    }

    @Test(arguments: [1, 300_000])
    func reachesAChildThroughStandardInput(repeats: Int) throws {
        let expected = String(repeating: value, count: repeats)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cat")
        process.standardInput = try Secret(expected).makeStandardInput()
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let received = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: received, as: UTF8.self) == expected)
        #expect(process.arguments?.contains(expected) != true)
    }

    @Test func temporaryFileIsPrivateAndRemoved() throws {
        let secret = Secret(value)
        let path = try secret.withTemporaryFile { path in
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == value)
            return path
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func temporaryFileIsRemovedWhenTheBodyThrows() throws {
        struct Failure: Error {}
        let seen = Mutex<String?>(nil)
        #expect(throws: Failure.self) {
            try Secret(value).withTemporaryFile { path in
                seen.withLock { $0 = path }
                throw Failure()
            }
        }
        let path = try #require(seen.withLock { $0 })
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

@Suite("SecretMasker hides registered values")
struct SecretMaskerTests {
    private func quietMasker() -> SecretMasker {
        SecretMasker(environment: [:], output: { _ in Issue.record("no add-mask expected") })
    }

    @Test func masksEveryOccurrence() {
        let masker = quietMasker()
        masker.register(Secret("hunter2"))
        #expect(masker.mask("password=hunter2 and again hunter2.") == "password=*** and again ***.")
        #expect(masker.mask("nothing here") == "nothing here")
    }

    @Test func textIsUnchangedWithNothingRegistered() {
        #expect(quietMasker().mask("hunter2") == "hunter2")
    }

    @Test func masksMultiLineValuesWholeAndLineByLine() {
        let masker = quietMasker()
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\r\nhkiG9w0BAQEFAASC\n-----END KEY-----"
        masker.register(key)
        #expect(masker.mask("key: \(key)") == "key: ***")
        #expect(masker.mask("line MIIEvQIBADANBgkq leaked") == "line *** leaked")
        #expect(masker.mask("hkiG9w0BAQEFAASC") == "***")
    }

    @Test func longerValuesWinOverTheirPrefixes() {
        let masker = quietMasker()
        masker.register("abc")
        masker.register("abcdef")
        #expect(masker.mask("xabcdefx abcx") == "x***x ***x")
    }

    @Test func handlesUnicodeAndIgnoresBlankValues() {
        let masker = quietMasker()
        masker.register("mot-de-passe-été-🔑")
        masker.register("   ")
        masker.register("")
        #expect(masker.mask("é mot-de-passe-été-🔑 é") == "é *** é")
        #expect(masker.mask("a   b") == "a   b")
        #expect(masker.count == 1)
    }

    @Test func announcesToGitHubActionsPerLineAndOnce() {
        let lines = Mutex<[String]>([])
        let masker = SecretMasker(environment: ["GITHUB_ACTIONS": "true"]) { line in
            lines.withLock { $0.append(line) }
        }
        masker.register(Secret("single%value"))
        masker.register(Secret("single%value"))
        masker.register(Secret("first line\nsecond line"))
        #expect(lines.withLock { $0 } == ["::add-mask::single%25value", "::add-mask::first line", "::add-mask::second line"])
    }

    @Test func announcesWhatWasRegisteredBeforeItWasToldWhere() {
        let lines = Mutex<[String]>([])
        let masker = SecretMasker(environment: ["GITHUB_ACTIONS": "true"])
        masker.register(Secret("early-value"))
        masker.announce { line in lines.withLock { $0.append(line) } }
        masker.register(Secret("late-value"))
        #expect(lines.withLock { $0 } == ["::add-mask::early-value", "::add-mask::late-value"])
    }

    @Test func staysQuietOutsideGitHubActions() {
        let masker = SecretMasker(environment: ["GITHUB_ACTIONS": "false"]) { _ in
            Issue.record("no add-mask expected")
        }
        masker.register("value-1")
        #expect(masker.mask("value-1") == "***")
    }

    @Test func registersConcurrently() async {
        let masker = quietMasker()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { masker.register("concurrent-secret-\(index)") }
            }
        }
        #expect(masker.count == 200)
        #expect(masker.mask("concurrent-secret-7 concurrent-secret-199") == "*** ***")
    }

    @Test func masksAmongManyRegisteredValues() {
        let masker = quietMasker()
        let values = (0..<500).map { _ in UUID().uuidString }
        values.forEach { masker.register($0) }
        let line = String(repeating: "an ordinary log line with tokens and numbers 12345 ", count: 4)
        #expect(masker.mask(line) == line)
        #expect(masker.mask("a \(values[0]) b \(values[499]) c") == "a *** b *** c")
    }
}
