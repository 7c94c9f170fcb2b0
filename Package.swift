// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours compiles in Swift 6 language mode (strict concurrency) with warnings as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "stockops",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stockops", targets: ["stockops"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
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

        // MARK: Cosign key files over libsodium
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),

        // MARK: ECDSA P-256 and SHA-256 over the system's libcrypto
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // MARK: The pipeline tool
        .target(
            name: "StockOpsKit",
            dependencies: [
                "CurlHTTP",
                "CSodium",
                "COpenSSL",
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
