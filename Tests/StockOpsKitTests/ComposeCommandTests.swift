import Foundation
import Testing

@testable import StockOpsKit

@Suite("ComposeCommand argv")
struct ComposeCommandTests {
    @Test func pluginFlavor() {
        let compose = ComposeCommand(flavor: .plugin, environment: "dev")
        let prefix = ["docker", "compose", "-p", "stocks-dev", "-f", "environments/compose.yml"]
        #expect(compose.pull() == prefix + ["pull"])
        #expect(compose.up() == prefix + ["up", "-d", "--remove-orphans"])
        #expect(compose.down() == prefix + ["down"])
        #expect(compose.ps() == prefix + ["ps", "--format", "json"])
        #expect(ComposeCommand.version(.plugin) == ["docker", "compose", "version"])
    }

    @Test func standaloneFlavor() {
        let compose = ComposeCommand(flavor: .standalone, environment: "stage", root: "/srv/stocks/")
        #expect(compose.up() == ["docker-compose", "-p", "stocks-stage", "-f", "/srv/stocks/environments/compose.yml", "up", "-d", "--remove-orphans"])
        #expect(ComposeCommand.version(.standalone) == ["docker-compose", "version"])
    }

    @Test func parsesBothPSFormats() throws {
        let lines = try ComposeCommand.parsePS(DocumentedFixtures.composePSLines)
        #expect(
            lines == [
                .init(name: "stocks-dev-web-1", service: "web", state: "running", health: nil),
                .init(name: "stocks-dev-db-1", service: "db", state: "running", health: "healthy"),
            ])
        let array = try ComposeCommand.parsePS(DocumentedFixtures.composePSArray)
        #expect(array == [.init(name: "stocks-dev-web-1", service: "web", state: "exited", health: nil)])
        #expect(try ComposeCommand.parsePS("\n") == [])
        #expect(throws: ToolOutputError.self) { try ComposeCommand.parsePS("no such service") }
    }
}
