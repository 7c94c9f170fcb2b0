import ServiceKit
/// The stock-listing service: the market catalogue and live prices.
public enum StockListingService {}
