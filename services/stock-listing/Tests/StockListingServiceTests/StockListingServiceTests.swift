@testable import StockListingService
