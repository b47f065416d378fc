#if canImport(Glibc)
import Glibc
#endif
public import Offload
import OffloadData

/// The `analytics` job kind: events (upstream's `AnalyticsEvent`: eventType, timestamp as epoch
/// seconds or ISO 8601, durationMs, properties, sessionId, pageId, userId, userAgent, ip) are
/// filtered, enriched, made private as asked, and aggregated into time buckets per group.
///
/// ```json
/// {"events":{"path":"events.jsonl"},"filter":{"field":"eventType","cmp":"ne","value":"heartbeat"},
///  "enrich":["device","session","anonymizeIp"],"privacy":"anonymized","salt":"s3cret",
///  "aggregate":{"groupBy":["eventType"],"granularity":"hour",
///   "metrics":[{"fn":"count","as":"events"},{"fn":"percentile","field":"durationMs","p":95,"as":"p95"},
///              {"fn":"unique","field":"sessionId","as":"sessions"}]}}
/// ```
public struct AnalyticsHandler: JobHandler {
    public struct Payload: Codable, Sendable {
        /// The events, inline (`[…]`) or a JSON Lines or JSON file (`{"path": "events.jsonl"}`).
        public var events: JSONValue
        public var filter: JSONValue?
        /// Any of `device`, `session`, `hashIdentifiers`, `anonymizeIp`.
        public var enrich: [String]?
        /// `full` (default), `anonymized`, `minimal` or `disabled`.
        public var privacy: String?
        /// The salt of `hashIdentifiers` (required with it).
        public var salt: String?
        /// The inactivity that ends a derived session, in minutes (default 30).
        public var sessionGapMinutes: Double?
        public var aggregate: Aggregate
        /// `fail` (default) or `skip`: what a malformed event does.
        public var onBadRecord: String?

        public init(
            events: JSONValue, filter: JSONValue? = nil, enrich: [String]? = nil, privacy: String? = nil, salt: String? = nil,
            sessionGapMinutes: Double? = nil, aggregate: Aggregate, onBadRecord: String? = nil
        ) {
            self.events = events
            self.filter = filter
            self.enrich = enrich
            self.privacy = privacy
            self.salt = salt
            self.sessionGapMinutes = sessionGapMinutes
            self.aggregate = aggregate
            self.onBadRecord = onBadRecord
        }
    }

    public struct Aggregate: Codable, Sendable {
        public var groupBy: [String]?
        /// `second`, `minute`, `hour`, `day`, `week`, `month`, `quarter` or `year`.
        public var granularity: String
        /// The `data` kind's aggregates: `{"fn":"count","as":"events"}`, `{"fn":"percentile","field":"durationMs","p":95,"as":"p95"}`.
        public var metrics: [JSONValue]

        public init(groupBy: [String]? = nil, granularity: String, metrics: [JSONValue]) {
            self.groupBy = groupBy
            self.granularity = granularity
            self.metrics = metrics
        }
    }

    public struct BadEvent: Codable, Sendable, Hashable {
        public var line: Int
        public var message: String
    }

    /// One record per bucket and group: `bucket` (its start, ISO 8601), the group's fields, and
    /// each metric under its name; sorted by bucket, then group.
    public struct Output: Codable, Sendable {
        public var series: [JSONValue]
        public var read: Int
        public var filteredOut: Int
        public var rejected: Int
        public var badEvents: [BadEvent]
    }

    public let folders: AllowedFolders
    public static let kind = "analytics"

