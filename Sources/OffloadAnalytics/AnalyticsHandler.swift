public import Offload
package import OffloadData

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
    public struct Payload: Decodable, Sendable {
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
    }

    public struct Aggregate: Decodable, Sendable {
        public var groupBy: [String]?
        public var granularity: String
        public var metrics: [JSONValue]
    }

    public struct BadEvent: Codable, Sendable, Hashable {
        public var line: Int
        public var message: String
    }

    /// One record per bucket and group: `bucket` (its start, ISO 8601), the group's fields, and
    /// each metric under its name; sorted by bucket, then group.
    public struct Output: Encodable, Sendable {
        public var series: [JSONValue]
        public var read: Int
        public var filteredOut: Int
        public var rejected: Int
        public var badEvents: [BadEvent]
    }

    public let folders: AllowedFolders
    public var kind: String { "analytics" }

    public init(folders: AllowedFolders = AllowedFolders(["."])) { self.folders = folders }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        let plan = try AnalyticsPlan(payload)
        let source = try RecordSource(payload.events, folders: folders)
        // Only grouped and measured fields reach the output, so only the fields used are built.
        source.scanner = FieldScanner(paths: plan.neededPaths)
        var run = AnalyticsRun(plan: plan)
        var held: [(line: Int, event: JSONValue)] = []
        while let (line, parsed) = source.next() {
            if run.read & 0xFFF == 0 && context.isCancelled { throw CancellationError() }
            run.read += 1
            switch parsed {
            case .failure(let error):
                try run.reject(line: line, "\(source.name) line \(line) is not valid JSON: \(error)")
            case .success(let event):
                guard let checked = try run.admit(event, line: line, name: source.name) else { continue }
                // Sessions need every event of a user first; the rest is aggregated as it comes.
                if plan.derivesSessions { held.append((line, checked)) } else { try run.aggregate(checked, line: line, name: source.name) }
            }
        }
        if plan.derivesSessions {
            for (line, event) in Sessions.derive(held.map(\.event), gap: plan.sessionGap).enumerated().map({ (held[$0.offset].line, $0.element) }) {
                try run.aggregate(event, line: line, name: source.name)
            }
        }
        return Output(series: run.series(), read: run.read, filteredOut: run.filteredOut, rejected: run.rejected,
                      badEvents: run.badEvents.map { BadEvent(line: $0.line, message: $0.message) })
    }
}

extension HandlerRegistry {
    /// Adds the `analytics` kind, reading event files under `folders`.
    public mutating func registerAnalytics(folders: AllowedFolders = AllowedFolders(["."])) throws(OffloadError) {
        try register(AnalyticsHandler(folders: folders))
    }
}
