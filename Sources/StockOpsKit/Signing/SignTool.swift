/// Which signer `sign[*]` uses (`images.sign.tool`).
public enum SignTool: String, Sendable, Codable, CaseIterable {
    /// cosign when it is installed, else the native signer.
    case auto
    /// The `cosign` binary: key mode or keyless.
    case cosign
    /// ``NativeSigner`` and ``NativeVerifier``: key mode only, no binary needed.
    case native

    /// The signer that runs: `auto` becomes cosign when it is installed or the signing is keyless (which only cosign
    /// does), else native.
    public func resolved(cosignInstalled: Bool, keyless: Bool) -> SignTool {
        guard self == .auto else { return self }
        return cosignInstalled || keyless ? .cosign : .native
    }
}
