import ArgumentParser
import Foundation
import StockOpsKit

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Start, inspect or stop a local stand-in for a runner's Docker engine, Harbor and Vault.",
        discussion: """
            Examples:
              stockops sandbox up && stockops run --env dev
              stockops sandbox status
              stockops sandbox down --purge
            """,
        subcommands: [Up.self, Status.self, Down.self]
    )

    /// The flags every sandbox action takes.
    struct Options: ParsableArguments {
        @OptionGroup var root: RootOption

        /// Runs `scripts/sandbox.sh ACTION ARGUMENTS` of the root, with this terminal.
        func script(_ action: String, _ arguments: [String] = []) throws {
            let root = self.root.path
            let script = root + "/scripts/sandbox.sh"
            guard FileManager.default.isExecutableFile(atPath: script) else {
                FileHandle.standardError.write(Data("error: \(script) not found: run stockops sandbox from the repository root or pass --root\n".utf8))
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            // The script makes an AppRole and database settings for each environment of the pipeline. A pipeline
            // that does not load leaves the script's default (dev stage prod): `run` reports the configuration error.
            var environment = RunEnvironment.process.variables
            if environment["STOCKOPS_ENVIRONMENTS"] == nil, let pipeline = try? PipelineConfig.load(path: root + "/" + PipelineConfig.defaultPath) {
                environment["STOCKOPS_ENVIRONMENTS"] = pipeline.environments.keys.sorted().map(\.rawValue).joined(separator: " ")
            }
            let status = try SandboxCommand.runInheritingTerminal([script, action] + arguments, environment: environment)
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the sandbox (idempotent).",
            discussion: """
                A Docker engine (DOCKER_HOST, or a private dockerd when root), an OCI registry with htpasswd on \
                127.0.0.1:5000, OpenBao on 127.0.0.1:8200 (and the Docker bridge gateway) initialised by vault/init.sh, \
                the environments' database, Vault Agent and proxy images, and .stockops/sandbox.env, which `stockops run` \
                and the environment commands read, so the deploy node runs the environments in that engine.
                """)

        @OptionGroup var options: Options

        func run() async throws { try options.script("up") }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the sandbox runs, by PID, and the environments' containers.",
            discussion: "Exit codes: 0 everything runs, 1 something is stopped.")

        @OptionGroup var options: Options

        @Flag(help: "Print JSON: {schemaVersion, components, vault, dockerHost, environmentFile, containers}.")
        var json = false

        func run() async throws { try options.script("status", json ? ["--json"] : []) }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop what `up` started, by PID (the containers of a private engine first).")

        @OptionGroup var options: Options

        @Flag(help: "Also delete the registry, Vault and engine data of the sandbox.")
        var purge = false

        func run() async throws { try options.script("down", purge ? ["--purge"] : []) }
    }

    /// Runs argv with this process's standard input, output and error, and returns its exit status.
    /// (posix_spawn and waitpid: Foundation's Process can miss the exit of a child whose own children live on.)
    static func runInheritingTerminal(_ argv: [String], environment: [String: String]) throws -> Int32 {
        var pid: pid_t = 0
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        let spawned = posix_spawn(&pid, argv[0], nil, nil, arguments, variables)
        guard spawned == 0 else { throw ValidationError("could not start \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
