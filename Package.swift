// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours compiles in Swift 6 language mode (strict concurrency) with warnings as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "stockops",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stockops", targets: ["stockops"]),
        .executable(name: "stock-listing", targets: ["stock-listing"]),
        .executable(name: "trade", targets: ["trade"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
    ],
    targets: [
        // MARK: PostgreSQL over libpq
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PostgresTestSupport",
            dependencies: ["Postgres"],
            path: "Tests/PostgresTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "PostgresTestSupport"],
            swiftSettings: strict
        ),

        // MARK: HTTP over libcurl
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "CurlHTTP",
            dependencies: ["CCurl"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: ["CurlHTTP"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),

        // MARK: What both services share
        .target(
            name: "ServiceKit",
            dependencies: [
                "Postgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .target(
            name: "ServiceTestSupport",
            dependencies: [
                "ServiceKit", "Postgres",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/ServiceTestSupport",
            swiftSettings: strict
        ),

        // MARK: The stock-listing service
        .target(
            name: "StockListingService",
            dependencies: ["ServiceKit", "Postgres"],
            path: "services/stock-listing/Sources/StockListingService",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "stock-listing",
            dependencies: ["StockListingService", "ServiceKit"],
            path: "services/stock-listing/Sources/stock-listing",
            swiftSettings: strict
        ),
        .testTarget(
            name: "StockListingServiceTests",
            dependencies: [
                "StockListingService", "ServiceKit", "Postgres", "PostgresTestSupport", "ServiceTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "services/stock-listing/Tests/StockListingServiceTests",
            swiftSettings: strict
        ),

        // MARK: The trade service
        .target(
            name: "TradeService",
            dependencies: ["ServiceKit", "Postgres"],
            path: "services/trade/Sources/TradeService",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "trade",
            dependencies: ["TradeService", "ServiceKit"],
            path: "services/trade/Sources/trade",
            swiftSettings: strict
        ),
        .testTarget(
            name: "TradeServiceTests",
            dependencies: [
                "TradeService", "StockListingService", "ServiceKit", "Postgres", "PostgresTestSupport", "ServiceTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "services/trade/Tests/TradeServiceTests",
            swiftSettings: strict
        ),

        // MARK: Cosign key files over libsodium
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),

        // MARK: The pipeline tool
        .target(
            name: "StockOpsKit",
            dependencies: [
                "CurlHTTP",
                "CSodium",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "stockops",
            dependencies: [
                "StockOpsKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "stockops-bench",
            dependencies: [
                "StockOpsKit",
                "CurlHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StockOpsKitTests",
            dependencies: ["StockOpsKit"],
            exclude: ["Fixtures/cosign"],
            swiftSettings: strict
        ),
    ]
)
