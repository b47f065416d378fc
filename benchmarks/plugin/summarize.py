"""The plugin suite's summaries: medians over rounds and the ratios the goals are stated in."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summaries import median, printer, read_rounds  # noqa: E402

ours, peer = read_rounds(sys.stdin)
summary = printer("plugin")

warm, fresh, native = median(ours, "warmCallMicrosP50"), median(ours, "freshCallMicrosP50"), median(ours, "nativeSwiftMicrosP50")
summary("warm call of title-case (C, small JSON transform), p50; peer: the same transform in native Swift",
        "µs", warm, native, warm / native, "<= 10")
summary("instantiate the cached title-case module (store, imports, memory, interpreter stack), p50",
        "µs", median(ours, "instantiateMicrosP50"), None, None, "<= 100")
summary("fresh-instance call of title-case, back to back, p50 (instantiation and WasmKit's per-instance translation, or a spare made ahead)",
        "µs", fresh, None, None, None)
summary("fresh-instance call after a 2 ms pause, p50 (a spare instance is ready); peer: a warm call after the same pause",
        "µs", median(ours, "freshAfterPauseMicrosP50"), median(ours, "warmAfterPauseMicrosP50"),
        median(ours, "freshAfterPauseMicrosP50") / median(ours, "warmAfterPauseMicrosP50"), None)
fib, wasmtime, wasmtime_fuel = median(ours, "fib25MsMedian"), median(peer, "fib25MsMedian"), median(peer, "fib25FuelMsMedian")
summary("fib(25) as a plugin (WasmKit, fuel) ÷ wasmtime JIT", "ms", fib, wasmtime, fib / wasmtime, "<= 8")
summary("fib(25) as a plugin (WasmKit, fuel) ÷ wasmtime JIT with fuel", "ms", fib, wasmtime_fuel, fib / wasmtime_fuel, None)
summary("runaway plugin stopped past its 50 ms deadline in a thread, worst of 10 per round (the next call served)",
        "ms", max(record["runawayOvershootMsMax"] for record in ours), None, None, "<= 10")
codes = {record["processRunawayCode"] + "/" + record["processNextJob"] for record in ours}
summary("runaway plugin job in a worker process, 200 ms timeout: run time (" + ", ".join(sorted(codes)) + ")",
        "ms", median(ours, "processRunawayRunMs"), None, None, "timedOut/completed, <= 210")
