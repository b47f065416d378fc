extension Duration {
    /// The duration in seconds, as a `Double`.
    package var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// The duration in milliseconds, as a `Double`.
    package var milliseconds: Double { seconds * 1_000 }

    /// The duration in milliseconds to the microsecond, as results and events write it (`18.652`,
    /// not `18.651888000000003`).
    package var reportedMilliseconds: Double { (milliseconds * 1_000).rounded() / 1_000 }

    /// The duration in whole nanoseconds, saturating.
    package var nanoseconds: Int64 {
        let parts = components
        let (wide, overflow) = parts.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return parts.seconds < 0 ? .min : .max }
        return wide &+ parts.attoseconds / 1_000_000_000
    }
}
