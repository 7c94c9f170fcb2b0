import CurlHTTP
import Foundation
import Testing

@testable import StockOpsKit

/// Deploys, rollbacks and locks against a real Docker engine, registry, PostgreSQL and OpenBao agent (see
/// ``DeploySandbox``). The suite runs one test at a time: each starts a whole environment.
@Suite(.serialized) struct DeployEndToEndTests {
    func outcome(_ body: () async throws(DeployFailure) -> Deployment) async -> Result<Deployment, DeployFailure> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    func expectServing(_ sandbox: DeploySandbox, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let stocks = try await sandbox.get("stock-listing", "/stocks?limit=3")
        #expect(stocks.status == 200, sourceLocation: sourceLocation)
        let list = try JSONSerialization.jsonObject(with: stocks.body) as? [[String: Any]]
        #expect(list?.count == 3, "\(stocks.text)", sourceLocation: sourceLocation)
        let portfolio = try await sandbox.get("trade", "/portfolio/e2e-user")
        #expect(portfolio.status == 200, "\(portfolio.text)", sourceLocation: sourceLocation)
    }

    /// The image of each service's container in the slot the proxy sends traffic to.
    func images(_ sandbox: DeploySandbox) async throws -> [String: String] {
        let live = TrafficProxy(stateDirectory: sandbox.state, project: sandbox.project).activeSlot()
        var images: [String: String] = [:]
        for (name, container) in try await sandbox.containers() {
            if let parsed = Slot.parse(name), parsed.slot == live { images[parsed.service] = container.image }
        }
        return images
    }

    /// What the containers must run for `tag`: each service's `repository@digest` as the registry has it, never the tag.
    func expected(_ sandbox: DeploySandbox, tag: String) async throws -> [String: String] {
        let client = sandbox.registry.client(sandbox.registryLogin.map { RegistryCredentials(username: $0.username, password: Secret($0.password)) })
        var images: [String: String] = [:]
        for service in DeployImages.services {
            let digest = try #require(try await client.digest(of: try RegistryTag.parse(tag), in: "stockapp/\(service)"), "\(service):\(tag)")
            images[service] = "\(sandbox.registry.host)/stockapp/\(service)@\(digest)"
        }
        return images
    }

