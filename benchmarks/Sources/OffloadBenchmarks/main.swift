// Benchmark suites of Offload. Each prints one JSON object per measurement and, last, one summary
// line per figure: {"suite":…,"figure":…,"ours":…,"peer":…,"ratio":…,"goal":…}.
// Run a suite through its script: `benchmarks/pool/run`.

import Offload
import OffloadImage
import OffloadPlugins

#if canImport(Glibc)
import Glibc
#endif

// Re-run as a worker process by the ipc suite's "re-run host" measurements and the image suite.
if WorkerProcess.isWorker {
    var registry = HandlerRegistry.diagnostics
    try registry.registerImage(outputDirectory: getenv("OFFLOAD_OUTPUT_DIR").map { String(cString: $0) } ?? "/tmp")
    if let plugins = getenv("OFFLOAD_PLUGINS_DIR") { try registry.registerPlugins(directory: String(cString: plugins)) }
    WorkerProcess.runIfWorker(registry: registry)
}

let arguments = CommandLine.arguments.dropFirst()
guard let suite = arguments.first else {
    print("usage: OffloadBenchmarks SUITE [--jobs N] [--rounds N] [--round N] [--samples N]   (suites: pool, ipc, chaos, image, plugin)")
    exit(2)
}

func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex,
        let parsed = Int(arguments[arguments.index(after: index)])
    else { return value }
    return parsed
}

func stringOption(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex else { return nil }
    return arguments[arguments.index(after: index)]
}

switch suite {
case "pool":
    try await PoolSuite(jobs: option("--jobs", default: 1_000_000), rounds: option("--rounds", default: 5)).run()
case "ipc":
    let here = SiblingExecutables()
    try await IpcSuite(
        round: option("--round", default: 1), samples: option("--samples", default: 5_000),
        jobs: option("--jobs", default: 200_000), smallWorker: stringOption("--worker") ?? here.path("offload-worker"), rerunHost: here.own,
        staticWorker: stringOption("--static-worker")
    ).run()
case "image":
    try await ImageSuite(
        card: stringOption("--card") ?? "benchmarks/image/card.json", images: option("--images", default: 30),
        output: stringOption("--out") ?? "/tmp"
    ).run()
case "chaos":
    let here = SiblingExecutables()
    try await ChaosSuite(
        jobs: option("--jobs", default: 10_000), hostile: option("--hostile", default: 100),
        worker: here.path("offload-worker"), cli: here.path("offload")
    ).run()
case "plugin":
    try await PluginSuite(
        directory: stringOption("--plugins") ?? "examples/plugins",
        benchmarkPlugins: stringOption("--benchmark-plugins") ?? "benchmarks/plugin/plugins",
        calls: option("--calls", default: 20_000)
    ).run()
default:
    print("unknown suite '\(suite)' (suites: pool, ipc, chaos, image, plugin)")
    exit(2)
}

/// This executable, and Offload's executables (`offload`, `offload-worker`) in the folder
/// `--bin` names (the suites' scripts build them in the package's own `.build/release`).
struct SiblingExecutables {
    let own: String
    let folder: String
    init() {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        own = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        folder = stringOption("--bin") ?? String(own[..<(own.lastIndex(of: "/") ?? own.startIndex)])
    }
    func path(_ name: String) -> String { folder + "/" + name }
}
