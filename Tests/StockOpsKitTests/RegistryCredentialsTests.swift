import Foundation
import Testing

@testable import StockOpsKit

/// `rollback` (and every command outside the pipeline) finds the registry login the way the pipeline does: from
/// Vault with the CI AppRole, with `STOCKOPS_REGISTRY_USERNAME`/`_PASSWORD` as an override.
@Suite("Registry credentials outside the pipeline")
struct RegistryCredentialsTests {
    static func repositoryConfig() throws -> PipelineConfig {
        try PipelineConfig.load(path: OpenBaoDevServer.repositoryRoot.path + "/pipelines/stockops.yml")
    }

    @Test func readsTheRobotFromVaultWithTheAppRoleAlone() async throws {
        let vault = try await CIVault()
        defer { vault.server.stop() }
        let directory = temporaryDirectory()
        let credentials = try await RegistryAccess.credentials(
            config: try Self.repositoryConfig(), environment: RunEnvironment(try vault.environment(directory: directory)))
        #expect(credentials?.username == "robot$ci")
        #expect(credentials?.password.reveal() == vault.harborPassword.reveal())
    }

    @Test func environmentVariablesOverrideVault() async throws {
        let vault = try await CIVault()
        defer { vault.server.stop() }
        var environment = try vault.environment(directory: temporaryDirectory())
        environment["STOCKOPS_REGISTRY_USERNAME"] = "operator"
        environment["STOCKOPS_REGISTRY_PASSWORD"] = "by-hand"
        let credentials = try await RegistryAccess.credentials(config: try Self.repositoryConfig(), environment: RunEnvironment(environment))
        #expect(credentials?.username == "operator")
        #expect(credentials?.password.reveal() == "by-hand")
    }

    @Test func anonymousWithoutVaultOrVariables() async throws {
        let credentials = try await RegistryAccess.credentials(config: try Self.repositoryConfig(), environment: [:])
        #expect(credentials == nil)
    }

    @Test func aRefusedLoginIsAnInfrastructureErrorNamingTheAppRole() async throws {
        let vault = try await CIVault()
        defer { vault.server.stop() }
        let environment = ["VAULT_ADDR": vault.server.address, "VAULT_ROLE_ID": vault.roleID.reveal(), "VAULT_SECRET_ID": "not-the-secret-id"]
        let config = try Self.repositoryConfig()
        do {
            _ = try await RegistryAccess.credentials(config: config, environment: RunEnvironment(environment))
            Issue.record("a refused AppRole login gave credentials")
        } catch {
            #expect(error.code == .infrastructure)
            #expect(error.message.contains("AppRole login refused"), "\(error.message)")
            #expect(!error.message.contains("not-the-secret-id"))
        }
    }
}
