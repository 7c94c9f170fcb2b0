import Foundation

/// What `compile[<service>]` left for `build[<service>]`.
public struct CompiledService: Codable, Sendable, Equatable {
    public var service: String
    /// The static release binary; nil when nothing was compiled.
    public var binary: String?
    /// Why nothing was compiled; nil when the binary was.
    public var notCompiled: String?

    public init(service: String, binary: String?, notCompiled: String? = nil) {
        self.service = service
        self.binary = binary
        self.notCompiled = notCompiled
    }
}

/// `compile[<service>]`: the service's static release binary, compiled while its tests run. It needs no test result
/// and publishes nothing: `build[<service>]`, which waits for the tests, finds the binary up to date in the same
/// SwiftPM directory and only builds and pushes the image. The compile runs at the lowest CPU priority: the tests'
/// debug build and tests keep their speed, and the release compile (whole-module, about 1.6 of 2 cores busy alone)
/// takes the cores they leave idle instead of starting after them.
///
/// Nothing is compiled when the registry already holds the commit's image (`git-<sha7>` with the commit as its
/// revision) and, when the run signs, its signature verifies: the build node reuses that image.
public struct CompileServiceStage: Stage {
    public var service: ServiceConfig
    public var settings: ImageSettings
    public var dependencies: [NodeID] { settings.secrets.map { [$0.id] } ?? [] }

    public init(service: ServiceConfig, settings: ImageSettings) {
        self.service = service
        self.settings = settings
    }

    public func run(_ context: StageContext) async throws -> CompiledService {
        let build = BuildImageStage(service: service, settings: settings)
        if let reused = try await committedImage(context, build: build) {
            context.log.write("\(reused): not compiled, build[\(service.name)] reuses the image\n")
            return CompiledService(service: service.name, binary: nil, notCompiled: reused)
        }
        return CompiledService(service: service.name, binary: try await build.buildBinary(context, yieldingCPU: true))
    }

    /// Says which image of the commit the registry holds, when the working tree is clean and the build node will
    /// reuse it; nil otherwise, and when the registry cannot be asked (the build node then asks again and reports why).
    private func committedImage(_ context: StageContext, build: BuildImageStage) async throws -> String? {
        let git = Git(repository: context.paths.root)
        guard try await BuildImageStage.uncommittedFiles(git, context).isEmpty else { return nil }
        let commit = try await BuildImageStage.headCommit(git, context)
        let tag = try RegistryTag.git(commit: commit)
        let repository = settings.registry.repository(service.name)
        // An unreachable registry or refused login only means compiling: build[<service>] reports the registry's error.
        guard let client = try? settings.client(context), let found = try? await client.digest(of: tag, in: repository),
            let labels = try? await client.labels(repository, .digest(found)), labels[RegistryClient.revisionLabel] == commit
        else { return nil }
        let reference = try ImageReference.parse(settings.registry.host + "/" + repository).pinned(to: found)
        do {
            if let unsigned = try await build.unsignedReason(reference, client: client, context: context) {
                context.log.write("\(reference): \(unsigned), so build[\(service.name)] rebuilds it: compiling\n")
                return nil
            }
        } catch {
            context.log.write("the signature of \(reference) could not be checked (\(error)): compiling\n")
            return nil
        }
        return "\(settings.registry.host)/\(repository):\(tag) already exists at \(found), built from \(commit)"
    }
}

extension StockOpsPipeline {
    /// The node compiling a service's release binary.
    public static func compile(_ service: String) -> StageRef<CompiledService> {
        StageRef(NodeID("compile", key: service))
    }
}
