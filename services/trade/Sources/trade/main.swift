import Foundation
import ServiceKit
import TradeService

let status = await ServiceMain.run(serviceName: TradeApp.serviceName, defaultPort: TradeApp.defaultPort) {
    configuration, pool, logger in
    try await TradeApp.buildApplication(configuration: configuration, pool: pool, logger: logger)
}
exit(status)
