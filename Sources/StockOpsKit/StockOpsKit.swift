/// Everything the stockops command does, testable without a terminal.
public enum StockOpsKit {
    /// The version printed by `stockops --version`.
    public static let version = "0.1.0"
}
