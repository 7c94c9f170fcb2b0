import Foundation
import Testing

@testable import StockOpsKit

/// On a runner, whose checkout wipes the workspace at every job, ledger, lock and node cache live outside it.
@Suite struct StateDirectoryTests {
    @Test func onARunnerStateAndCacheLiveOutsideTheWorkspace() throws {
        let root = "/runner/_work/stockops/stockops"
        let home = temporaryDirectory()
        let runner = ["GITHUB_ACTIONS": "true", "HOME": home]
        let state = StateDirectory.resolve(root: root, environment: RunEnvironment(runner))
        #expect(!state.hasPrefix(root))
        #expect(state == "/var/lib/stockops" || state == home + "/.local/state/stockops")
        #expect(
            StateDirectory.resolve(root: root, environment: RunEnvironment(runner.merging(["XDG_STATE_HOME": "/xdg/state"]) { $1 }))
                == state.replacingOccurrences(of: home + "/.local/state", with: "/xdg/state"))
        #expect(StateDirectory.cache(root: root, environment: RunEnvironment(runner)) == home + "/.cache/stockops/results")
        #expect(
            StateDirectory.cache(root: root, environment: RunEnvironment(runner.merging(["XDG_CACHE_HOME": "/xdg/cache"]) { $1 }))
                == "/xdg/cache/stockops/results")
    }

    @Test func variablesOverrideAndLocalRunsKeepTheirCheckout() {
        let root = "/home/dev/stockops"
        #expect(StateDirectory.resolve(root: root, environment: [:]) == root + "/.stockops/state")
        #expect(StateDirectory.cache(root: root, environment: [:]) == root + "/.stockops/cache")
        let configured = ["GITHUB_ACTIONS": "true", "STOCKOPS_STATE_DIR": "/srv/state", "STOCKOPS_NODE_CACHE_DIR": "cache"]
        #expect(StateDirectory.resolve(root: root, environment: RunEnvironment(configured)) == "/srv/state")
        #expect(StateDirectory.cache(root: root, environment: RunEnvironment(configured)) == root + "/cache")
    }

    @Test func onARunnerSwiftPMBuildsLiveOutsideTheWorkspaceOneDirectoryPerTrustDomain() {
        let root = "/runner/_work/stockops/stockops"
        let runner = ["GITHUB_ACTIONS": "true", "HOME": "/home/runner"]
        #expect(StateDirectory.swiftPM(root: root, environment: RunEnvironment(runner), deploying: .dev) == "/home/runner/.cache/stockops/swiftpm/dev")
        #expect(StateDirectory.swiftPM(root: root, environment: RunEnvironment(runner), deploying: .stage) == "/home/runner/.cache/stockops/swiftpm/stage")
        let pullRequest = runner.merging(["GITHUB_EVENT_NAME": "pull_request", "XDG_CACHE_HOME": "/xdg/cache"]) { $1 }
        #expect(StateDirectory.swiftPM(root: root, environment: RunEnvironment(pullRequest), deploying: .dev) == "/xdg/cache/stockops/swiftpm/pull-request")
        #expect(StateDirectory.swiftPM(root: root, environment: ["STOCKOPS_SWIFTPM_DIR": "builds"], deploying: .prod) == root + "/builds/prod")
        #expect(StateDirectory.swiftPM(root: root, environment: [:], deploying: .dev) == nil, "local runs keep the package's .build")
    }

    @Test func theTestAndBuildCommandsUseTheScratchPath() {
        let tools = SwiftPM(packageDirectory: "/repo", scratchPath: "/cache/swiftpm/dev/tests")
        #expect(
            Array(tools.test(filter: "TradeServiceTests", xunitOutput: "/r/j.xml").arguments.prefix(5)) == [
                "test", "--package-path", "/repo", "--scratch-path", "/cache/swiftpm/dev/tests",
            ])
        #expect(tools.showCodecovPath().arguments == ["test", "--package-path", "/repo", "--scratch-path", "/cache/swiftpm/dev/tests", "--show-codecov-path"])
        #expect(
            tools.build(product: "trade", arguments: ["-c", "release"]).arguments == [
                "build", "--package-path", "/repo", "--scratch-path", "/cache/swiftpm/dev/tests", "--product", "trade", "-c", "release",
            ])
        #expect(!SwiftPM(packageDirectory: "/repo").test(filter: "X", xunitOutput: "/j.xml").arguments.contains("--scratch-path"))
        var options = StockOpsPipeline.Options(environment: .dev)
        options.root = "/repo"
        options.processEnvironment = ["GITHUB_ACTIONS": "true", "XDG_CACHE_HOME": "/c"]
        #expect(StockOpsPipeline.runnerScratch(options) == "/c/stockops/swiftpm/dev")
    }

    @Test func statusPrintsWhereTheStateIs() async throws {
        let root = temporaryDirectory()
        let state = temporaryDirectory() + "/state"
        let request = EnvironmentRequest(
            root: root, environment: .dev,
            processEnvironment: [
                "STOCKOPS_STATE_DIR": state, "DOCKER_HOST": "unix:///nonexistent.sock", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "",
            ])
        let status = try await request.status()
        #expect(status.exitStatus == .infrastructure, "no engine answers at DOCKER_HOST")
        #expect(status.docker?.contains("docker ps") == true, "\(status.docker ?? "")")
        #expect(status.stateDirectory == state)
    }
}
