@testable import TradeService
