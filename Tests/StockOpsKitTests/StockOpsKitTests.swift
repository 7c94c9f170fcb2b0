@testable import StockOpsKit
