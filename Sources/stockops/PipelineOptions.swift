import ArgumentParser
import Foundation
import StockOpsKit

extension Environment: ExpressibleByArgument {}

/// Flags shared by `run`, `plan` and `graph`.
struct PipelineOptions: ParsableArguments {
    @OptionGroup var repository: RepositoryOptions

    @Option(
        name: [.customShort("e"), .long],
        help: "The environment, one listed under environments: in the pipeline (dev, stage, prod unless it lists more). Default: derived from GITHUB_REF.")
    var env: Environment?

    @Flag(help: "Accept an --env that contradicts GITHUB_REF.")
    var force = false

    @Option(name: [.customShort("j"), .long], help: "How many nodes run at once.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp("Run only these nodes (and what they depend on): an id like test[trade] or a stage name like test.", valueName: "node"))
    var only: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Leave these nodes (and their dependents) out.", valueName: "node"))
    var skip: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Approve these manual nodes.", valueName: "node"))
    var approve: [String] = []

    @Flag(help: "Select every service, whatever changed.")
    var all = false

    @Option(help: ArgumentHelp("Compare with this ref instead of the push's before SHA or the merge-base with the default branch.", valueName: "ref"))
    var since: String?

    @Flag(help: "Print the run record as JSON on stdout.")
    var json = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    var request: RunRequest {
        var request = RunRequest(
            root: repository.root.path, configPath: repository.config, environment: env, processEnvironment: repository.root.environment)
        request.force = force
        request.jobs = jobs
        request.only = only
        request.skip = skip
        request.approvals = approve
        request.selectAll = all
        request.since = since
        return request
    }
}
