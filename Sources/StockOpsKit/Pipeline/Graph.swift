import Foundation

/// A type-erased node of a ``PipelineGraph``.
public struct GraphNode: Sendable {
    public let id: NodeID
    public let policy: NodePolicy
    public let dependencies: [NodeID]
    /// One line describing what the node does, shown by `plan` and `graph`.
    public let summary: String
    let execute: @Sendable (StageContext) async throws -> StageValue
    let decode: @Sendable (Data) throws -> StageValue
    let skipCondition: (@Sendable (Outputs) throws -> String?)?
    let cacheInputs: (@Sendable (CacheKeyContext) async throws -> [String])?

    /// Whether the node declares a cache key.
    public var isCacheable: Bool { cacheInputs != nil }
}

/// A stage output, both as a value for dependents and encoded for the record and the cache.
struct StageValue: Sendable {
    let value: any Sendable
    let encoded: Data
}

/// An output containing secrets provides a copy with them removed; that copy is what run records and caches store.
public protocol RedactableOutput {
    func redacted() -> Self
}

/// What a cache key computation may use.
public struct CacheKeyContext: Sendable {
    public let root: String
    public let runner: ProcessRunner
    public let node: NodeID
    /// The node cache's directory, where tool versions are remembered (``ToolVersions``); nil without a cache.
    public var cacheDirectory: String?

    public init(root: String, runner: ProcessRunner, node: NodeID, cacheDirectory: String? = nil) {
        self.root = root
        self.runner = runner
        self.node = node
        self.cacheDirectory = cacheDirectory
    }
}

/// Why a graph could not be built. Errors name the nodes involved.
public struct GraphError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case duplicateID = "duplicate-id"
        case danglingEdge = "dangling-edge"
        case cycle
    }

    public let code: Code
    public let nodes: [NodeID]
    public let message: String

    public var description: String { message }
}

/// Assembles a ``PipelineGraph``: add nodes, then ``build()`` validates it.
public struct GraphBuilder: Sendable {
    private var nodes: [GraphNode] = []

    public init() {}

    /// The ids of the nodes added so far, in order.
    public var ids: [NodeID] { nodes.map(\.id) }

    /// Adds a node running `stage`.
    ///
    /// - Parameters:
    ///   - after: ordering-only edges in addition to `stage.dependencies`.
    ///   - when: returns a reason to skip the node given its dependencies' outputs, or nil to run it.
    ///   - cacheInputs: the node's declared inputs; a digest of them keys the cache. Nil: never cached.
    @discardableResult
    public mutating func add<S: Stage>(
        _ id: NodeID,
        _ stage: S,
        policy: NodePolicy = .gate,
        after: [NodeID] = [],
        summary: String? = nil,
        when: (@Sendable (Outputs) throws -> String?)? = nil,
        cacheInputs: (@Sendable (CacheKeyContext) async throws -> [String])? = nil
    ) -> StageRef<S.Output> {
        var dependencies: [NodeID] = []
        for dependency in stage.dependencies + after where !dependencies.contains(dependency) {
            dependencies.append(dependency)
        }
        nodes.append(
            GraphNode(
                id: id,
                policy: policy,
                dependencies: dependencies,
                summary: summary ?? String(describing: S.self),
                execute: { context in
                    let output = try await stage.run(context)
                    return StageValue(value: output, encoded: try Self.encode(output))
                },
                decode: { data in
                    let output = try JSONDecoder().decode(S.Output.self, from: data)
                    return StageValue(value: output, encoded: data)
                },
                skipCondition: when,
                cacheInputs: cacheInputs
            ))
        return StageRef(id)
    }

    /// Makes every node added so far that `isDependent` selects (never `dependency` itself) run only after
    /// `dependency`, and be blocked when it fails. The edge is added only where no other dependency already
    /// orders the node after `dependency`.
    public mutating func addDependency(_ dependency: NodeID, toNodes isDependent: (GraphNode) -> Bool) {
        var ordered: Set<NodeID> = []
        nodes = nodes.map { node in
            guard node.id != dependency, isDependent(node) else { return node }
            defer { ordered.insert(node.id) }
            if node.dependencies.contains(dependency) || node.dependencies.contains(where: ordered.contains) { return node }
            return GraphNode(
                id: node.id, policy: node.policy, dependencies: node.dependencies + [dependency], summary: node.summary,
                execute: node.execute, decode: node.decode, skipCondition: node.skipCondition, cacheInputs: node.cacheInputs)
        }
    }

