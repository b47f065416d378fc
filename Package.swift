// swift-tools-version:6.1
import PackageDescription

// One set of settings for every target (the swift-log manifest's pattern).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault")
]

let package = Package(
    name: "offload",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Offload", targets: ["Offload"]),
        .library(name: "OffloadImage", targets: ["OffloadImage"]),
        .library(name: "OffloadData", targets: ["OffloadData"]),
        .library(name: "OffloadAnalytics", targets: ["OffloadAnalytics"]),
        .library(name: "OffloadPlugins", targets: ["OffloadPlugins"]),
        .library(name: "OffloadPostgres", targets: ["OffloadPostgres"]),
        .library(name: "OffloadServer", targets: ["OffloadServer"]),
        .library(name: "OffloadServerPostgres", targets: ["OffloadServerPostgres"]),
        .executable(name: "offload", targets: ["offload"]),
        .executable(name: "offload-worker", targets: ["offload-worker"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Already in the graph through Hummingbird: the core's spans and the trace a job carries.
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.3.0"),
        // One trait only: with WasmKit's default traits a no-change rebuild recompiles all of it.
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2", traits: ["MultiThread"]),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // No traits: the default ones build swift-configuration, which Offload does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2")
    ],
    targets: [
        // Process, pipe and limit calls Swift cannot make directly (variadic fcntl/prctl, W* macros).
        .target(name: "COffloadSystem"),
        // The core: job model, queue, scheduling, the worker pool and the diagnostic kinds.
        .target(
            name: "Offload",
            dependencies: [
                "COffloadSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing")
            ]
        ),
        // cairo, and through its pkg-config file the include folders of glib, freetype and fontconfig.
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CHarfBuzz", pkgConfig: "harfbuzz", providers: [.apt(["libharfbuzz-dev"])]),
        // Pango and librsvg as C targets whose include/ links to their system headers, not as
        // system libraries: their pkg-config files bring -pthread (through gio), which SwiftPM
        // refuses with a warning in every build of every package that depends on this one.
        .target(
            name: "CPangoCairo", dependencies: ["CCairo", "CHarfBuzz"],
            linkerSettings: ["pangocairo-1.0", "pango-1.0", "pangoft2-1.0", "gobject-2.0", "glib-2.0", "fontconfig"].map { .linkedLibrary($0) }
        ),
        .target(name: "CRsvg", dependencies: ["CCairo"], linkerSettings: ["rsvg-2", "gio-2.0", "gobject-2.0", "glib-2.0"].map { .linkedLibrary($0) }),
        // PNG and JPEG encoders that turn libpng's and libjpeg's longjmp errors into return codes.
        .target(
            name: "CImageCodecs",
            linkerSettings: [
                .linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("webp"), .linkedLibrary("webpmux"), .linkedLibrary("gif")
            ]
        ),
        // The `image` job kind: Open Graph cards rendered with cairo and Pango.
        .target(
            name: "OffloadImage", dependencies: ["Offload", "CPangoCairo", "CRsvg", "CImageCodecs"]
        ),
        // The `data` job kind: JSON pipelines (filter, group, aggregate, sort, limit, select).
        .target(name: "OffloadData", dependencies: ["Offload"]),
        // The `analytics` job kind: events filtered, enriched, made private and bucketed in time.
        .target(name: "OffloadAnalytics", dependencies: ["Offload", "OffloadData"]),
        // The plugin deadline's signal handler, which empties a running call's fuel from its own thread.
        .target(name: "COffloadPlugins"),
        // The `plugin` job kind: WebAssembly plugins on WasmKit, with fuel, memory and deadline limits.
        .target(
            name: "OffloadPlugins",
            dependencies: [
                "Offload", "COffloadPlugins",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit")
            ]
        ),
        // The durable queue on PostgreSQL: jobs that outlive processes, served by many hosts.
        .target(
            name: "OffloadPostgres",
            dependencies: [
                "Offload", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Tracing", package: "swift-distributed-tracing")
            ]
        ),
        // `offload serve`: the HTTP service (jobs API, Open Graph cards, metrics, the dashboard) over
        // any job store; kind-agnostic, so it builds no cairo, Pango or WasmKit.
        .target(
            name: "OffloadServer",
            dependencies: [
                "Offload",
                "OffloadJobFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing")
            ],
            resources: ["Dashboard/index.html", "Dashboard/app.js", "Dashboard/style.css", "openapi.json"].map { .embedInCode($0) }
        ),
        // `offload serve --queue`: the service's jobs on the durable queue (the PostgreSQL backend of its store).
        .target(
            name: "OffloadServerPostgres",
            dependencies: [
                "Offload", "OffloadPostgres", "OffloadServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ]
        ),
        // The job-file and results formats of `offload run` (job lines in, result and event lines out).
        .target(name: "OffloadJobFiles", dependencies: ["Offload"]),
        // The CLI: a thin executable over the core.
        .executableTarget(
            name: "offload",
            dependencies: [
                "Offload",
                "OffloadJobFiles",
                "OffloadImage",
                "OffloadData",
                "OffloadAnalytics",
                "OffloadPlugins",
                "OffloadPostgres",
                "OffloadServer",
                "OffloadServerPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        // A small worker executable for process isolation: the diagnostic kinds only, starts fast.
        .executableTarget(name: "offload-worker", dependencies: ["Offload"]),
        // What several test targets use: a seeded generator for fuzz loops, a typed kind, and a
        // worker executable that runs it.
        .target(
            name: "OffloadTestSupport",
            dependencies: [
                "Offload", .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing")
            ],
            path: "Tests/OffloadTestSupport"
        ),
        .executableTarget(name: "offload-test-worker", dependencies: ["Offload", "OffloadTestSupport"], path: "Tests/OffloadTestWorker"),
        // Every code example of the docs, compiled (and run by a test of the CLI's).
        .executableTarget(
            name: "offload-examples",
            dependencies: [
                "Offload", "OffloadImage", "OffloadData", "OffloadPlugins", "OffloadPostgres", "OffloadServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle")
            ],
            path: "Tests/DocumentationExamples",
            exclude: ["Blog"]
        ),
        // The README's whole program: a blog on Hummingbird with Offload mounted in its router
        // (run by a test of the service's, SIGTERM under load included).
        .executableTarget(
            name: "offload-example-blog",
            dependencies: [
                "Offload", "OffloadImage", "OffloadServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle")
            ],
            path: "Tests/DocumentationExamples/Blog"
        ),
        // The core's tests build no job kind: no cairo, Pango or WasmKit.
        .testTarget(
            name: "OffloadTests",
            dependencies: [
                "Offload", "OffloadTestSupport", "offload-worker", "offload-test-worker",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing")
            ]
        ),
        // The CLI's: job files, hostile input, every kind through `offload run`.
        .testTarget(name: "OffloadCLITests", dependencies: ["Offload", "OffloadJobFiles", "OffloadTestSupport", "offload", "offload-examples"]),
        .testTarget(name: "OffloadDataTests", dependencies: ["OffloadData", "OffloadTestSupport"]),
        .testTarget(name: "OffloadAnalyticsTests", dependencies: ["OffloadAnalytics"]),
        .testTarget(
            name: "OffloadPluginsTests", dependencies: ["OffloadPlugins", "OffloadTestSupport", .product(name: "WasmKit", package: "WasmKit")]),
        .testTarget(name: "OffloadImageTests", dependencies: ["OffloadImage"], exclude: ["Goldens", "Fonts"]),
        // Against a running `offload serve`, over real sockets (and the dashboard in headless Chromium).
        .testTarget(
            name: "OffloadServerTests",
            dependencies: [
                "Offload", "OffloadServer", "OffloadTestSupport", "offload", "offload-example-blog",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ]
        ),
        // Against a real PostgreSQL server that the tests start (scripts/postgres-server) and stop.
        .testTarget(
            name: "OffloadPostgresTests",
            dependencies: [
                "OffloadPostgres", "OffloadTestSupport", "offload", "offload-test-worker",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing")
            ]
        )
    ]
)

for target in package.targets where target.type != .system && !target.name.hasPrefix("C") {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}
