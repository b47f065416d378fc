import Foundation

/// What the queue keeps of one job's life, as ``PostgresQueue/events(of:)`` reads it in one
/// statement: its live row while it has not finished, a row per attempt that ended (from
/// `job_history`) and the steps its hosts recorded (from `job_steps`), in the order they were
/// written. ``events`` tells the job's history from them, step by step, in the vocabulary of
/// `JobEvent`: the steps no row is written for (queued or scheduled, each attempt's start) are
/// read from the rows that hold their times.
struct HistoryRows {
    enum Source: String {
        /// The job's row in `jobs`.
        case live
        /// A row of `job_history`: an attempt that ended.
        case attempt
        /// A row of `job_steps`.
        case step
    }

    struct Row {
        var source: Source
        var seq: Int64
        /// The live row's state, the attempt's outcome or the step's name.
        var type: String
        var attempt: Int?
        var host: String?
        /// When the attempt started (live, attempt) or when the step was taken.
        var at: Date?
        var endedAt: Date?
        /// When the attempt was due (attempt), or the job's next attempt is (live).
        var readyAt: Date?
        /// When the retry after an attempt is due (attempt), or a step's time.
        var runAt: Date?
        var errorCode: String?
        var message: String?
        var progress: Double?
        var createdAt: Date?
    }

    /// In the order written (`seq`).
    var rows: [Row]

    var events: [StoredJobEvent] {
        let live = rows.first { $0.source == .live }
        let attempts = rows.filter { $0.source == .attempt }
        guard let created = (live ?? attempts.first)?.createdAt else {
            return rows.compactMap(step)  // its rows gone, the steps are all there is
        }
        var events: [StoredJobEvent] = []
        let due = attempts.first?.readyAt ?? live?.readyAt ?? created
        // A job submitted with dependencies has its `waiting` step, and its `queued` one once
        // they ended, among its steps.
        if !rows.contains(where: { $0.source == .step && $0.type == "waiting" }) {
            events.append(
                due > created
                    ? StoredJobEvent(type: "scheduled", at: created, runAt: due)
                    : StoredJobEvent(type: "queued", at: created))
        }
        // Each attempt's start, from its row: it goes where its time falls among the rows
        // written after it, and before anything of its own attempt.
        // (A start a step already shows, as a claim handed back leaves one, is not told twice.)
        struct Start: Hashable {
            var attempt: Int?
            var at: Date?
        }
        let told = Set(rows.filter { $0.source == .step && $0.type == "started" }.map { Start(attempt: $0.attempt, at: $0.at) })
        var starts = (attempts + [live].compactMap { $0 }.filter { $0.type == "running" }).compactMap { row -> StoredJobEvent? in
            guard let attempt = row.attempt, let at = row.at, !told.contains(Start(attempt: attempt, at: at)) else { return nil }
            return StoredJobEvent(type: "started", at: at, attempt: attempt, host: row.host)
        }.sorted { $0.at < $1.at }
        func start(before row: Row) {
            let time = row.source == .step ? row.at : row.endedAt
            let own = row.source == .attempt || !["started", "released"].contains(row.type)
            // Sorted by time: the starts before the last that goes here go here too.
            guard
                let last = starts.lastIndex(where: { start in
                    time.map { start.at < $0 } == true || (own && start.attempt == row.attempt)
                })
            else { return }
            events += starts[...last]
            starts.removeSubrange(...last)
        }
        for row in rows where row.source != .live {
            start(before: row)
            switch row.source {
            case .step:
                if let step = step(row) { events.append(step) }
            case .attempt:
                // A rescue carries the reason in its message; the code stays the job's.
                let code = row.type == "rescued" ? nil : row.errorCode
                events.append(
                    StoredJobEvent(
                        type: row.type, at: row.endedAt ?? created, attempt: row.attempt, host: row.host, message: row.message,
                        errorCode: code, runAt: row.runAt))
            case .live:
                break
            }
        }
        events += starts
        return events
    }

    private func step(_ row: Row) -> StoredJobEvent? {
        guard row.source == .step, let at = row.at else { return nil }
        return StoredJobEvent(
            type: row.type, at: at, attempt: row.attempt, host: row.host, message: row.message, errorCode: row.errorCode,
            progress: row.progress, runAt: row.runAt)
    }
}
