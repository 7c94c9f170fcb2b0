import CurlHTTP

/// How the errors of the clients and tools classify themselves, so that a stage may let them through: the scheduler
/// retries a transient one and a run that ends on an infrastructure one exits 3.

extension RegistryError: ClassifiedError {
    /// An unreachable registry, a 5xx or a 429 is transient; anything else (not found, unauthorized, a bad digest) is
    /// the registry's verdict.
    public var failureKind: StageFailure.Kind {
        code == .unreachable || (status.map { $0 >= 500 || $0 == 429 } ?? false) ? .transient : .failed
    }
}

extension VaultError: ClassifiedError {
    /// An unreachable, sealed or failing server is transient; refused credentials or policies are the environment's
    /// set-up; a missing secret or a refused request is a verdict on what was asked.
    public var failureKind: StageFailure.Kind {
        switch code {
        case .unreachable, .sealed, .serverError: .transient
        case .invalidCredentials, .permissionDenied, .notAuthenticated: .infrastructure
        case .notFound, .invalidRequest, .invalidResponse: .failed
        }
    }
}

extension HTTPClientError: ClassifiedError {
    /// A transfer that could not happen is transient, except for a request that can never be sent as written.
    public var failureKind: StageFailure.Kind {
        [.invalidURL, .unsupportedProtocol, .invalidConfiguration].contains(code) ? .infrastructure : .transient
    }
}

extension LockError: ClassifiedError {
    /// A lock held by someone else is not a verdict on the work; a lock file that cannot be written is the machine's.
    public var failureKind: StageFailure.Kind { code == .io ? .infrastructure : .failed }
}

extension LedgerError: ClassifiedError {
    public var failureKind: StageFailure.Kind { .infrastructure }
}

extension StockOpsError: ClassifiedError {
    public var failureKind: StageFailure.Kind { code == .infrastructure ? .infrastructure : .failed }
}
