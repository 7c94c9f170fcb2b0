import ServiceKit
/// The trade service: buy, sell, history and portfolio.
public enum TradeService {}
