import Foundation

/// The package's own targets and what each depends on, from `swift package describe --type json`: which directories
/// a service's product and tests are built from, beyond the paths `pipelines/stockops.yml` lists.
public struct PackageGraph: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var name: String
        /// Relative to the package root.
        public var path: String
        /// The package's own targets it depends on.
        public var dependencies: [String]
    }

    public var targets: [String: Target]

    public init(targets: [Target]) {
        self.targets = Dictionary(targets.map { ($0.name, $0) }) { first, _ in first }
    }

    /// Reads the JSON `swift package describe --type json` prints.
    public static func parse(_ data: Data) throws(ToolOutputError) -> PackageGraph {
        struct Description: Decodable {
            struct Target: Decodable {
                var name: String
                var path: String
                var target_dependencies: [String]?
            }
            var targets: [Target]
        }
        do {
            let description = try JSONDecoder().decode(Description.self, from: data)
            return PackageGraph(targets: description.targets.map { Target(name: $0.name, path: $0.path, dependencies: $0.target_dependencies ?? []) })
        } catch {
            throw ToolOutputError(.unparsable, "swift package describe --type json printed no package description: \(error)")
        }
    }

    /// The directories (`path/`) of `names` and of every target they depend on, transitively; unknown names are left
    /// out.
    public func closurePaths(_ names: [String]) -> [String] {
        var seen: Set<String> = []
        var pending = names
        while let name = pending.popLast() {
            guard let target = targets[name], seen.insert(name).inserted else { continue }
            pending += target.dependencies
        }
        return Set(seen.compactMap { targets[$0].map { $0.path.hasSuffix("/") ? $0.path : $0.path + "/" } }).sorted()
    }

    /// `service` with the directories its product and test target are built from added to its paths.
    public func widened(_ service: ServiceConfig) -> ServiceConfig {
        var widened = service
        for path in closurePaths([service.product, service.testTarget]) where !widened.paths.contains(path) {
            widened.paths.append(path)
        }
        return widened
    }

    /// The graph of the package in `package` (relative to the repository `root`, `.` for the root package) with its
    /// target paths relative to `root`, described once per process and package, and remembered in
    /// `<root>/.stockops/package-graph*.json` for the same `Package.swift` and `swift` binary.
    public static func load(root: String, package: String = ".", swift: String = "swift", runner: ProcessRunner) async throws -> PackageGraph {
        let directory = ServiceConfig.directory(of: package, root: root)
        let graph = try await Loaded.shared.graph(root: directory) {
            let command = Command(swift, ["package", "--package-path", directory, "describe", "--type", "json"], environment: Command.baseEnvironment())
            let memo = root + "/.stockops/package-graph" + (package == "." ? "" : "-" + package.replacingOccurrences(of: "/", with: "-")) + ".json"
            let manifest = FileManager.default.contents(atPath: directory + "/Package.swift").map { ImageDigest.of($0).description } ?? "-"
            let key = manifest + "\u{0}" + (ToolVersions.identity(of: command) ?? "-")
            struct Memo: Codable {
                var key: String
                var description: String
            }
            // A missing, stale or unreadable memo only means asking swift package describe again.
            if let data = FileManager.default.contents(atPath: memo), let remembered = try? JSONDecoder().decode(Memo.self, from: data), remembered.key == key,
                let graph = try? parse(Data(remembered.description.utf8))
            {
                return graph
            }
            let result = try await runner.run(command)
            guard result.succeeded else { throw ToolOutputError(.unparsable, "swift package describe failed: \(result.output.suffix(400))") }
            // Warnings may come before the JSON on the merged output.
            guard let start = result.output.firstIndex(of: "{"), let end = result.output.lastIndex(of: "}") else {
                throw ToolOutputError(.unparsable, "swift package describe printed no JSON: \(result.output.suffix(400))")
            }
            let description = String(result.output[start...end])
            let graph = try parse(Data(description.utf8))
            // A memo that cannot be written costs a describe next time, nothing else.
            if let data = try? JSONEncoder().encode(Memo(key: key, description: description)) {
                // An unwritable .stockops directory or memo file only means describing the package again next run.
                try? FileManager.default.createDirectory(atPath: root + "/.stockops", withIntermediateDirectories: true)
                try? data.write(to: URL(fileURLWithPath: memo), options: .atomic)
            }
            return graph
        }
        return graph.under(package)
    }

    /// The same graph with every target path prefixed by `package/` (nothing for `.`).
    public func under(_ package: String) -> PackageGraph {
        guard package != "." else { return self }
        return PackageGraph(targets: targets.values.map { Target(name: $0.name, path: package + "/" + $0.path, dependencies: $0.dependencies) })
    }

    private actor Loaded {
        static let shared = Loaded()
        private var graphs: [String: Task<PackageGraph, any Error>] = [:]

        func graph(root: String, _ describe: @escaping @Sendable () async throws -> PackageGraph) async throws -> PackageGraph {
            if let task = graphs[root] { return try await task.value }
            let task = Task { try await describe() }
            graphs[root] = task
            do {
                return try await task.value
            } catch {
                graphs[root] = nil
                throw error
            }
        }
    }
}
