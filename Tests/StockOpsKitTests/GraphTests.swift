import Testing

@testable import StockOpsKit

@Suite struct GraphTests {
    @Test func nodeIDsRenderAndParseMatrixKeys() {
        let id = NodeID("build", key: "trade")
        #expect(id.description == "build[trade]")
        #expect(NodeID(parsing: "build[trade]") == id)
        #expect(NodeID(parsing: "fetch-secrets") == NodeID("fetch-secrets"))
        #expect(id.matches(selector: "build"))
        #expect(id.matches(selector: "build[trade]"))
        #expect(!id.matches(selector: "build[stock-listing]"))
    }

    @Test func aCycleNamesItsNodes() {
        var builder = GraphBuilder()
        builder.add("start", Probe())
        builder.add("a", Probe(dependencies: ["start", "c"]))
        builder.add("b", Probe(dependencies: ["a"]))
        builder.add("c", Probe(dependencies: ["b"]))
        #expect {
            try builder.build()
        } throws: { error in
            guard let error = error as? GraphError, error.code == .cycle else { return false }
            return Set(error.nodes) == ["a", "b", "c"] && error.message.contains("a") && error.message.contains("→")
        }
    }

    @Test func aDanglingEdgeNamesBothEnds() {
        var builder = GraphBuilder()
        builder.add("deploy", Probe(dependencies: ["build"]))
        #expect(throws: GraphError(code: .danglingEdge, nodes: ["deploy", "build"], message: "deploy depends on build, which is not a node of the graph")) {
            try builder.build()
        }
    }

    @Test func duplicateIDsAreRefused() {
        var builder = GraphBuilder()
        builder.add(NodeID("test", key: "trade"), Probe())
        builder.add(NodeID("test", key: "trade"), Probe())
        #expect {
            try builder.build()
        } throws: { error in
            (error as? GraphError)?.code == .duplicateID && (error as? GraphError)?.nodes == [NodeID("test", key: "trade")]
        }
    }

    @Test func nodesAreInTopologicalOrder() throws {
        var builder = GraphBuilder()
        builder.add("c", Probe(dependencies: ["b"]))
        builder.add("b", Probe(dependencies: ["a"]))
        builder.add("a", Probe())
        let graph = try builder.build()
        #expect(graph.nodes.map(\.id) == ["a", "b", "c"])
        #expect(graph.dependents(of: "a") == ["b"])
    }

    @Test func onlyKeepsDependenciesAndFinallyNodes() throws {
        var builder = GraphBuilder()
        builder.add("paths-filter", Probe())
        builder.add(NodeID("test", key: "trade"), Probe(dependencies: ["paths-filter"]))
        builder.add(NodeID("test", key: "stock-listing"), Probe(dependencies: ["paths-filter"]))
        builder.add("deploy", Probe(dependencies: [NodeID("test", key: "trade")]))
        builder.add("notify", Probe(dependencies: ["deploy"]), policy: .finally)
        let graph = try builder.build()
        let excluded = try graph.exclusions(only: ["test[trade]"], skip: [])
        #expect(Set(excluded.keys) == [NodeID("test", key: "stock-listing"), "deploy"])
        let skipped = try graph.exclusions(only: [], skip: ["test"])
        #expect(Set(skipped.keys) == [NodeID("test", key: "trade"), NodeID("test", key: "stock-listing")])
        #expect(throws: SelectionError.self) { try graph.exclusions(only: ["tset"], skip: []) }
    }

    @Test func rendersMermaidAndDot() throws {
        var builder = GraphBuilder()
        builder.add("paths-filter", Probe())
        builder.add(NodeID("test", key: "trade"), Probe(dependencies: ["paths-filter"]))
        let graph = try builder.build()
        let mermaid = GraphFormat.mermaid.render(graph)
        #expect(mermaid.hasPrefix("flowchart LR"))
        #expect(mermaid.contains("paths_filter --> test_trade_"))
        #expect(GraphFormat.dot.render(graph).contains("\"paths-filter\" -> \"test[trade]\";"))
    }
}
