import Foundation
import Testing

@testable import StockOpsKit

/// Checks a command's `--json` output against its shape in docs/schemas/stockops-json.schema.json with the
/// `jsonschema` package (Draft 2020-12, formats checked).
enum JSONSchemaCheck {
    static let schema = OpenBaoDevServer.repositoryRoot.path + "/docs/schemas/stockops-json.schema.json"

    static let validator = """
        import json, sys
        from jsonschema import Draft202012Validator
        document = json.load(open(sys.argv[1]))
        Draft202012Validator.check_schema(document)
        commands = document["$defs"]["commands"]["properties"]
        if sys.argv[2] not in commands:
            print(f"no schema for {sys.argv[2]!r} under $defs.commands"); sys.exit(1)
        schema = {"$ref": "#/$defs/commands/properties/" + sys.argv[2], "$defs": document["$defs"]}
        try:
            value = json.loads(open(sys.argv[3]).read())
        except ValueError as error:
            print(f"not one JSON document: {error}"); sys.exit(1)
        errors = list(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(value))
        for error in errors:
            print("/".join(map(str, error.absolute_path)) + ": " + error.message[:300])
        sys.exit(1 if errors else 0)
        """

    /// What does not match the command's schema; empty when the output is valid.
    static func problems(_ output: String, command: String) async throws -> [String] {
        let file = temporaryDirectory("json-output") + "/output.json"
        try output.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await runTool(["python3", "-c", validator, schema, command, file])
        return result.status == 0 ? [] : result.output.split(separator: "\n").map(String.init)
    }

