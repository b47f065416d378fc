"""The plugin suite's peer: wasmtime (Cranelift JIT, through its Python binding) running `fib`
of the same module the Swift side runs as a plugin, with and without fuel metering. One round;
prints one JSON object, like the Swift side."""
import json
import statistics
import sys
import time

import wasmtime

text = open(sys.argv[1]).read()


def fib_ms(consume_fuel):
    config = wasmtime.Config()
    config.consume_fuel = consume_fuel
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    if consume_fuel:
        store.set_fuel(10**12)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, text), [])
    fib = instance.exports(store)["fib"]
    times = []
    for _ in range(6):
        start = time.perf_counter()
        value = fib(store, 25)
        times.append((time.perf_counter() - start) * 1e3)
    assert value == 75025, value
    return statistics.median(times[1:])


print(json.dumps({"suite": "plugin", "side": "wasmtime", "fib25MsMedian": fib_ms(False), "fib25FuelMsMedian": fib_ms(True)}))