    static func encode<O: Encodable>(_ output: O) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if let redactable = output as? any RedactableOutput, let clean = redactable.redacted() as? O {
            return try encoder.encode(clean)
        }
        return try encoder.encode(output)
    }

    /// Validates unique ids, edges to existing nodes and the absence of cycles.
    public func build() throws(GraphError) -> PipelineGraph {
        var byID: [NodeID: GraphNode] = [:]
        for node in nodes {
            if byID[node.id] != nil {
                throw GraphError(code: .duplicateID, nodes: [node.id], message: "two nodes are named \(node.id); node ids must be unique")
            }
            byID[node.id] = node
        }
        for node in nodes {
            for dependency in node.dependencies where byID[dependency] == nil {
                throw GraphError(
                    code: .danglingEdge, nodes: [node.id, dependency], message: "\(node.id) depends on \(dependency), which is not a node of the graph")
            }
        }
        var remaining = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.dependencies.count) })
        var dependents: [NodeID: [NodeID]] = [:]
        for node in nodes {
            for dependency in node.dependencies { dependents[dependency, default: []].append(node.id) }
        }
        var order: [NodeID] = nodes.filter { $0.dependencies.isEmpty }.map(\.id)
        var index = 0
        while index < order.count {
            for dependent in dependents[order[index], default: []] {
                remaining[dependent]! -= 1
                if remaining[dependent] == 0 { order.append(dependent) }
            }
            index += 1
        }
        if order.count < nodes.count {
            let cycle = Self.findCycle(in: byID, among: Set(nodes.map(\.id)).subtracting(order))
            throw GraphError(code: .cycle, nodes: cycle, message: "the graph has a cycle: " + (cycle + [cycle[0]]).map(\.description).joined(separator: " → "))
        }
        return PipelineGraph(nodes: order.map { byID[$0]! }, dependents: dependents)
    }

    private static func findCycle(in byID: [NodeID: GraphNode], among candidates: Set<NodeID>) -> [NodeID] {
        var path: [NodeID] = []
        var onPath: Set<NodeID> = []
        var done: Set<NodeID> = []
        func visit(_ id: NodeID) -> [NodeID]? {
            if onPath.contains(id) { return Array(path[path.firstIndex(of: id)!...]) }
            if done.contains(id) { return nil }
            path.append(id)
            onPath.insert(id)
            for dependency in byID[id]!.dependencies where candidates.contains(dependency) {
                if let cycle = visit(dependency) { return cycle }
            }
            path.removeLast()
            onPath.remove(id)
            done.insert(id)
            return nil
        }
        for id in candidates.sorted() {
            if let cycle = visit(id) { return cycle.reversed() }
        }
        return candidates.sorted()
    }
}

/// A validated, acyclic graph of stages, its nodes in a topological order.
public struct PipelineGraph: Sendable {
    public let nodes: [GraphNode]
    let dependents: [NodeID: [NodeID]]

    public func node(_ id: NodeID) -> GraphNode? {
        nodes.first { $0.id == id }
    }

    /// The nodes that depend directly on `id`.
    public func dependents(of id: NodeID) -> [NodeID] {
        dependents[id, default: []]
    }

    /// Resolves `--only` and `--skip` selectors into the nodes excluded from a run, with the reason.
    ///
    /// `--only` keeps the designated nodes, their transitive dependencies and every `finally` node.
    /// A selector matches an exact id (`test[trade]`) or every node of a stage (`test`).
    public func exclusions(only: [String], skip: [String]) throws(SelectionError) -> [NodeID: String] {
        for selector in only + skip where !nodes.contains(where: { $0.id.matches(selector: selector) }) {
            throw SelectionError(selector: selector, known: nodes.map(\.id))
        }
        var excluded: [NodeID: String] = [:]
        if !only.isEmpty {
            var kept: Set<NodeID> = []
            var stack = nodes.filter { node in only.contains { node.id.matches(selector: $0) } }.map(\.id)
            while let id = stack.popLast() {
                guard kept.insert(id).inserted else { continue }
                stack.append(contentsOf: node(id)?.dependencies ?? [])
            }
            for node in nodes where !kept.contains(node.id) && node.policy.kind != .finally {
                excluded[node.id] = "not selected by --only"
            }
        }
        for node in nodes where skip.contains(where: { node.id.matches(selector: $0) }) {
            excluded[node.id] = "skipped by --skip"
        }
        return excluded
    }
}

/// A `--only`/`--skip` selector that designates no node.
public struct SelectionError: Error, Sendable, CustomStringConvertible {
    public let selector: String
    public let known: [NodeID]
    public var description: String {
        "no node matches '\(selector)'; known nodes: " + known.map(\.description).joined(separator: ", ")
    }
}
