// swift-tools-version:6.1
import PackageDescription

// The benchmark suites, a package of their own (as swift-nio keeps `Benchmarks/`): building or
// depending on Offload never builds them. Run a suite through its script: `benchmarks/pool/run`.
let package = Package(
    name: "offload-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "offload", path: "..")],
    targets: [
        .executableTarget(
            name: "OffloadBenchmarks",
            dependencies: [
                .product(name: "Offload", package: "offload"),
                .product(name: "OffloadImage", package: "offload"),
                .product(name: "OffloadPlugins", package: "offload"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        // One batch of tiny jobs, for counting instructions under callgrind (benchmarks/instructions.py).
        // A synchronous main: valgrind 3.19 cannot run an async one (see its source).
        .executableTarget(
            name: "TinyJobs",
            dependencies: [.product(name: "Offload", package: "offload")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ]
)
