/// Everything the stockops command does, testable without a terminal.
public enum StockOpsKit {}
