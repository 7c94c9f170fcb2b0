// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours compiles in Swift 6 language mode (strict concurrency) with warnings as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

/// The two services and what they share, a package of their own: their test and build nodes compile these and their
/// dependencies, not stockops.
let package = Package(
    name: "stock-services",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stock-listing", targets: ["stock-listing"]),
        .executable(name: "trade", targets: ["trade"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        // One trait, not Hummingbird's default two: SwiftPM passes enabled traits as -D flags in the order of a Set, so two
        // of them recompile Hummingbird and HummingbirdCore on about half of the builds (swift-package-manager#10525).
        // The services use no swift-configuration reader, which the other trait (ConfigurationSupport) would compile in.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: ["FullFoundation"]),
    ],
    targets: [
        // MARK: PostgreSQL over libpq
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        /// Linux's epoll, for `SocketReadiness`.
        .systemLibrary(name: "CEpoll"),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", "CEpoll", .product(name: "Logging", package: "swift-log")],
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
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Tests/ServiceTestSupport",
            swiftSettings: strict
        ),

        // MARK: The stock-listing service
        .target(
            name: "StockListingService",
            dependencies: ["ServiceKit", "Postgres"],
            path: "stock-listing/Sources/StockListingService",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "stock-listing",
            dependencies: ["StockListingService", "ServiceKit"],
            path: "stock-listing/Sources/stock-listing",
            swiftSettings: strict
        ),
        .testTarget(
            name: "StockListingServiceTests",
            dependencies: [
                "StockListingService", "ServiceKit", "Postgres", "PostgresTestSupport", "ServiceTestSupport",
            ],
            path: "stock-listing/Tests/StockListingServiceTests",
            swiftSettings: strict
        ),

        // MARK: The trade service
        .target(
            name: "TradeService",
            dependencies: ["ServiceKit", "Postgres"],
            path: "trade/Sources/TradeService",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "trade",
            dependencies: ["TradeService", "ServiceKit"],
            path: "trade/Sources/trade",
            swiftSettings: strict
        ),
        .testTarget(
            name: "TradeServiceTests",
            dependencies: [
                "TradeService", "StockListingService", "ServiceKit", "Postgres", "PostgresTestSupport", "ServiceTestSupport",
            ],
            path: "trade/Tests/TradeServiceTests",
            swiftSettings: strict
        ),
    ]
)
