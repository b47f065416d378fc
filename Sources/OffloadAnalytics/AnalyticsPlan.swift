import Offload
import OffloadData

/// An `analytics` payload checked: what to keep, add, hide and count.
struct AnalyticsPlan {
    enum Privacy: String, CaseIterable { case full, anonymized, minimal, disabled }
    enum Enrichment: String, CaseIterable { case device, session, hashIdentifiers, anonymizeIp }

    let filter: Predicate?
    let enrichments: Set<Enrichment>
    let privacy: Privacy
    let salt: String?
    let sessionGap: Double
    let granularity: Granularity
    let groupBy: [FieldPath]
    let metrics: [AggregateSpec]
    let skipsBadEvents: Bool

    var derivesSessions: Bool { enrichments.contains(.session) }

    /// The fields of an event the job reads; the rest of each line is checked, not built (only
    /// grouped and measured fields ever reach the output).
    var neededPaths: [FieldPath] {
        var names = ["eventType", "timestamp"]
        if enrichments.contains(.device) { names.append("userAgent") }
        if derivesSessions { names += ["sessionId", "userId", "ip", "userAgent"] }
        if hashes { names += ["userId", "sessionId"] }
        if anonymizesIp { names.append("ip") }
        let fixed = names.compactMap { try? FieldPath($0, field: "") }
        return fixed + (filter?.paths ?? []) + groupBy + metrics.compactMap(\.field)
    }
    /// Whether events reach the groups unchanged but for their timestamp (no enrichment,
    /// hashing, anonymizing or removal), so they can be aggregated straight from the fields read.
    var changesNoField: Bool { enrichments.isEmpty && !hashes && !anonymizesIp && privacy == .full }
    var hashes: Bool { enrichments.contains(.hashIdentifiers) || privacy == .anonymized }
    var anonymizesIp: Bool { enrichments.contains(.anonymizeIp) || privacy == .anonymized }