    /// An environment added to the pipeline (`qa`) deploys from the one Compose file: its own project, its agent on the
    /// `app-qa` AppRole reading `secret/qa/` (the only database settings the sandbox wrote), its own ledger.
    @Test func anEnvironmentAddedToThePipelineDeploys() async throws {
        let qa = try #require(Environment(rawValue: "qa"))
        try await DeploySandbox.with(qa) { sandbox in
            let v1 = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let run = try await sandbox.runPipeline(v1, settings: DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero))
            #expect(run.status == .passed, "\(run.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(run.outputs[StockOpsPipeline.promote]?.tag.name == "qa-aaaaaaa")
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "qa-aaaaaaa"))
            #expect(try sandbox.ledger.map { "\($0.action.rawValue) \($0.tag) \($0.outcome.rawValue)" } == ["deploy qa-aaaaaaa succeeded"])
            let agent = try #require(try await sandbox.containers()["vault-agent"])
            let inspected = try await DeployImages.docker(["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", agent.id])
            #expect(inspected.output.split(separator: "\n").contains("STOCKOPS_ENVIRONMENT=qa"), "\(inspected.output)")
        }
    }

    @Test func deploysRollsBackAFailingVersionAndRollsBackOnRequest() async throws {
        try await DeploySandbox.with(.dev) { sandbox in
            let v1 = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let v2 = try await sandbox.pushBuild("v2", commit: "ccccccc")
            let broken = try await sandbox.pushBuild("broken", commit: "bbbbbbb")
            let settings = DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero)

            // A first deploy answers real HTTP on 127.0.0.1.
            let first = try await sandbox.runPipeline(v1, settings: settings)
            #expect(first.status == .passed, "\(first.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(first.outputs[StockOpsPipeline.promote]?.tag.name == "dev-aaaaaaa")
            #expect(first.outputs[StockOpsPipeline.deploy]?.smoke?.passed == true)
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-aaaaaaa"))
            let registry = sandbox.registry.client()
            for image in v1 {
                #expect(try await registry.digest(of: RegistryTag("dev-aaaaaaa")!, in: "stockapp/\(image.service)")?.description == image.digest)
            }

            let second = try await sandbox.runPipeline(v2, settings: settings)
            #expect(second.status == .passed, "\(second.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-ccccccc"))

            // An image whose health check fails never gets traffic: the live version keeps serving.
            let failing = try await sandbox.runPipeline(broken, settings: DeploySettings(smokeTimeout: .seconds(8), lockWait: .zero))
            #expect(failing.status == .failed)
            let deploy = try #require(failing.results.first { $0.id == StockOpsPipeline.deploy.id })
            #expect(deploy.result.status == .failed)
            #expect(
                deploy.result.reason?.hasPrefix("dev-bbbbbbb failed its smoke test; dev-ccccccc kept serving: the proxy was never switched.") == true,
                "\(deploy.result.reason ?? "")")
            #expect(deploy.result.reason?.contains("GET /readyz did not answer 200 within 8.0 s") == true, "\(deploy.result.reason ?? "")")
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-ccccccc"))
            let afterFailure = try sandbox.ledger
            #expect(
                afterFailure.map { "\($0.action.rawValue) \($0.tag) \($0.outcome.rawValue)" } == [
                    "deploy dev-aaaaaaa succeeded", "deploy dev-ccccccc succeeded", "deploy dev-bbbbbbb failed",
                ])
            #expect(afterFailure[2].previousTag == "dev-ccccccc")
            #expect(afterFailure[2].images["trade"] == broken.first { $0.service == "trade" }?.digest)
            #expect(try await sandbox.containers().keys.allSatisfy { !$0.hasSuffix("-blue") }, "the failed version's containers are removed")

            // stockops rollback to a tag that exists.
            var request = RollbackRequest(target: sandbox.request, tag: "dev-aaaaaaa")
            request.yes = true
            let started = ContinuousClock.now
            let rolledBackTo = await request.attempt()
            #expect(rolledBackTo.exitStatus == .success, "\(rolledBackTo.message)")
            let rollbackTime = started.secondsSinceNow
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-aaaaaaa"))
            let deployment = try #require(try rolledBackTo.outcome?.result.get())
            #expect(deployment.tag == "dev-aaaaaaa" && deployment.previousTag == "dev-ccccccc")
            let rolledBack = try #require(try sandbox.ledger.last)
            #expect(rolledBack.action == .rollback && rolledBack.tag == "dev-aaaaaaa" && rolledBack.outcome == .succeeded)
            #expect(rolledBack.images == afterFailure[0].images)
            print("rollback to dev-aaaaaaa with its images on the host, smoke test included: \(String(format: "%.1f", rollbackTime)) s")

            // A rollback to a tag that does not exist changes nothing and says what exists.
            let before = try await sandbox.containers()
            let entries = try sandbox.ledger.count
            var missing = RollbackRequest(target: sandbox.request, tag: "dev-fffffff")
            missing.yes = true
            let missingTag = await missing.attempt()
            #expect(missingTag.exitStatus == .usage)
            let message = missingTag.message
            #expect(message.contains("dev-fffffff is not in the registry for stock-listing, trade"), "\(message)")
            #expect(message.contains("nothing was changed"))
            #expect(message.contains("nearest tags that exist for every service: dev-"), "\(message)")
            #expect(message.contains("dev-aaaaaaa") && message.contains("dev-ccccccc"))
            let refused = JSONOutput.document(try #require(missingTag.outcome?.summary))
            #expect(try await JSONSchemaCheck.problems(refused, command: "rollback").isEmpty, "\(refused)")
            #expect(refused.contains(#""status" : "failed""#) && refused.contains(#""code" : "missing-tag""#), "\(refused)")
            #expect(try sandbox.ledger.count == entries)
            let after = try await sandbox.containers()
            #expect(after.mapValues(\.id) == before.mapValues(\.id))

            // status and history tell what is deployed where.
            let status = try await sandbox.request.status()
            #expect(status.exitStatus == .success, "\(status.drift) \(status.docker ?? "")")
            #expect(status.live?.tag == "dev-aaaaaaa" && status.live?.action == .rollback && status.live?.outcome == .succeeded)
            #expect(status.live?.actor == "root" || status.live?.actor == LockHolder.userName)
            #expect(status.lock == "free")
            for service in DeployImages.services {
                #expect(status.services.contains { $0.role == "live" && $0.digest == rolledBack.images[service] }, "\(service): \(status.services)")
            }
            let history = try LedgerHistory.read(sandbox.request, limit: 2).entries
            #expect(history.count == 2)
            #expect(history[0].action.rawValue == "rollback" && history[0].tag == "dev-aaaaaaa")
            #expect(
                history[1].action.rawValue == "deploy" && history[1].tag == "dev-bbbbbbb" && history[1].detail?.contains("dev-ccccccc kept serving") == true,
                "\(history)")
        }
    }

    @Test func pullsFromAnAuthenticatedRegistryWithItsLoginAndKeepsNoCopyOfIt() async throws {
        let password = "pw-" + UUID().uuidString.prefix(16).lowercased()
        try await DeploySandbox.with(.dev, registryLogin: ("robot", password)) { sandbox in
            let v1 = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let v2 = try await sandbox.pushBuild("v2", commit: "ccccccc")
            let login = ["STOCKOPS_REGISTRY_USERNAME": "robot", "STOCKOPS_REGISTRY_PASSWORD": password]
            let settings = DeploySettings(smokeTimeout: .seconds(60), lockWait: .zero)
            func temporaryConfigurations() throws -> [String] {
                try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("stockops-docker-") }
            }
            let configurationsBefore = try temporaryConfigurations()

            // The pipeline's deploy node logs its pull in with the registry login it was given.
            for builds in [v1, v2] {
                let run = try await sandbox.runPipeline(builds, settings: settings, extraEnvironment: login)
                #expect(run.status == .passed, "\(run.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            }
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-ccccccc"))

            // Without the login, a pull is refused by the registry and nothing changes. Pulled by digest, an image the
            // host already holds needs no registry, so the refused rollback goes to images only the registry has
            // (unsigned, hence --force-unverified).
            let registryOnly = sandbox.registry.client(RegistryCredentials(username: "robot", password: Secret(password)))
            for service in DeployImages.services {
                try await HandmadeImage(seed: "registry-only-\(service)").push(with: registryOnly, to: "stockapp/\(service)", tag: "dev-fffffff")
            }
            let credentials = RegistryCredentials(username: "robot", password: Secret(password))
            let containers = try await sandbox.containers()
            let refusedLog = NodeLog(path: sandbox.root + "/refused.log")
            let refused = await outcome { () async throws(DeployFailure) -> Deployment in
                try await sandbox.deployer(log: refusedLog, registryCredentials: credentials, forceUnverified: true).rollback(to: RegistryTag("dev-fffffff")!)
            }
            guard case .failure(let failure) = refused else {
                Issue.record("a pull without the registry login succeeded:\n\(refusedLog.contents())")
                return
            }
            #expect(failure.message.contains("pulling dev-fffffff failed; nothing was changed"), "\(failure.message)")
            #expect(failure.message.contains("no basic auth credentials"), "\(failure.message)")
            #expect(try await sandbox.containers().mapValues(\.id) == containers.mapValues(\.id))

            // With it, a rollback pulls and serves dev-aaaaaaa.
            let rolledBack = await outcome { () async throws(DeployFailure) -> Deployment in
                try await sandbox.deployer(registryCredentials: credentials, pullCredentials: credentials).rollback(to: RegistryTag("dev-aaaaaaa")!)
            }
            if case .failure(let error) = rolledBack { Issue.record("rollback with the registry login failed: \(error.message)") }
            try await expectServing(sandbox)
            #expect(try await images(sandbox) == expected(sandbox, tag: "dev-aaaaaaa"))

            // The temporary Docker configurations are gone, and the password is in no log, record or ledger.
            #expect(try temporaryConfigurations() == configurationsBefore)
            var leaks: [String] = []
            let files = FileManager.default.enumerator(atPath: sandbox.root)
            while let relative = files?.nextObject() as? String {
                guard !relative.hasPrefix("push-config"), let text = try? String(contentsOfFile: sandbox.root + "/" + relative, encoding: .utf8) else {
                    continue
                }
                if text.contains(password) { leaks.append(relative) }
            }
            #expect(leaks.isEmpty, "the registry password is in \(leaks)")
        }
    }

    @Test func twoDeploysToOneEnvironmentNeverRunTogether() async throws {
        try await DeploySandbox.with(.stage, plugin: true) { sandbox in
            let builds = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let promoted = try await sandbox.runPipeline(builds, settings: DeploySettings(lockWait: .zero))
            #expect(promoted.status == .passed, "\(promoted.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            let promotion = try #require(promoted.outputs[StockOpsPipeline.promote])
            #expect(promotion.tag.name == "stage-aaaaaaa")

            // Refused: the second one finds the lock held and does not wait.
            let log = NodeLog(path: sandbox.root + "/race.log")
            async let first = outcome { () async throws(DeployFailure) -> Deployment in try await sandbox.deployer(log: log).deploy(promotion) }
            async let second = outcome { () async throws(DeployFailure) -> Deployment in try await sandbox.deployer(log: log).deploy(promotion) }
            let outcomes = await [first, second]
            let refused = outcomes.compactMap { outcome -> DeployFailure? in
                if case .failure(let failure) = outcome { return failure }
                return nil
            }
            #expect(outcomes.count - refused.count == 1, "\(refused)")
            #expect(refused.map(\.code) == [.locked])
            #expect(refused.first?.message.contains("the stage environment is locked: held: deploy stage-aaaaaaa (run e2e)") == true, "\(refused)")
            #expect(try sandbox.ledger.count == 2)

            // Waiting: both succeed, one after the other.
            async let third = sandbox.deployer(lockWait: .seconds(300)).deploy(promotion)
            async let fourth = sandbox.deployer(lockWait: .seconds(300)).deploy(promotion)
            let deployed = try await [third, fourth]
            #expect(deployed.map(\.tag) == ["stage-aaaaaaa", "stage-aaaaaaa"])
            let entries = try sandbox.ledger
            #expect(entries.count == 4)
            #expect(entries.allSatisfy { $0.outcome == .succeeded })
            #expect(entries[3].time >= entries[2].time)
            try await expectServing(sandbox)

            // A maintenance lock refuses deploys until it is removed.
            #expect(try await MaintenanceLock.lock(sandbox.request, reason: "e2e maintenance", wait: .zero) { _ in }.state == .locked)
            await #expect {
                _ = try await sandbox.deployer().deploy(promotion)
            } throws: { error in
                (error as? DeployFailure)?.code == .locked && (error as? DeployFailure)?.message.contains("e2e maintenance") == true
            }
            var rollback = RollbackRequest(target: sandbox.request, tag: "stage-aaaaaaa")
            rollback.yes = true
            let locked = await rollback.attempt()
            #expect(locked.exitStatus == .locked)
            #expect(locked.message.contains("locked for maintenance"), "\(locked.message)")
            #expect(try MaintenanceLock.unlock(sandbox.request).state == .unlocked)
            #expect(try sandbox.ledger.count == 4)

            // Only trade changed: its new image ships with stock-listing's live one under the new tag.
            let tradeOnly = try await sandbox.pushBuild("v2", commit: "ddddddd", services: ["trade"])
            let partial = try await sandbox.runPipeline(tradeOnly, settings: DeploySettings(lockWait: .zero))
            #expect(partial.status == .passed, "\(partial.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            let entry = try #require(try sandbox.ledger.last)
            #expect(entry.tag == "stage-ddddddd")
            #expect(entry.images["trade"] == tradeOnly[0].digest)
            #expect(entry.images["stock-listing"] == builds.first { $0.service == "stock-listing" }?.digest)
            #expect(
                try await sandbox.registry.client().digest(of: RegistryTag("stage-ddddddd")!, in: "stockapp/stock-listing")?.description
                    == entry.images["stock-listing"])
            #expect(try await images(sandbox) == expected(sandbox, tag: "stage-ddddddd"))
            try await expectServing(sandbox)
        }
    }

    @Test func prodTakesOnlyApprovedDigestsThatPassedStage() async throws {
        try await DeploySandbox.with(.prod) { sandbox in
            let release = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let approval = Approval(approver: "alice", source: .commandLine)
            let tagRef = ["GITHUB_REF": "refs/tags/v1.0.0"]

            // Not yet in stage: refused.
            let unverified = try await sandbox.runPipeline(release, settings: DeploySettings(approval: approval, lockWait: .zero), extraEnvironment: tagRef)
            let refusal = try #require(unverified.results.first { $0.id == StockOpsPipeline.promote.id })
            #expect(refusal.result.status == .failed)
            #expect(
                refusal.result.reason?.contains("refusing to release v1.0.0 to prod: its digests did not pass stage") == true, "\(refusal.result.reason ?? "")")
            #expect(refusal.result.reason?.contains("--force-unverified") == true)
            #expect(try await sandbox.registry.client().digest(of: RegistryTag("v1.0.0")!, in: "stockapp/trade") == nil)

            // A stage-<sha7> tag pushed by anyone proves nothing: still refused.
            let stage = try await sandbox.runPipeline(release, environment: .stage, settings: DeploySettings(lockWait: .zero), promoteOnly: true)
            #expect(stage.results.first { $0.id == StockOpsPipeline.promote.id }?.result.status == .passed)
            let tagOnly = try await sandbox.runPipeline(release, settings: DeploySettings(approval: approval, lockWait: .zero), extraEnvironment: tagRef)
            #expect(tagOnly.results.first { $0.id == StockOpsPipeline.promote.id }?.result.reason?.contains("no stage proof") == true)

            // Through stage (whose deploy signs the stage proof after its smoke test), then to prod with an approval.
            try await sandbox.proveStage(release)
            let noApproval = try await sandbox.runPipeline(release, settings: DeploySettings(lockWait: .zero), extraEnvironment: tagRef)
            let unapproved = try #require(noApproval.results.first { $0.id == StockOpsPipeline.deploy.id })
            #expect(unapproved.result.status == .failed)
            #expect(unapproved.result.reason == "prod requires an approval; none was given")
            #expect(try sandbox.ledger.isEmpty)

            let started = ContinuousClock.now
            let approved = try await sandbox.runPipeline(release, settings: DeploySettings(approval: approval, lockWait: .zero), extraEnvironment: tagRef)
            print("promotion of stage-aaaaaaa to prod as v1.0.0 (first start of the environment): \(String(format: "%.1f", started.secondsSinceNow)) s")
            #expect(approved.status == .passed, "\(approved.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            #expect(approved.outputs[StockOpsPipeline.promote]?.verifiedInStage == true)
            try await expectServing(sandbox)
            let registry = sandbox.registry.client()
            for image in release {
                let repository = "stockapp/\(image.service)"
                #expect(try await registry.digest(of: RegistryTag("v1.0.0")!, in: repository)?.description == image.digest)
                #expect(try await registry.digest(of: RegistryTag("latest")!, in: repository)?.description == image.digest)
            }
            let entry = try #require(try sandbox.ledger.last)
            #expect(entry.tag == "v1.0.0" && entry.outcome == .succeeded && entry.approver == "alice" && entry.forceUnverified == nil)
            #expect(entry.signaturesVerified == true)

            // --force-unverified releases a digest that skipped stage, and the ledger says so.
            let hotfix = try await sandbox.pushBuild("v2", commit: "ccccccc")
            let forced = try await sandbox.runPipeline(
                hotfix, settings: DeploySettings(approval: approval, forceUnverified: true, lockWait: .zero),
                extraEnvironment: ["GITHUB_REF": "refs/tags/v1.0.1"])
            #expect(forced.status == .passed, "\(forced.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            let forcedEntry = try #require(try sandbox.ledger.last)
            #expect(forcedEntry.tag == "v1.0.1" && forcedEntry.forceUnverified == true && forcedEntry.previousTag == "v1.0.0")
            #expect(try await images(sandbox) == expected(sandbox, tag: "v1.0.1"))

            // A prod rollback needs an approval too.
            var rollback = RollbackRequest(target: sandbox.request, tag: "v1.0.0")
            rollback.yes = true
            rollback.confirm = { _, _ in nil }
            let unconfirmed = await rollback.attempt()
            #expect(unconfirmed.exitStatus == .usage)
            #expect(unconfirmed.message.contains("prod was not confirmed"))

            // Only trusted targets: a build tag is refused with the versions prod ran; so is a version whose digests
            // prod never ran and stage never proved, although signed. Nothing changes.
            let entriesBefore = try sandbox.ledger.count
            for (tag, reason) in [("git-aaaaaaa", "prod runs only release versions"), ("v0.9.9", "was never live in prod and has no stage proof")] {
                if tag == "v0.9.9" {
                    let untried = try await sandbox.pushBuild("broken", commit: "eeeeeee")
                    for image in untried {
                        try await registry.retag("stockapp/\(image.service)", from: .digest(try #require(ImageDigest(image.digest))), to: RegistryTag(tag)!)
                    }
                }
                var refused = RollbackRequest(target: sandbox.request, tag: tag)
                refused.approver = "bob"
                refused.confirm = { _, _ in "bob" }
                let untrusted = await refused.attempt()
                #expect(untrusted.exitStatus == .usage)
                let message = untrusted.message
                #expect(
                    message.contains(reason) && message.contains("v1.0.0, v1.0.1") || message.contains(reason) && message.contains("v1.0.1, v1.0.0"),
                    "\(message)")
            }
            #expect(try sandbox.ledger.count == entriesBefore)
            #expect(try await images(sandbox) == expected(sandbox, tag: "v1.0.1"))

            // A named approver still needs the terminal's confirmation.
            rollback.approver = "bob"
            let approvedUnconfirmed = await rollback.attempt()
            #expect(approvedUnconfirmed.exitStatus == .usage)
            #expect(approvedUnconfirmed.message.contains("prod was not confirmed"))
            rollback.confirm = { _, _ in "bob" }
            let confirmed = await rollback.attempt()
            #expect(confirmed.exitStatus == .success, "\(confirmed.message)")
            #expect(try sandbox.ledger.last?.approver == "bob")
            #expect(try sandbox.ledger.last?.signaturesVerified == true && sandbox.ledger.last?.forceUnverified == nil)
            #expect(try await images(sandbox) == expected(sandbox, tag: "v1.0.0"))
        }
    }

    @Test func stageRunsOnlySignedDigestsAndProvesOnlyAPassedSmokeTest() async throws {
        try await DeploySandbox.with(.stage) { sandbox in
            let good = try await sandbox.pushBuild("v1", commit: "aaaaaaa")
            let broken = try await sandbox.pushBuild("broken", commit: "bbbbbbb")
            let unsigned = try await sandbox.pushBuild("v2", commit: "ccccccc", signed: false)
            let registry = sandbox.registry.client()
            func promotion(_ builds: [BuiltImage]) async throws -> Promotion {
                let run = try await sandbox.runPipeline(builds, settings: DeploySettings(lockWait: .zero), promoteOnly: true)
                return try #require(run.outputs[StockOpsPipeline.promote], "\(run.results.map { "\($0.id): \($0.result.reason ?? "")" })")
            }
            func proofs(_ builds: [BuiltImage]) async throws -> [String: Bool] {
                let pinned = Dictionary(
                    uniqueKeysWithValues: try builds.map { build in
                        (
                            build.service,
                            PinnedImageReference(
                                registry: sandbox.registry.host, repository: "stockapp/\(build.service)", digest: try #require(ImageDigest(build.digest)))
                        )
                    })
                let check = try await sandbox.trust.check(pinned, registry: registry)
                return Dictionary(uniqueKeysWithValues: builds.map { ($0.service, check.passedStage($0.service)) })
            }

            // Signed: verified, deployed, and proved once its smoke test passed.
            #expect(try await proofs(good).values.allSatisfy { !$0 })
            let deployed = try await sandbox.deployer().deploy(try await promotion(good))
            #expect(deployed.signaturesVerified == true && deployed.stageProof == true)
            #expect(try await proofs(good).values.allSatisfy { $0 })
            #expect(try sandbox.ledger.last?.signaturesVerified == true)

            // Signed but failing its smoke test: rolled back, and no stage proof.
            let brokenPromotion = try await promotion(broken)
            let failed = await outcome { () async throws(DeployFailure) -> Deployment in
                try await sandbox.deployer(smokeTimeout: .seconds(15)).deploy(brokenPromotion)
            }
            guard case .failure(let failure) = failed else {
                Issue.record("the broken image passed its smoke test")
                return
            }
            #expect(failure.code == .smokeFailed)
            #expect(try await proofs(broken).values.allSatisfy { !$0 })
            #expect(try await images(sandbox) == expected(sandbox, tag: "stage-aaaaaaa"))

            // Unsigned: the pipeline's deploy node refuses it, naming service and digest; nothing changes.
            let entries = try sandbox.ledger.count
            let containers = try await sandbox.containers().mapValues(\.id)
            let refused = try await sandbox.runPipeline(unsigned, settings: DeploySettings(lockWait: .zero))
            let deployNode = try #require(refused.results.first { $0.id == StockOpsPipeline.deploy.id })
            #expect(deployNode.result.status == .failed)
            let reason = deployNode.result.reason ?? ""
            #expect(reason.contains("signatures do not verify") && reason.contains("--force-unverified"), "\(reason)")
            #expect(reason.contains("trade (\(sandbox.registry.host)/stockapp/trade@\(unsigned.first { $0.service == "trade" }!.digest))"), "\(reason)")
            #expect(try sandbox.ledger.count == entries)
            #expect(try await sandbox.containers().mapValues(\.id) == containers)

            // A rollback to it is refused too, unless forced; the ledger and history say it was.
            var rollback = RollbackRequest(target: sandbox.request, tag: "stage-ccccccc")
            rollback.yes = true
            let unverified = await rollback.attempt()
            #expect(unverified.exitStatus == .usage)
            #expect(unverified.message.contains("signatures do not verify"), "\(unverified.message)")
            #expect(try sandbox.ledger.count == entries)
            rollback.forceUnverified = true
            let forcedRollback = await rollback.attempt()
            #expect(forcedRollback.exitStatus == .success, "\(forcedRollback.message)")
            let forced = try #require(try sandbox.ledger.last)
            #expect(forced.tag == "stage-ccccccc" && forced.forceUnverified == true && forced.signaturesVerified == false)
            #expect(try await images(sandbox) == expected(sandbox, tag: "stage-ccccccc"))
            #expect(try LedgerHistory.read(sandbox.request, limit: 1).entries.first?.forceUnverified == true)
        }
    }
}
