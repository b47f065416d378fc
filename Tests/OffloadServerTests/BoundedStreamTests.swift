import Synchronization
import Testing
@testable import OffloadServer

/// The buffer between a job store and a slow event-stream reader: bounded in count and bytes,
/// an overflow said once, what was held dropped at once.
@Suite struct BoundedStreamTests {
    @Test func itemsComeInOrderThenTheEnd() async {
        let stream = BoundedStream<Int>(maxCount: 10, maxBytes: 1_000)
        for value in 1...3 { stream.push(value, bytes: 10) }
        stream.finish()
        var seen: [Int] = []
        reading: while true {
            switch await stream.next(timeout: .seconds(1)) {
            case .element(let value): seen.append(value)
            case .finished: break reading
            case .overflowed, .timedOut:
                Issue.record("unexpected end")
                break reading
            }
        }
        #expect(seen == [1, 2, 3])
    }

    @Test(arguments: [(count: 3, bytes: 10_000), (count: 1_000, bytes: 25)])
    func aReaderPastEitherBoundIsToldOnceAndHoldsNothing(count: Int, bytes: Int) async {
        let stream = BoundedStream<[UInt8]>(maxCount: count, maxBytes: bytes)
        for _ in 0..<10 { stream.push(Array(repeating: 7, count: 10), bytes: 10) }
        #expect(stream.isEnded)
        if case .overflowed = await stream.next(timeout: .seconds(1)) {} else { Issue.record("no overflow") }
        // Pushes after the overflow are dropped: nothing grows.
        stream.push([1], bytes: 1)
        if case .overflowed = await stream.next(timeout: .seconds(1)) {} else { Issue.record("the overflow is said each time") }
    }

    @Test func aWaitingReaderWakesOnAPushAndTimesOutWithout() async {
        let stream = BoundedStream<Int>()
        if case .timedOut = await stream.next(timeout: .milliseconds(20)) {} else { Issue.record("no timeout") }
        async let next = stream.next(timeout: .seconds(10))
        try? await Task.sleep(for: .milliseconds(20))
        stream.push(42, bytes: 1)
        if case .element(42) = await next {} else { Issue.record("the push did not wake the reader") }
    }

    @Test func theReaderLeavingStopsTheProducers() async {
        let stream = BoundedStream<Int>()
        let stopped = Flag()
        stream.onTermination { stopped.set() }
        stream.push(1, bytes: 1)
        stream.end()
        #expect(stopped.isSet)
        #expect(stream.isEnded)
        // A producer that registers after the reader left is stopped at once.
        let late = Flag()
        stream.onTermination { late.set() }
        #expect(late.isSet)
    }
}

/// A flag set from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