    public init(folders: AllowedFolders = AllowedFolders(["."])) { self.folders = folders }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let plan = try AnalyticsPlan(payload)
        let source = try RecordSource(payload.events, folders: folders, field: "payload.events")
        // Only grouped and measured fields reach the output, so only the fields used are built.
        let scanner = FieldScanner(paths: plan.neededPaths)
        source.scanner = scanner
        let run = try await context.withCancellationCheck { cancelled -> AnalyticsRun in
            if !plan.derivesSessions, let path = source.linesPath, Self.fileSize(path) >= ParallelFileRun.minimumBytes {
                return try await Self.inParts(
                    path: path, name: source.name, plan: plan, limits: context.limits, scanner: scanner, cancelled: cancelled)
            }
            var run = AnalyticsRun(plan: plan, limits: context.limits)
            try Self.consume(source, into: &run, limits: context.limits, cancelled: cancelled)
            return run
        }
        return Output(
            series: run.series(), read: run.read, filteredOut: run.filteredOut, rejected: run.rejected,
            badEvents: run.badEvents.map { BadEvent(line: $0.line, message: $0.message) })
    }

    /// Reads every event of `source` into `run` (sessions, when derived, once all are read).
    static func consume(_ source: RecordSource, into run: inout AnalyticsRun, limits: ResourceLimits, cancelled: () -> Bool) throws {
        if let scanner = source.scanner, let layout = run.slots(in: scanner) {
            var slots = [JSONValue?](repeating: nil, count: layout.bucket + 1)
            while let (line, error) = source.next(into: &slots) {
                if cancelled() { throw CancellationError() }
                run.read += 1
                if let error {
                    try run.reject(line: line, "\(source.name) line \(line + run.lineOffset) is not valid JSON: \(error)")
                } else {
                    try run.take(&slots, at: layout, line: line, name: source.name, stop: cancelled)
                }
            }
            return
        }
        var held: [(line: Int, event: JSONValue)] = []
        while let (line, parsed) = source.next() {
            if cancelled() { throw CancellationError() }
            run.read += 1
            switch parsed {
            case .failure(let error):
                try run.reject(line: line, "\(source.name) line \(line + run.lineOffset) is not valid JSON: \(error)")
            case .success(let event):
                guard let checked = try run.admit(event, line: line, name: source.name, stop: cancelled) else { continue }
                // Sessions need every event of a user first; the rest is aggregated as it comes.
                if run.plan.derivesSessions {
                    guard held.count < limits.maxHeldRecords else {
                        throw OffloadError.overBudget(
                            "heldRecords", limit: limits.maxHeldRecords,
                            "deriving sessions holds every event, and there are more than the job may hold")
                    }
                    held.append((line, checked))
                } else {
                    try run.aggregate(checked, line: line, name: source.name)
                }
            }
        }
        if run.plan.derivesSessions {
            for (index, event) in Sessions.derive(held.map(\.event), gap: run.plan.sessionGap).enumerated() {
                try run.aggregate(event, line: held[index].line, name: source.name)
            }
        }
    }

    /// A JSON Lines file in one part per CPU, each on a thread of its own, merged in file order.
    private static func inParts(
        path: String, name: String, plan: AnalyticsPlan, limits: ResourceLimits, scanner: FieldScanner,
        cancelled: @escaping @Sendable () -> Bool
    ) async throws -> AnalyticsRun {
        var info = stat()
        guard stat(path, &info) == 0 else { throw OffloadError(.invalidPayload, "payload.events.path: cannot read \(name)") }
        let parts = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), Int(info.st_size) / (1 << 20)))
        let bounds = try ParallelFileRun.lineStarts(path, size: Int(info.st_size), parts: parts)
        var counted = [0]
        for part in 0..<(parts - 1) { counted.append(counted[part] + (try ParallelFileRun.lines(path, from: bounds[part], to: bounds[part + 1]))) }
        let offsets = counted
        let shared = GroupBudget.SharedBytes()
        let results = await DedicatedThreads.map(parts, name: "offload-events") { part -> PartRun in
            do {
                let source = try RecordSource(linesOf: path, from: bounds[part], to: bounds[part + 1], name: name)
                // A scanner of its own: objects shared between threads make every retain contend.
                source.scanner = FieldScanner(paths: scanner.paths)
                var run = AnalyticsRun(plan: plan, limits: limits, shared: shared)
                run.lineOffset = offsets[part]
                try consume(source, into: &run, limits: limits, cancelled: cancelled)
                return PartRun(result: .success(run))
            } catch {
                return PartRun(result: .failure(error))
            }
        }
        var merged: AnalyticsRun?
        for part in results {
            let run = try part.result.get()
            if merged == nil { merged = run } else { try merged!.merge(run) }
        }
        return merged!
    }

    private static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

/// One part's run, carried across threads (it is only read once its thread is done).
struct PartRun: @unchecked Sendable {
    var result: Result<AnalyticsRun, any Error>
}

extension HandlerRegistry {
    /// Adds the `analytics` kind, reading event files under `folders`.
    public mutating func registerAnalytics(folders: AllowedFolders = AllowedFolders(["."])) throws(OffloadError) {
        try register(AnalyticsHandler(folders: folders))
    }
}
