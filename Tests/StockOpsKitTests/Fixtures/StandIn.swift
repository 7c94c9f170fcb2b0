import Foundation

@testable import StockOpsKit

/// An executable standing in for a tool that cannot run here (gitleaks, ZAP's image, trivy with a DB): a Python
/// script that checks the argv it gets against the tool's documented shape, records it, and behaves as the
/// documentation says the tool does. A script exiting 97 means "argv not as documented", with the reason on stderr.
struct StandIn {
    let path: String
    let directory: String

    /// Writes `script` (Python 3, after a prelude defining `ARGS`, `fail(reason)` and `record()`) as `name`.
    init(_ name: String, script: String) throws {
        directory = temporaryDirectory("standin-" + name)
        path = directory + "/" + name
        let prelude = """
            #!/usr/bin/env python3
            import json, os, sys
            ARGS = sys.argv[1:]
            def fail(reason):
                sys.stderr.write("stand-in \(name): " + reason + "\\n")
                sys.exit(97)
            def record():
                with open(os.path.join(\(Self.literal(directory)), "calls.jsonl"), "a") as handle:
                    handle.write(json.dumps({"args": ARGS, "cwd": os.getcwd()}) + "\\n")
            record()

            """
        try (prelude + script).write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, 0o755) == 0 else { throw FixtureError("chmod of \(path) failed") }
    }

    /// The argv (without the executable) and working directory of every call, in order.
    func calls() throws -> [(args: [String], cwd: String)] {
        guard let text = try? String(contentsOfFile: directory + "/calls.jsonl", encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return ((object?["args"] as? [String]) ?? [], (object?["cwd"] as? String) ?? "")
        }
    }

    /// A Python string literal.
    static func literal(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        return String(String(decoding: data ?? Data("[\"\"]".utf8), as: UTF8.self).dropFirst().dropLast())
    }
}

/// A context for running one stage directly, with the outputs it reads.
func stageContext(_ node: NodeID, root: String, outputs: [NodeID: any Sendable] = [:]) -> StageContext {
    let paths = RunPaths(root: root, runDirectory: root + "/.stockops/runs/" + UUID().uuidString)
    var values = Outputs()
    for (id, value) in outputs { values.values[id] = value }
    return StageContext(
        node: node, log: NodeLog(path: paths.logPath(for: node)), runner: ProcessRunner(grace: .seconds(2)), paths: paths, outputs: values,
        dependencies: Set(outputs.keys))
}

/// Every file under `directory`, with its text.
func filesUnder(_ directory: String) -> [(path: String, text: String)] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var files: [(String, String)] = []
    for case let relative as String in enumerator {
        var isDirectory: ObjCBool = false
        let path = directory + "/" + relative
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path)
        else { continue }
        files.append((relative, String(decoding: data, as: UTF8.self)))
    }
    return files
}

/// An AWS-style access key id made at run time, so that no source file holds one.
func plantedAWSKey() -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    return "AK" + "IA" + String((0..<16).map { _ in alphabet.randomElement()! })
}
