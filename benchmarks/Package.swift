// swift-tools-version:6.1
import PackageDescription

// The benchmark suites, a package of their own (as swift-nio keeps `Benchmarks/`): building or
// depending on Offload never builds them. Run a suite through its script: `benchmarks/pool/run`.
let package = Package(
    name: "offload-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "offload", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: [])
    ],
    targets: [
        .executableTarget(
            name: "OffloadBenchmarks",
            dependencies: [
                .product(name: "Offload", package: "offload"),
                .product(name: "OffloadImage", package: "offload"),
                .product(name: "OffloadPlugins", package: "offload")
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        // The peer of benchmarks/http: a plain Hummingbird server that draws each card on its own
        // event loop, as a server without Offload would.
        .executableTarget(
            name: "InlineCardServer",
            dependencies: [
                .product(name: "OffloadImage", package: "offload"),
                .product(name: "Hummingbird", package: "hummingbird")
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        // One batch of tiny jobs, for counting instructions under callgrind (benchmarks/instructions.py).
        // A synchronous main: valgrind 3.19 cannot run an async one (see its source).
        .executableTarget(
            name: "TinyJobs",
            dependencies: [.product(name: "Offload", package: "offload")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
