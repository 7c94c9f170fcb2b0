import CurlHTTP
import Foundation

/// The servers and the state directory `stockops doctor` checks.
extension Doctor {
    /// `docker version` against the engine `build[*]` uses: `DOCKER_HOST`, else the default socket.
    func dockerEngine() async -> [DoctorCheck] {
        guard locate("docker") != nil else { return [] }
        var environment = toolEnvironment
        environment["DOCKER_CONFIG"] = nil
        environment["DOCKER_CONTEXT"] = nil
        let address = processEnvironment.dockerHost
        let name = "docker engine"
        let fix = "start the Docker engine (stockops sandbox up starts one) or set DOCKER_HOST"
        switch await run(["docker", "version", "--format", "{{.Server.Version}}"], environment: environment) {
        case .exited(let result) where result.succeeded:
            let version = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            return [DoctorCheck(name: name, kind: .server, required: true, status: .ok, found: address, version: version, detail: "build[*], deploy")]
        case .exited(let result):
            let last = Git.parseLines(result.output).last ?? ""
            if last.lowercased().contains("permission denied") {
                return [
                    .problem(
                        .unauthorised, name: name, kind: .server, required: true, found: address, detail: last,
                        fix: "add the user to the docker group, or set DOCKER_HOST to an engine it may use")
                ]
            }
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: true, found: address,
                    detail: last.isEmpty ? "`docker version` exited with \(result.exitStatus ?? -1)" : last, fix: fix)
            ]
        case .timedOut:
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: true, found: address, detail: "`docker version` did not answer within \(timeout)",
                    fix: fix)
            ]
        case .notFound, .failed:
            return [.problem(.unreachable, name: name, kind: .server, required: true, found: address, detail: "`docker version` could not run", fix: fix)]
        }
    }

    /// Vault first; then, with the secrets it holds, the registry, SonarQube, DefectDojo and Argo CD at once.
    /// A pull-request run reads no secret and deploys nothing, so it needs neither Vault nor Argo CD.
    func servers(config: PipelineConfig, environment: Environment) async -> [DoctorCheck] {
        let pullRequest = PullRequestBoundary.event(processEnvironment) != nil
        let (vaultChecks, fetched, fetchesSecrets) = pullRequest ? ([], nil, false) : await vault(config)
        async let registryCheck = registry(config, fetched: fetched)
        async let sonarChecks = sonar(config.images, fetched: fetched)
        async let defectDojoChecks = defectDojo(config.security.defectDojo, fetched: fetched, fetchesSecrets: fetchesSecrets)
        async let argoCDChecks = argoCD(pullRequest ? nil : config.gitOps[environment]?.argoCD, fetched: fetched)
        return vaultChecks + [await registryCheck] + (await sonarChecks) + (await defectDojoChecks) + (await argoCDChecks)
    }

    // MARK: Vault

    /// The AppRole login and a read of every declared path, reporting key names only. Returns the checks,
    /// what was read (for the other servers' credentials), and whether `fetch-secrets` would run at all.
    func vault(_ config: PipelineConfig) async -> ([DoctorCheck], FetchedSecrets?, Bool) {
        guard !config.vault.isEmpty else { return ([], nil, false) }
        let credentialsFix =
            "set VAULT_ADDR and VAULT_ROLE_ID/VAULT_SECRET_ID (or VAULT_ROLE_ID_FILE/VAULT_SECRET_ID_FILE); stockops sandbox up writes them to .stockops/sandbox.env"
        guard let settings = VaultSettings(environment: processEnvironment) else {
            let required = config.vault.filter(\.required).map(\.path)
            let detail =
                required.isEmpty
                ? "VAULT_ADDR is not set: fetch-secrets is skipped, and nothing is read from Vault"
                : "VAULT_ADDR is not set, but \(required.joined(separator: ", ")) \(required.count == 1 ? "is" : "are") required"
            return ([.problem(.missing, name: "vault", kind: .server, required: !required.isEmpty, detail: detail, fix: credentialsFix)], nil, false)
        }
        let client = settings.client(http: http)
        let auth: VaultAuth
        do {
            auth = try await settings.login(client)
        } catch let error as VaultError {
            return ([vaultLoginFailure(error, address: settings.address)], nil, true)
        } catch {
            return (
                [.problem(.unauthorised, name: "vault", kind: .server, required: true, found: settings.address, detail: "\(error)", fix: credentialsFix)], nil,
                true
            )
        }
        let policies = auth.policies.filter { $0 != "default" }
        var checks = [
            DoctorCheck(
                name: "vault", kind: .server, required: true, status: .ok, found: settings.address,
                detail: "AppRole login, policies: \(policies.joined(separator: ", "))")
        ]
        var fetched = FetchedSecrets(address: settings.address)
        for secret in config.vault {
            let name = "vault \(secret.path)"
            do {
                let values = try await FetchSecretsStage.values(secret.path, client: client)
                let absent = secret.keys.filter { values[$0] == nil }
                for key in secret.keys { fetched.values[key] = values[key] }
                if absent.isEmpty {
                    checks.append(
                        DoctorCheck(
                            name: name, kind: .server, required: true, status: .ok, found: settings.address,
                            detail: "readable: \(secret.keys.joined(separator: ", "))"))
                } else {
                    checks.append(
                        .problem(
                            .missing, name: name, kind: .server, required: true, found: settings.address,
                            detail: "no key \(absent.joined(separator: ", ")) (it has: \(values.keys.sorted().joined(separator: ", ")))",
                            fix:
                                "add \(absent.joined(separator: ", ")) at \(secret.path) in Vault (vault/init.sh seeds it), or remove \(absent.count == 1 ? "it" : "them") from vault: in \(config.file)"
                        ))
                }
            } catch {
                checks.append(vaultReadFailure(error, name: name, path: secret.path, address: settings.address, policies: policies))
            }
        }
        // The token lives only in this process; one not revoked expires with its TTL.
        await Task { try? await client.revokeSelf() }.value
        return (checks, fetched, true)
    }

    func vaultLoginFailure(_ error: VaultError, address: String) -> DoctorCheck {
        switch error.code {
        case .invalidCredentials, .permissionDenied, .notAuthenticated:
            return .problem(
                .unauthorised, name: "vault", kind: .server, required: true, found: address, detail: "AppRole login refused: \(error.message)",
                fix: "check VAULT_ROLE_ID and VAULT_SECRET_ID (or their _FILE variants); the secret id may have expired")
        case .sealed:
            return .problem(
                .unreachable, name: "vault", kind: .server, required: true, found: address, detail: error.message, fix: "unseal Vault (vault/init.sh)")
        default:
            return .problem(
                .unreachable, name: "vault", kind: .server, required: true, found: address, detail: error.message,
                fix: "start Vault (stockops sandbox up starts OpenBao) or fix VAULT_ADDR")
        }
    }

    func vaultReadFailure(_ error: VaultError, name: String, path: String, address: String, policies: [String]) -> DoctorCheck {
        switch error.code {
        case .permissionDenied:
            return .problem(
                .unauthorised, name: name, kind: .server, required: true, found: address,
                detail: "permission denied: the token's policies (\(policies.joined(separator: ", "))) do not grant read",
                fix: "grant read on \(path) in vault/policies/\(policies.first ?? "ci").hcl")
        case .notFound, .invalidRequest:
            return .problem(
                .missing, name: name, kind: .server, required: true, found: address, detail: "no secret at \(path)",
                fix: "write it in Vault (vault/init.sh seeds the declared paths)")
        default:
            return .problem(
                .unreachable, name: name, kind: .server, required: true, found: address, detail: error.message,
                fix: "check that Vault at \(address) is up and unsealed")
        }
    }

    // MARK: Registry

    /// `GET /v2/` of the registry the image stages push to, with the credentials they would use.
    func registry(_ config: PipelineConfig, fetched: FetchedSecrets?) async -> DoctorCheck {
        let registry = RegistryAccess.effective(config, environment: processEnvironment).registry
        let credentials = RegistryAccess.credentials(fetched: fetched, environment: processEnvironment)
        let source: String
        if let credentials {
            let fromEnvironment = processEnvironment.registryLogin?.username == credentials.username
            source = fromEnvironment ? "as \(credentials.username) (STOCKOPS_REGISTRY_USERNAME)" : "with HARBOR_USERNAME/HARBOR_PASSWORD from Vault"
        } else {
            source = "anonymously"
        }
        let name = "registry"
        do {
            try await RegistryClient(baseURL: registry.baseURL, credentials: credentials, http: http).ping()
            return DoctorCheck(name: name, kind: .server, required: true, status: .ok, found: registry.baseURL, detail: "/v2/ answers \(source)")
        } catch let error as RegistryError where error.code == .unauthorized {
            let fix =
                credentials == nil
                ? "set STOCKOPS_REGISTRY_USERNAME and STOCKOPS_REGISTRY_PASSWORD, or make HARBOR_USERNAME/HARBOR_PASSWORD readable in Vault (secret/data/harbor/robot)"
                : "fix HARBOR_USERNAME/HARBOR_PASSWORD in Vault (secret/data/harbor/robot) or STOCKOPS_REGISTRY_USERNAME/STOCKOPS_REGISTRY_PASSWORD"
            return .problem(
                .unauthorised, name: name, kind: .server, required: true, found: registry.baseURL,
                detail: "refused \(source): \(SecretMasker.shared.mask(error.message))", fix: fix)
        } catch {
            let message = (error as? RegistryError)?.message ?? "\(error)"
            return .problem(
                .unreachable, name: name, kind: .server, required: true, found: registry.baseURL, detail: SecretMasker.shared.mask(message),
                fix: "start the registry (stockops sandbox up starts one) or set STOCKOPS_REGISTRY to its host")
        }
    }

    // MARK: SonarQube, DefectDojo, Argo CD

    /// `GET /api/system/status`, then the token with `GET /api/authentication/validate`.
    func sonar(_ images: ImagesConfig, fetched: FetchedSecrets?) async -> [DoctorCheck] {
        guard let configured = images.sonarHostURL else { return [] }
        let host = configured.hasSuffix("/") ? String(configured.dropLast()) : configured
        let name = "sonarqube"
        let required = images.sonarRequired
        let client = HTTPClient(configuration: http)
        struct Status: Decodable {
            var status: String
            var version: String?
        }
        let status: Status
        do {
            let response = try await client.send(HTTPRequest(url: host + "/api/system/status", headers: ["Accept": "application/json"]))
            // A body that is not SonarQube's status means the URL points elsewhere, which the problem reports.
            guard response.isSuccess, let decoded = try? JSONDecoder().decode(Status.self, from: response.body) else {
                return [
                    .problem(
                        .unreachable, name: name, kind: .server, required: required, found: host, detail: "/api/system/status answered \(response.status)",
                        fix: "check sonarqube.host-url")
                ]
            }
            status = decoded
        } catch {
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: required, found: host, detail: "\(error)",
                    fix: "start SonarQube or fix sonarqube.host-url")
            ]
        }
        guard status.status == "UP" else {
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: required, found: host, version: status.version, detail: "status \(status.status)",
                    fix: "wait until SonarQube is UP (see its logs)")
            ]
        }
        guard let token = fetched?[SonarStage.tokenKey] else {
            return [
                .problem(
                    .unauthorised, name: name, kind: .server, required: required, found: host, version: status.version,
                    detail: "UP, but no \(SonarStage.tokenKey) is fetched from Vault",
                    fix: "declare \(SonarStage.tokenKey) under vault: (secret/data/sonarqube/token) and set VAULT_ADDR")
            ]
        }
        struct Validation: Decodable { var valid: Bool }
        // A failed request is reported by the guard below as a token the server does not accept.
        let response = try? await client.send(
            HTTPRequest(
                url: host + "/api/authentication/validate",
                headers: ["Authorization": SonarScannerCommand.webAPIAuthorization(token: token), "Accept": "application/json"]))
        // No response, or a body that is not the validation JSON, means the token is not accepted; the problem below says so.
        guard let response, let validation = try? JSONDecoder().decode(Validation.self, from: response.body), validation.valid else {
            return [
                .problem(
                    .unauthorised, name: name, kind: .server, required: required, found: host, version: status.version,
                    detail: "UP, but it does not accept \(SonarStage.tokenKey)",
                    fix: "replace \(SonarStage.tokenKey) in Vault (secret/data/sonarqube/token) with a valid token")
            ]
        }
        return [DoctorCheck(name: name, kind: .server, required: required, status: .ok, found: host, version: status.version, detail: "UP, token valid")]
    }

    /// `GET /api/v2/user_profile/` with the API key; the import runs only when `fetch-secrets` does.
    func defectDojo(_ config: DefectDojoConfig?, fetched: FetchedSecrets?, fetchesSecrets: Bool) async -> [DoctorCheck] {
        guard let config else { return [] }
        let name = "defectdojo"
        guard let token = fetched?[config.tokenKey] else {
            let detail = fetchesSecrets ? "no \(config.tokenKey) was read from Vault" : "skipped: fetch-secrets does not run, so there is no \(config.tokenKey)"
            return [
                .problem(
                    .unauthorised, name: name, kind: .server, required: fetchesSecrets, found: config.url, detail: detail,
                    fix: "make \(config.tokenKey) readable in Vault and set VAULT_ADDR")
            ]
        }
        let request = HTTPRequest(
            url: config.url + "/api/v2/user_profile/", headers: ["Authorization": "Token " + token.reveal(), "Accept": "application/json"])
        do {
            let response = try await HTTPClient(configuration: http).send(request)
            switch response.status {
            case 200..<300:
                return [DoctorCheck(name: name, kind: .server, required: true, status: .ok, found: config.url, detail: "API key accepted")]
            case 401, 403:
                return [
                    .problem(
                        .unauthorised, name: name, kind: .server, required: true, found: config.url, detail: "the API key was refused (\(response.status))",
                        fix: "replace \(config.tokenKey) in Vault with the key of a user who may import scans")
                ]
            default:
                return [
                    .problem(
                        .unreachable, name: name, kind: .server, required: true, found: config.url, detail: "/api/v2/user_profile/ answered \(response.status)",
                        fix: "check security.defectdojo.url")
                ]
            }
        } catch {
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: true, found: config.url, detail: SecretMasker.shared.mask("\(error)"),
                    fix: "start DefectDojo or fix security.defectdojo.url")
            ]
        }
    }

    /// The status of the Argo CD application a `kind: gitops` environment waits for.
    func argoCD(_ target: ArgoCDTarget?, fetched: FetchedSecrets?) async -> [DoctorCheck] {
        guard let target else { return [] }
        let name = "argocd \(target.application)"
        guard let token = fetched?[target.tokenKey] else {
            return [
                .problem(
                    .unauthorised, name: name, kind: .server, required: true, found: target.url, detail: "no \(target.tokenKey) was read from Vault",
                    fix: "make \(target.tokenKey) readable in Vault and set VAULT_ADDR")
            ]
        }
        do {
            let status = try await ArgoCDClient(baseURL: target.url, token: token, http: http).status(application: target.application)
            return [DoctorCheck(name: name, kind: .server, required: true, status: .ok, found: target.url, detail: "\(status)")]
        } catch let failure as StageFailure where failure.kind != .transient {
            return [
                .problem(
                    .unauthorised, name: name, kind: .server, required: true, found: target.url, detail: failure.message,
                    fix: "check \(target.tokenKey) in Vault and the application's RBAC")
            ]
        } catch {
            return [
                .problem(
                    .unreachable, name: name, kind: .server, required: true, found: target.url, detail: "\(error)",
                    fix: "start Argo CD or fix gitops.argocd.url")
            ]
        }
    }

    // MARK: State

    /// Whether ledgers and locks can be written: the state directory, or the nearest existing parent it would be created in.
    func stateDirectory() -> DoctorCheck {
        let directory = StateDirectory.resolve(root: root, environment: processEnvironment)
        let name = "state directory"
        let fix = "set STOCKOPS_STATE_DIR to a writable directory"
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                return .problem(.missing, name: name, kind: .state, required: true, found: directory, detail: "not a directory", fix: fix)
            }
            let probe = directory + "/.doctor-" + UUID().uuidString
            let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else {
                return .problem(
                    .unauthorised, name: name, kind: .state, required: true, found: directory, detail: "not writable: \(String(cString: strerror(errno)))",
                    fix: fix)
            }
            close(descriptor)
            unlink(probe)
            return DoctorCheck(name: name, kind: .state, required: true, status: .ok, found: directory, detail: "ledgers and locks: writable")
        }
        var parent = (directory as NSString).deletingLastPathComponent
        while !parent.isEmpty, parent != "/", !FileManager.default.fileExists(atPath: parent) {
            parent = (parent as NSString).deletingLastPathComponent
        }
        let existing = parent.isEmpty ? "/" : parent
        guard access(existing, W_OK | X_OK) == 0 else {
            return .problem(
                .unauthorised, name: name, kind: .state, required: true, found: directory, detail: "cannot be created: \(existing) is not writable", fix: fix)
        }
        return DoctorCheck(
            name: name, kind: .state, required: true, status: .ok, found: directory,
            detail: "ledgers and locks: created on the first deploy (in \(existing), writable)")
    }
}
