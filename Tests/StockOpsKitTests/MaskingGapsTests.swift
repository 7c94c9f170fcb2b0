import Foundation
import Testing

@testable import StockOpsKit

/// The gaps a masker of plain values leaves: values cut by a long line's flush, and values in encoded form.
@Suite struct MaskingGapsTests {
    @Test func aSecretStraddlingTheSixtyFourKiBCutOfALongLineIsMasked() throws {
        let secret = Secret("straddle-\(UUID().uuidString)").registered()
        let value = secret.reveal()
        let path = temporaryDirectory() + "/long.log"
        let log = NodeLog(path: path)
        // No newline: the pending line passes 64 KiB in the middle of the secret.
        let filler = String(repeating: "x", count: (1 << 16) - 10)
        log.write(filler + String(value.prefix(20)))
        log.write(String(value.dropFirst(20)) + String(repeating: "y", count: 70_000))
        log.write("tail\n")
        let text = log.contents()
        #expect(!text.contains(value))
        #expect(!text.contains(String(value.prefix(20))), "the first part of the secret was written unmasked")
        #expect(text.hasPrefix(filler + "***yyy"))
        #expect(text.hasSuffix("ytail\n"))
        #expect(text.utf8.count == filler.utf8.count + 3 + 70_000 + 5)
    }

    @Test func jsonEscapedBase64AndURLEncodedFormsAreMasked() throws {
        let secret = Secret("q\"uote\\back/slash\nline-\(UUID().uuidString) +&=").registered()
        struct Record: Encodable { var reason: String }
        for formatting: JSONEncoder.OutputFormatting in [[], [.withoutEscapingSlashes]] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = formatting
            let json = String(decoding: try encoder.encode(Record(reason: "failed: \(secret.reveal())")), as: UTF8.self)
            let masked = SecretMasker.shared.mask(json)
            #expect(masked == "{\"reason\":\"failed: ***\"}", "\(formatting.rawValue): \(masked)")
        }
        let base64 = Data(secret.reveal().utf8).base64EncodedString()
        #expect(SecretMasker.shared.mask("auth: \(base64)") == "auth: ***")
        // RFC 3986 unreserved characters stay as they are, as curl, Python's quote and URLComponents leave them.
        let query = secret.reveal().addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "-._~").union(.alphanumerics)) ?? ""
        #expect(SecretMasker.shared.mask("?password=\(query)") == "?password=***")
    }

    @Test func runRecordsOfSecretsWithQuotesHideThem() async throws {
        let secret = Secret("rec\"ord\\\(UUID().uuidString)").registered()
        var builder = GraphBuilder()
        builder.add("leak", Probe { _ in throw StageFailure.failed("bad \(secret.reveal())") })
        let result = await scheduler().run(try builder.build())
        let record = String(decoding: try RunRecord(runID: "x", environment: nil, exitCode: 1, result: result, paths: nil).encoded(), as: UTF8.self)
        #expect(!record.contains("rec\\\"ord"), "\(record)")
        #expect(record.contains("bad ***"))
    }

    @Test func logsAndRecordsAreOwnerOnly() async throws {
        let root = temporaryDirectory()
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/r")
        let log = NodeLog(path: paths.logsDirectory + "/node.log")
        log.write("line\n")
        log.flush()
        var builder = GraphBuilder()
        builder.add("ok", Probe())
        let result = await scheduler(root: root).run(try builder.build())
        try RunRecord(runID: "r", environment: nil, exitCode: 0, result: result, paths: nil).write(to: paths)
        for file in [paths.logsDirectory + "/node.log", paths.runDirectory + "/run.json"] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(file) is \(String(mode, radix: 8))")
        }
    }
}

/// The registry login of a run lives outside the run record and does not outlive a killed run for long.
@Suite struct DockerLoginDirectoryTests {
    @Test func theLoginDirectoryIsPrivateAndOutsideTheRunRecord() throws {
        let root = temporaryDirectory()
        let parent = temporaryDirectory() + "/logins"
        let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/20261130T120000Z-abc")
        let directory = try DockerLoginDirectory.create(for: paths, parent: parent)
        #expect(!directory.hasPrefix(root))
        #expect(ImageSettings.dockerConfig(paths).hasSuffix("/20261130T120000Z-abc"))
        #expect(!ImageSettings.dockerConfig(paths).contains("/.stockops/"))
        for path in [parent, directory] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode == 0o700, "\(path) is \(String(mode, radix: 8))")
        }
    }

    @Test func theNextRunRemovesTheLoginOfAKilledRunAndKeepsLiveOnes() throws {
        let root = temporaryDirectory()
        let parent = temporaryDirectory() + "/logins"
        let killed = try DockerLoginDirectory.create(for: RunPaths(root: root, runDirectory: root + "/runs/killed"), parent: parent)
        try Data("{\"auths\":{\"r\":{\"auth\":\"c2VjcmV0\"}}}".utf8).write(to: URL(fileURLWithPath: killed + "/config.json"))
        // A process that has exited owns it: what a SIGKILLed run leaves.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        try Data("\(gone.processIdentifier)\n".utf8).write(to: URL(fileURLWithPath: killed + "/owner.pid"))
        let live = try DockerLoginDirectory.create(for: RunPaths(root: root, runDirectory: root + "/runs/live"), parent: parent)
        // A run that has just created its directory and not yet written owner.pid.
        let starting = parent + "/starting"
        try FileManager.default.createDirectory(atPath: starting, withIntermediateDirectories: true)
        let cleanup = DockerLoginDirectory.removeAbandoned(parent: parent)
        #expect(cleanup == DockerLoginDirectory.Cleanup(removed: [killed], failed: [:]))
        #expect(!FileManager.default.fileExists(atPath: killed))
        #expect(FileManager.default.fileExists(atPath: live + "/owner.pid"))
        #expect(FileManager.default.fileExists(atPath: starting), "a directory younger than the grace keeps its chance to get an owner")
        // Once the grace is over, a directory that never got an owner is abandoned too.
        let later = DockerLoginDirectory.removeAbandoned(parent: parent, now: Date().addingTimeInterval(DockerLoginDirectory.ownerGrace + 1))
        #expect(later.removed == [starting])
    }
}
