import Foundation
import Testing

@testable import StockOpsKit

/// On a runner, whose checkout wipes the workspace at every job, ledger, lock and node cache live outside it.
@Suite struct StateDirectoryTests {
    @Test func onARunnerStateAndCacheLiveOutsideTheWorkspace() throws {
        let root = "/runner/_work/stockops/stockops"
        let home = temporaryDirectory()
        let runner = ["GITHUB_ACTIONS": "true", "HOME": home]
        let state = StateDirectory.resolve(root: root, environment: runner)
        #expect(!state.hasPrefix(root))
        #expect(state == "/var/lib/stockops" || state == home + "/.local/state/stockops")
        #expect(StateDirectory.resolve(root: root, environment: runner.merging(["XDG_STATE_HOME": "/xdg/state"]) { $1 }) == state.replacingOccurrences(of: home + "/.local/state", with: "/xdg/state"))
        #expect(StateDirectory.cache(root: root, environment: runner) == home + "/.cache/stockops/results")
        #expect(StateDirectory.cache(root: root, environment: runner.merging(["XDG_CACHE_HOME": "/xdg/cache"]) { $1 }) == "/xdg/cache/stockops/results")
    }

    @Test func variablesOverrideAndLocalRunsKeepTheirCheckout() {
        let root = "/home/dev/stockops"
        #expect(StateDirectory.resolve(root: root, environment: [:]) == root + "/.stockops/state")
        #expect(StateDirectory.cache(root: root, environment: [:]) == root + "/.stockops/cache")
        let configured = ["GITHUB_ACTIONS": "true", "STOCKOPS_STATE_DIR": "/srv/state", "STOCKOPS_NODE_CACHE_DIR": "cache"]
        #expect(StateDirectory.resolve(root: root, environment: configured) == "/srv/state")
        #expect(StateDirectory.cache(root: root, environment: configured) == root + "/cache")
    }

    @Test func statusPrintsWhereTheStateIs() async throws {
        let root = temporaryDirectory()
        let state = temporaryDirectory() + "/state"
        let out = root + "/out"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(fd) }
        let console = Console(fd: fd, isTTY: false, colors: false, githubActions: false)
        let request = EnvironmentRequest(root: root, environment: .dev, processEnvironment: ["STOCKOPS_STATE_DIR": state, "DOCKER_HOST": "unix:///nonexistent.sock", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""])
        #expect(await Session(output: console, errors: console).status(request) == .infrastructure, "no engine answers at DOCKER_HOST")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        // Everything a console prints goes through the process's masker, which other tests' secrets also feed.
        #expect(text.contains(SecretMasker.shared.mask("state:       \(state)\n")), "\(text)")
    }
}
