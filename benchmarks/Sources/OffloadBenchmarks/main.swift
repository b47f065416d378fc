// Benchmark suites of Offload. Each prints one JSON object per measurement and, last, one summary
// line per figure: {"suite":…,"figure":…,"ours":…,"peer":…,"ratio":…,"goal":…}.
// Run a suite through its script: `benchmarks/pool/run`.

import Offload

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard let suite = arguments.first else {
    print("usage: OffloadBenchmarks SUITE [--jobs N] [--rounds N]   (suites: pool)")
    exit(2)
}

func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex,
          let parsed = Int(arguments[arguments.index(after: index)]) else { return value }
    return parsed
}

switch suite {
case "pool":
    try await PoolSuite(jobs: option("--jobs", default: 1_000_000), rounds: option("--rounds", default: 5)).run()
default:
    print("unknown suite '\(suite)' (suites: pool)")
    exit(2)
}