    /// Runs the built `stockops` and returns its exit status and standard output (standard error is dropped).
    static func stockops(_ arguments: [String], environment: [String: String], directory: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: EnvironmentLockTests.binary)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Every command's `--json` has a schema, and what the commands print matches it. The commands that need a registry,
/// an engine or Vault are checked where their suites run them: `verify` (AttestationTests), `tags`
/// (RollbackTargetsTests), `rollback` (DeployEndToEndTests, ZeroDowntimeTests), `rollout abort` and a running canary's
/// `rollout status` (CanaryDeployTests), `secrets check` (SecretsCheckTests), `status` of a serving environment
/// (ZeroDowntimeTests), `gitops history` and `gitops rollback` (GitOpsTests).
@Suite struct JSONSchemaTests {
    @Test func everyJSONFlagHasASchemaAndEverySchemaACommand() async throws {
        let help = try JSONSchemaCheck.stockops(
            ["--experimental-dump-help"], environment: ProcessInfo.processInfo.environment, directory: temporaryDirectory("dump-help"))
        #expect(help.status == 0)
        struct Command: Decodable {
            struct Argument: Decodable {
                var names: [Name]?
            }
            struct Name: Decodable {
                var name: String
            }
            var commandName: String
            var arguments: [Argument]?
            var subcommands: [Command]?
        }
        struct Dump: Decodable {
            var command: Command
        }
        let root = try JSONDecoder().decode(Dump.self, from: Data(help.output.utf8)).command
        var withJSON: Set<String> = []
        func walk(_ command: Command, path: [String]) {
            if command.arguments?.contains(where: { $0.names?.contains { $0.name == "json" } == true }) == true {
                withJSON.insert(path.joined(separator: "-"))
            }
            for subcommand in command.subcommands ?? [] where subcommand.commandName != "help" {
                walk(subcommand, path: path + [subcommand.commandName])
            }
        }
        walk(root, path: [])
        // rollout's --json is one flag for its three actions, which are an argument, not subcommands.
        if withJSON.remove("rollout") != nil { withJSON.formUnion(["rollout-status", "rollout-promote", "rollout-abort"]) }
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: JSONSchemaCheck.schema))) as? [String: Any]
        let commands = ((schema?["$defs"] as? [String: Any])?["commands"] as? [String: Any])?["properties"] as? [String: Any]
        let documented = Set(try #require(commands).keys)
        #expect(withJSON.count >= 15, "the walk found the flags: \(withJSON.sorted())")
        #expect(withJSON.subtracting(documented).isEmpty, "--json without a schema: \(withJSON.subtracting(documented).sorted())")
        #expect(documented.subtracting(withJSON).isEmpty, "schemas of commands without --json: \(documented.subtracting(withJSON).sorted())")
    }

    @Test func theCommandsThatNeedNoServerPrintWhatTheirSchemasSay() async throws {
        let repository = try await RunOperationTests().repository()
        let state = temporaryDirectory("json-state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        try Ledger(stateDirectory: state, environment: .dev).append(
            LedgerEntry(
                environment: .dev, action: .deploy, tag: "dev-aaaaaaa", images: ["trade": "sha256:" + String(repeating: "a", count: 64)], outcome: .succeeded,
                actor: "t"))
        var environment = ProcessInfo.processInfo.environment
        environment["STOCKOPS_STATE_DIR"] = state
        environment["STOCKOPS_NODE_CACHE_DIR"] = state + "/cache"
        environment["DOCKER_HOST"] = "unix://" + state + "/no-engine.sock"
        let root = repository.root
        let cases: [(command: String, arguments: [String], status: Int32)] = [
            ("graph", ["graph", "--root", root, "--json"], 0),
            ("plan", ["plan", "--root", root, "--env", "dev", "--json"], 0),
            ("run", ["run", "--root", root, "--env", "dev", "--only", "paths-filter", "--json"], 0),
            ("runs-list", ["runs", "list", "--root", root, "--json"], 0),
            ("runs-show", ["runs", "show", "--root", root, "--json"], 0),
            ("report", ["report", "--root", root, "--json"], 0),
            ("runs-prune", ["runs", "prune", "--root", root, "--keep", "5", "--json"], 0),
            ("history", ["history", "--root", root, "--env", "dev", "--json"], 0),
            ("lock", ["lock", "--root", root, "--env", "dev", "--reason", "database upgrade", "--json"], 0),
            ("unlock", ["unlock", "--root", root, "--env", "dev", "--json"], 0),
            ("unlock", ["unlock", "--root", root, "--env", "dev", "--json"], 0),
            ("cache-prune", ["cache", "prune", "--root", root, "--json"], 0),
            ("rollout-status", ["rollout", "status", "--root", root, "--env", "dev", "--json"], 0),
            // No engine answers: status says so in its document and exits 3.
            ("status", ["status", "--root", root, "--env", "dev", "--json"], 3),
        ]
        for item in cases {
            let (status, output) = try JSONSchemaCheck.stockops(item.arguments, environment: environment, directory: root)
            #expect(status == item.status, "\(item.arguments.joined(separator: " ")) exited \(status): \(output)")
            let problems = try await JSONSchemaCheck.problems(output, command: item.command)
            #expect(problems.isEmpty, "\(item.arguments.joined(separator: " ")): \(problems)\n\(output)")
        }
        let doctor = try JSONSchemaCheck.stockops(["doctor", "--root", root, "--json"], environment: environment, directory: root)
        #expect(doctor.status == 0 || doctor.status == 3)
        #expect(try await JSONSchemaCheck.problems(doctor.output, command: "doctor").isEmpty, "\(doctor.output)")
        // The sandbox of this checkout, running or not (exit 0 or 1).
        let sandbox = try JSONSchemaCheck.stockops(
            ["sandbox", "status", "--root", OpenBaoDevServer.repositoryRoot.path, "--json"], environment: environment, directory: root)
        #expect(sandbox.status == 0 || sandbox.status == 1)
        #expect(try await JSONSchemaCheck.problems(sandbox.output, command: "sandbox-status").isEmpty, "\(sandbox.output)")

        // The check can fail: a document with a field its schema does not name, or without schemaVersion.
        #expect(
            try await !JSONSchemaCheck.problems(#"{"schemaVersion": 1, "directory": "/c", "removed": 1, "kept": 0, "extra": true}"#, command: "cache-prune")
                .isEmpty)
        #expect(try await !JSONSchemaCheck.problems(#"{"directory": "/c", "removed": 1, "kept": 0}"#, command: "cache-prune").isEmpty)
        #expect(try await !JSONSchemaCheck.problems("{}\n{}", command: "cache-prune").isEmpty)
    }
}
