/// A small deterministic generator (SplitMix64), so that fuzz loops run the same inputs each
/// time and a failure can be replayed.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Offload

/// Runs CPU-bound test work (a fuzz loop) on a thread of its own and returns what it found: on
/// Swift's cooperative pool it would hold a thread for seconds and starve the tests beside it
/// that wait on time (a preemption, a heartbeat). Report failures in the result and check
/// them on the test's task, where `#expect` records them.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await DedicatedThreads.map(1, name: "offload-test") { _ in body() }[0]
}
