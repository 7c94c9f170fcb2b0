import Foundation

/// What `defectdojo` imported.
public struct DefectDojoResult: Codable, Sendable, Equatable {
    /// One imported report.
    public struct Imported: Codable, Sendable, Equatable {
        /// Relative to the run directory.
        public var report: String
        public var scanType: String
        public var engagement: String
        public var test: Int?
    }

    public var product: String
    public var imported: [Imported]
}

/// `defectdojo`: a `finally` node importing every security report the run wrote into DefectDojo
/// (`POST /api/v2/import-scan/`, `auto_create_context=true`), each with the parser for its tool.
///
/// Reports are found by content under the run's `reports/`: trivy JSON (secret scan, SCA, image scans),
/// semgrep JSON, gitleaks JSON, ZAP XML and CycloneDX SBOMs. A report whose file name contains a
/// service's name goes to that service's engagement, every other one to `repository-engagement`; all
/// belong to one product. The API key is the fetched secret `token-key`; without fetched secrets the node is skipped.
public struct DefectDojoStage: Stage {
    public var config: DefectDojoConfig
    public var services: [String]
    public var fetched: StageRef<FetchedSecrets>
    /// `GITHUB_SHA`, `GITHUB_REF_NAME` and `GITHUB_RUN_ID` label the imports.
    public var processEnvironment: RunEnvironment
    public var dependencies: [NodeID] { [fetched.id] }

    public init(config: DefectDojoConfig, services: [String], fetched: StageRef<FetchedSecrets>, processEnvironment: RunEnvironment) {
        self.config = config
        self.services = services
        self.fetched = fetched
        self.processEnvironment = processEnvironment
    }

    /// Skips the node when fetch-secrets produced nothing (no `VAULT_ADDR`, or it failed).
    public static func skipReason(_ fetched: StageRef<FetchedSecrets>) -> @Sendable (Outputs) throws -> String? {
        { outputs in outputs[fetched] == nil ? "no DefectDojo API key: fetch-secrets produced no secrets" : nil }
    }

    /// The engagement a report belongs to: the service its file name names, else the repository's.
    public func engagement(for fileName: String) -> String {
        let longestFirst = services.sorted { $0.count > $1.count }
        for service in longestFirst {
            var searchRange = fileName.startIndex..<fileName.endIndex
            while let range = fileName.range(of: service, range: searchRange) {
                let before = range.lowerBound == fileName.startIndex ? nil : fileName[fileName.index(before: range.lowerBound)]
                let after = range.upperBound == fileName.endIndex ? nil : fileName[range.upperBound]
                if (before.map { "-_./".contains($0) } ?? true) && (after.map { "-_./".contains($0) } ?? true) { return service }
                searchRange = range.upperBound..<fileName.endIndex
            }
        }
        return config.repositoryEngagement
    }

    /// The reports under `directory` DefectDojo has a parser for, sorted by path.
    public func reports(in directory: String) -> [(path: String, scanType: DefectDojoScanType)] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [(String, DefectDojoScanType)] = []
        for case let relative as String in enumerator {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path),
                let type = DefectDojoScanType.detect(fileName: relative, content: data)
            else { continue }
            found.append((relative, type))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    public func run(_ context: StageContext) async throws -> DefectDojoResult {
        let token = try context.value(fetched).require(config.tokenKey)
        let client = DefectDojoClient(baseURL: config.url, token: token)
        let found = reports(in: context.paths.reportsDirectory)
        let runID = (context.paths.runDirectory as NSString).lastPathComponent
        let commit = await commitHash(context)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        let scanDate = formatter.string(from: Date())

        var imported: [DefectDojoResult.Imported] = []
        var failures: [StageFailure] = []
        for (relative, type) in found {
            let engagement = engagement(for: (relative as NSString).lastPathComponent)
            let item = DefectDojoImport(
                scanType: type.rawValue, file: context.paths.reportsDirectory + "/" + relative, productType: config.productType,
                product: config.product, engagement: engagement, testTitle: "\(relative) (stockops \(runID))", scanDate: scanDate,
                commitHash: commit, branchTag: processEnvironment.githubRefName, buildID: runID)
            do {
                let result = try await client.importScan(item)
                imported.append(.init(report: "reports/" + relative, scanType: type.rawValue, engagement: engagement, test: result.test))
                context.log.write(
                    "imported reports/\(relative) as \(type.rawValue) into \(config.product) / \(engagement)\(result.test.map { ", test \($0)" } ?? "")\n")
            } catch let failure as StageFailure {
                failures.append(failure)
                context.log.write("error: reports/\(relative): \(failure.message)\n")
            }
        }
        context.log.write("\(imported.count) of \(found.count) reports imported into \(config.url)\n")
        if found.isEmpty {
            context.log.write("no security report in this run: nothing to import\n")
        }
        if !failures.isEmpty {
            let kind: StageFailure.Kind = failures.contains { $0.kind == .failed } ? .failed : .infrastructure
            throw StageFailure(
                kind,
                "\(failures.count) of \(found.count) reports were not imported into DefectDojo: " + failures.prefix(3).map(\.message).joined(separator: "; "))
        }
        return DefectDojoResult(product: config.product, imported: imported)
    }

    private func commitHash(_ context: StageContext) async -> String? {
        if let sha = processEnvironment.githubSHA { return sha }
        // The commit is optional metadata of the import; without it the field is left out.
        guard let result = try? await context.runner.run(Git(repository: context.paths.root).resolveCommit("HEAD")), result.succeeded else { return nil }
        return Git.parseLines(result.output).first
    }
}
