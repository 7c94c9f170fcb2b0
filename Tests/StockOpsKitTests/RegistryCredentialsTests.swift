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

    /// The image stages log in as promote, deploy and rollback do: the fetched robot, or the environment's override.
    @Test func theImageStagesFindTheSameLogin() throws {
        let fetch = StockOpsPipeline.fetchSecrets
        let fetched = FetchedSecrets(values: ["HARBOR_USERNAME": Secret("robot$ci"), "HARBOR_PASSWORD": Secret("from-vault")])
        let context = stageContext(NodeID("build", key: "trade"), root: temporaryDirectory(), outputs: [fetch.id: fetched])
        let registry = RegistryConfig(host: "harbor.example.com", project: "stockapp")
        let fromVault = try ImageSettings(registry: registry, images: ImagesConfig(), secrets: fetch).credentials(context)
        #expect(fromVault?.username == "robot$ci" && fromVault?.password.reveal() == "from-vault")
        let overridden = try ImageSettings(
            registry: registry, images: ImagesConfig(), secrets: fetch,
            processEnvironment: ["STOCKOPS_REGISTRY_USERNAME": "operator", "STOCKOPS_REGISTRY_PASSWORD": "by-hand"]
        ).credentials(context)
        #expect(overridden?.username == "operator" && overridden?.password.reveal() == "by-hand")
        let withoutVault = try ImageSettings(registry: registry, images: ImagesConfig(), secrets: nil).credentials(context)
        #expect(withoutVault == nil)
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
