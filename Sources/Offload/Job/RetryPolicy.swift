/// How long a failed job waits before its next attempt: exponential backoff with jitter and a cap.
///
/// The n-th retry (n = 1, 2, …) waits `initialDelay × multiplier^(n-1)`, capped at `maxDelay`,
/// then spread by `± jitter × delay` so that jobs failing together do not retry together.
///
/// ```swift
/// let policy = RetryPolicy(initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .seconds(5), jitter: 0.2)
/// ```
public struct RetryPolicy: Sendable, Hashable {
    /// The wait before the first retry.
    public var initialDelay: Duration
    /// The factor applied to the wait after each retry (≥ 1).
    public var multiplier: Double
    /// The longest wait.
    public var maxDelay: Duration
    /// The share of the delay, 0…1, by which a wait is randomly lengthened or shortened.
    public var jitter: Double

    /// - Parameters:
    ///   - initialDelay: the wait before the first retry (default 100 ms).
    ///   - multiplier: the growth factor per retry (default 2).
    ///   - maxDelay: the cap on any wait (default 30 s).
    ///   - jitter: the random spread, 0…1 (default 0.2).
    public init(
        initialDelay: Duration = .milliseconds(100),
        multiplier: Double = 2,
        maxDelay: Duration = .seconds(30),
        jitter: Double = 0.2
    ) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// Retries immediately, without waiting.
    public static let immediate = RetryPolicy(initialDelay: .zero, multiplier: 1, maxDelay: .zero, jitter: 0)

    /// The wait before retry number `retry` (1 for the first retry).
    /// - Parameter random: a source of randomness in 0…1, injectable for tests.
    public func delay(beforeRetry retry: Int, random: () -> Double = { Double.random(in: 0...1) }) -> Duration {
        let base = initialDelay.seconds * pow(max(multiplier, 1), Double(max(retry - 1, 0)))
        let capped = min(base, maxDelay.seconds)
        let spread = min(max(jitter, 0), 1)
        let factor = 1 + spread * (2 * random() - 1)
        return .seconds(max(capped * factor, 0))
    }

    /// Checks the fields; the message names the field that is wrong.
    public func validate() throws(OffloadError) {
        if initialDelay < .zero { throw OffloadError(.invalidPayload, "retry initial delay must not be negative") }
        if maxDelay < .zero { throw OffloadError(.invalidPayload, "retry max delay must not be negative") }
        if !(multiplier >= 1) || !multiplier.isFinite {
            throw OffloadError(.invalidPayload, "retry multiplier must be a finite number ≥ 1")
        }
        if !(0...1).contains(jitter) { throw OffloadError(.invalidPayload, "retry jitter must be between 0 and 1") }
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 && result < 1e12 {
        result *= base
        remaining -= 1
    }
    return result
}
