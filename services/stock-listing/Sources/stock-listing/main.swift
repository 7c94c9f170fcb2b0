import Foundation
import ServiceKit
import StockListingService

let status = await ServiceMain.run(serviceName: StockListing.serviceName, defaultPort: StockListing.defaultPort) {
    configuration, pool, logger in
    try await StockListing.buildApplication(configuration: configuration, pool: pool, logger: logger)
}
exit(status)