    init(_ payload: AnalyticsHandler.Payload) throws(OffloadError) {
        filter = try payload.filter.map { json throws(OffloadError) in try Predicate(json, field: "payload.filter") }
        var enrichments: Set<Enrichment> = []
        for (index, name) in (payload.enrich ?? []).enumerated() {
            guard let enrichment = Enrichment(rawValue: name) else {
                throw OffloadError(
                    .invalidPayload, "payload.enrich[\(index)] '\(name)' is not one of \(Enrichment.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            enrichments.insert(enrichment)
        }
        self.enrichments = enrichments
        guard let privacy = Privacy(rawValue: payload.privacy ?? "full") else {
            throw OffloadError(.invalidPayload, "payload.privacy must be one of \(Privacy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.privacy = privacy
        salt = payload.salt
        if (enrichments.contains(.hashIdentifiers) || privacy == .anonymized) && (payload.salt ?? "").isEmpty {
            throw OffloadError(.invalidPayload, "payload.salt is required to hash identifiers (hashIdentifiers or privacy anonymized)")
        }
        let gap = payload.sessionGapMinutes ?? 30
        guard gap.isFinite, gap > 0, gap <= 10_080 else {
            throw OffloadError(.invalidPayload, "payload.sessionGapMinutes must be between 0 and 10080")
        }
        sessionGap = gap * 60
        guard let granularity = Granularity(rawValue: payload.aggregate.granularity) else {
            throw OffloadError(
                .invalidPayload, "payload.aggregate.granularity must be one of \(Granularity.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.granularity = granularity
        var groupBy: [FieldPath] = []
        for (index, text) in (payload.aggregate.groupBy ?? []).enumerated() {
            groupBy.append(try FieldPath(text, field: "payload.aggregate.groupBy[\(index)]"))
        }
        self.groupBy = groupBy
        guard !payload.aggregate.metrics.isEmpty else { throw OffloadError(.invalidPayload, "payload.aggregate.metrics must not be empty") }
        var metrics: [AggregateSpec] = []
        for (index, metric) in payload.aggregate.metrics.enumerated() {
            metrics.append(try AggregateSpec(metric, field: "payload.aggregate.metrics[\(index)]"))
        }
        self.metrics = metrics
        guard ["fail", "skip", nil].contains(payload.onBadRecord) else {
            throw OffloadError(.invalidPayload, "payload.onBadRecord must be fail or skip")
        }
        skipsBadEvents = payload.onBadRecord == "skip"
    }
}

/// The state of one analytics job as events come in.
struct AnalyticsRun {
    let plan: AnalyticsPlan
    var read = 0
    var filteredOut = 0
    var rejected = 0
    var badEvents: [(line: Int, message: String)] = []
    /// Lines before the part of the file this run reads.
    var lineOffset = 0
    private var grouper: Grouper

    static let bucketField = "bucket"

    /// - Parameter shared: the bytes the runs over the other parts of the same file hold.
    init(plan: AnalyticsPlan, limits: ResourceLimits = ResourceLimits(), shared: GroupBudget.SharedBytes? = nil) {
        self.plan = plan
        // The bucket start (seconds) is the first grouping field, set on each event.
        grouper = Grouper(
            by: [try! FieldPath("$bucket", field: "")] + plan.groupBy, aggregates: plan.metrics,
            budget: GroupBudget(limits: limits, shared: shared))
    }

    /// Takes in the run over a later part of the same file.
    /// - Throws: the budget's error when the buckets together go over it.
    mutating func merge(_ other: AnalyticsRun) throws(OffloadError) {
        read += other.read
        filteredOut += other.filteredOut
        rejected += other.rejected
        badEvents += other.badEvents.prefix(max(0, 5 - badEvents.count))
        do { try grouper.merge(other.grouper) } catch { throw error.overBudget ?? OffloadError(.handlerFailed, error.message) }
    }

    mutating func reject(line: Int, _ message: String) throws(OffloadError) {
        guard plan.skipsBadEvents else {
            throw OffloadError(.invalidPayload, "\(message) (set onBadRecord to skip to count such events as rejected and go on)")
        }
        rejected += 1
        if badEvents.count < 5 { badEvents.append((line + lineOffset, message)) }
    }

    /// Checks an event, applies the filter, enrichment and privacy; `nil` when it is left out.
    mutating func admit(_ event: JSONValue, line: Int, name: String, stop: () -> Bool = { false }) throws(OffloadError) -> JSONValue? {
        guard case .object = event, case .string? = event["eventType"] else {
            try reject(line: line, "\(name) line \(line + lineOffset): an event needs an eventType string")
            return nil
        }
        guard let seconds = Self.seconds(event["timestamp"]) else {
            try reject(
                line: line,
                "\(name) line \(line + lineOffset): timestamp must be epoch seconds or milliseconds, or an ISO 8601 time, in the years 1 to 9999")
            return nil
        }
        if let filter = plan.filter, !filter.matches(event, stop: stop) {
            filteredOut += 1
            return nil
        }
        var result = event
        result = set("timestamp", .double(seconds), in: result)
        if plan.enrichments.contains(.device), case .string(let agent)? = event["userAgent"] {
            let parsed = UserAgent(agent)
            result = set(
                "device", .object([("browser", .string(parsed.browser)), ("os", .string(parsed.os)), ("type", .string(parsed.deviceType))]),
                in: result)
        }
        if plan.anonymizesIp, case .string(let ip)? = event["ip"] { result = set("ip", .string(IPAddress.anonymized(ip)), in: result) }
        if plan.hashes, let salt = plan.salt {
            for key in ["userId", "sessionId"] {
                guard let value = event[key], value != .null else { continue }
                result = set(key, .string(SHA256.hex(salt + Self.text(value))), in: result)
            }
        }
        switch plan.privacy {
        case .full, .anonymized: break
        case .minimal: result = remove(["ip", "userAgent", "userId", "properties"], from: result)
        case .disabled: result = keep(["eventType", "timestamp", "durationMs", "device"], in: result)
        }
        return result
    }

    /// Where the fields of an unchanged event sit among a scanner's slots; the bucket start goes
    /// in one more slot after them.
    struct Slots {
        let scanner: FieldScanner
        let eventType: Int
        let timestamp: Int
        let bucket: Int
        let grouper: Grouper.Slots
    }

    /// The slots to aggregate events from, when the plan changes no field and `scanner` reads
    /// all it needs.
    func slots(in scanner: FieldScanner) -> Slots? {
        guard plan.changesNoField,
            let eventType = scanner.slot(of: try! FieldPath("eventType", field: "")),
            let timestamp = scanner.slot(of: try! FieldPath("timestamp", field: ""))
        else { return nil }
        let bucket = scanner.paths.count
        guard let grouperSlots = grouper.slots({ $0.description == "$bucket" ? bucket : scanner.slot(of: $0) }) else { return nil }
        return Slots(scanner: scanner, eventType: eventType, timestamp: timestamp, bucket: bucket, grouper: grouperSlots)
    }

    /// Checks, filters and aggregates an event given as its fields (see ``slots(in:)``): what
    /// ``admit(_:line:name:)`` and ``aggregate(_:line:name:)`` do, without building the event.
    mutating func take(_ slots: inout [JSONValue?], at layout: Slots, line: Int, name: String, stop: () -> Bool = { false }) throws(OffloadError) {
        guard case .string? = slots[layout.eventType] else {
            try reject(line: line, "\(name) line \(line + lineOffset): an event needs an eventType string")
            return
        }
        guard let seconds = Self.seconds(slots[layout.timestamp]) else {
            try reject(
                line: line,
                "\(name) line \(line + lineOffset): timestamp must be epoch seconds or milliseconds, or an ISO 8601 time, in the years 1 to 9999")
            return
        }
        if let filter = plan.filter, !filter.matches({ path in layout.scanner.slot(of: path).flatMap { slots[$0] } }, stop: stop) {
            filteredOut += 1
            return
        }
        slots[layout.timestamp] = .double(seconds)
        slots[layout.bucket] = .double(plan.granularity.bucketStart(seconds))
        do { try grouper.add(slots, at: layout.grouper) } catch {
            if let overBudget = error.overBudget { throw overBudget }
            try reject(line: line, "\(name) line \(line + lineOffset): \(error.message)")
        }
    }

    mutating func aggregate(_ event: JSONValue, line: Int, name: String) throws(OffloadError) {
        let seconds = event["timestamp"]?.doubleValue ?? 0
        let keyed = set("$bucket", .double(plan.granularity.bucketStart(seconds)), in: event)
        do { try grouper.add(keyed) } catch {
            if let overBudget = error.overBudget { throw overBudget }
            try reject(line: line, "\(name) line \(line + lineOffset): \(error.message)")
        }
    }

    func series() -> [JSONValue] {
        let rows = grouper.results().map { row -> (Double, JSONValue) in
            guard case .object(let members) = row else { return (0, row) }
            let start = members.first { $0.key == "$bucket" }?.value.doubleValue ?? 0
            let rest = members.filter { $0.key != "$bucket" }
            return (start, .object([(Self.bucketField, .string(Self.iso(start)))] + rest))
        }
        return rows.enumerated().sorted { a, b in
            a.element.0 != b.element.0 ? a.element.0 < b.element.0 : a.offset < b.offset
        }.map(\.element.1)
    }

    /// Epoch seconds (or milliseconds, from 1e11 on) or ISO 8601, in the years 1 to 9999.
    static func seconds(_ value: JSONValue?) -> Double? {
        let seconds: Double? =
            switch value {
            case .string(let text)?: ISO8601.parse(text)
            case let number? where number.doubleValue != nil: number.doubleValue.map { abs($0) >= 1e11 ? $0 / 1000 : $0 }
            default: nil
            }
        guard let seconds, DatePattern.supportedSeconds.contains(seconds) else { return nil }
        return seconds
    }

    static func iso(_ seconds: Double) -> String {
        (try? DatePattern("yyyy-MM-dd'T'HH:mm:ss'Z'", field: "")).map { $0.format(seconds, offsetSeconds: 0) } ?? String(seconds)
    }

    static func text(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return JSONWriter.string(value)
    }

    private func set(_ key: String, _ value: JSONValue, in event: JSONValue) -> JSONValue {
        guard case .object(var members) = event else { return event }
        if let index = members.firstIndex(where: { $0.key == key }) { members[index].value = value } else { members.append((key, value)) }
        return .object(members)
    }

    private func remove(_ keys: Set<String>, from event: JSONValue) -> JSONValue {
        guard case .object(let members) = event else { return event }
        return .object(members.filter { !keys.contains($0.key) })
    }

    private func keep(_ keys: Set<String>, in event: JSONValue) -> JSONValue {
        guard case .object(let members) = event else { return event }
        return .object(members.filter { keys.contains($0.key) })
    }
}

/// Sessions for events that have no `sessionId`: per user (`userId`, else `ip` + `userAgent`),
/// in time order, a new session after `gap` seconds without events.
enum Sessions {
    static func derive(_ events: [JSONValue], gap: Double) -> [JSONValue] {
        var result = events
        var byUser: [String: [Int]] = [:]
        for (index, event) in events.enumerated() where event["sessionId"] == nil || event["sessionId"] == .null {
            let user =
                event["userId"].map(AnalyticsRun.text)
                ?? ((event["ip"].map(AnalyticsRun.text) ?? "") + "|" + (event["userAgent"].map(AnalyticsRun.text) ?? ""))
            byUser[user, default: []].append(index)
        }
        for (user, indices) in byUser {
            let ordered = indices.sorted { (events[$0]["timestamp"]?.doubleValue ?? 0, $0) < (events[$1]["timestamp"]?.doubleValue ?? 0, $1) }
            var session = 0
            var last = -Double.infinity
            let prefix = String(SHA256.hex(user).prefix(12))
            for index in ordered {
                let time = events[index]["timestamp"]?.doubleValue ?? 0
                if time - last > gap { session += 1 }
                last = time
                guard case .object(var members) = result[index] else { continue }
                members.removeAll { $0.key == "sessionId" }
                members.append(("sessionId", .string("s-\(prefix)-\(session)")))
                result[index] = .object(members)
            }
        }
        return result
    }
}
