import Offload
import Synchronization

/// The jobs that change, as they change, for every reader that follows (the dashboard's
/// streams): each reader gets a ``BoundedStream`` of its own, forgotten when it overflows or
/// leaves. A backend publishes; ``JobStore/changes()`` follows.
///
/// Lock: `watchers`, a leaf (a stream's own lock is taken under it, and is a leaf too).
public final class ChangeFeed: Sendable {
    let limits: StreamLimits
    private struct Watchers {
        var streams: [UInt64: BoundedStream<JobView>] = [:]
        var next: UInt64 = 0
    }

    private let watchers = Mutex(Watchers())

    init(limits: StreamLimits) {
        self.limits = limits
    }

    /// Whether anyone follows (a backend that polls for changes may rest when no one does).
    public var isFollowed: Bool { watchers.withLock { !$0.streams.isEmpty } }

    /// Tells every reader of `view` (without its payload and result).
    public func publish(_ view: JobView) {
        watchers.withLock { watchers in
            for (token, stream) in watchers.streams {
                stream.push(view, bytes: JobView.summaryBytes)
                if stream.isEnded { watchers.streams[token] = nil }
            }
        }
    }

    func follow() -> BoundedStream<JobView> {
        let stream = BoundedStream<JobView>(maxCount: limits.maxEvents, maxBytes: limits.maxBytes)
        let token = watchers.withLock { watchers -> UInt64 in
            watchers.next += 1
            watchers.streams[watchers.next] = stream
            return watchers.next
        }
        stream.onTermination { [weak self] in self?.watchers.withLock { _ = $0.streams.removeValue(forKey: token) } }
        return stream
    }

    /// Ends every reader's stream (the service is stopping).
    func finish() {
        let streams = watchers.withLock { watchers -> [BoundedStream<JobView>] in
            defer { watchers.streams = [:] }
            return Array(watchers.streams.values)
        }
        for stream in streams { stream.finish() }
    }
}
