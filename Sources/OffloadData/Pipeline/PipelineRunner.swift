package import Offload

/// Runs a pipeline: the steps that can stream (filter, select, limit) take records one at a time
/// as they are read; the first step that needs them all (group, aggregate, sort) consumes the
/// stream; the rest work on its output. A group or aggregate right after streaming steps keeps
/// only its accumulators, never the records.
struct PipelineRunner {
    enum OnBadRecord: String { case fail, skip }

    struct Outcome {
        var records: [JSONValue]
        var read = 0
        var dropped = 0
        var failed = 0
        var badRecords: [(line: Int, message: String)] = []
    }

    /// A record the pipeline could not take: where it was (in the part of the input read) and why.
    struct Rejection: Error {
        var line: Int
        /// Follows "<input> line N".
        var detail: String

        func message(input: String, lineOffset: Int) -> String { "\(input) line \(line + lineOffset)\(detail)" }
    }

    /// What streaming one input (or one part of it) produced.
    struct Partial {
        var grouper: Grouper?
        var collected: [JSONValue] = []
        var read = 0
        var dropped = 0
        var failed = 0
        var rejections: [Rejection] = []
    }

    let steps: [Step]
    let onBadRecord: OnBadRecord
    static let reportedBadRecords = 5

    private var streaming: [Step] { Array(steps.prefix { $0.isStreaming }) }

    private var blockingGrouper: Grouper? {
        switch steps.dropFirst(streaming.count).first {
        case .group(let by, let aggregates)?: Grouper(by: by, aggregates: aggregates)
        case .aggregate(let aggregates)?: Grouper(by: [], aggregates: aggregates)
        default: nil
        }
    }

    /// Whether parts of a file can be streamed apart and their groups merged: the records flow
    /// straight into a group or aggregate, with no limit on the way.
    var isSplittable: Bool {
        blockingGrouper != nil && !streaming.contains { if case .limit = $0 { true } else { false } }
    }

    func run(_ source: RecordSource, cancelled: () -> Bool) throws(OffloadError) -> Outcome {
        do {
            return try finish(try stream(source, cancelled: cancelled), input: source.name, cancelled: cancelled)
        } catch let rejection as Rejection {
            throw failure(rejection, input: source.name, lineOffset: 0)
        } catch let error as OffloadError {
            throw error
        } catch {
            throw OffloadError(.handlerFailed, "\(error)")
        }
    }

    func failure(_ rejection: Rejection, input: String, lineOffset: Int) -> OffloadError {
        OffloadError(.invalidPayload, "\(rejection.message(input: input, lineOffset: lineOffset)) (set onBadRecord to skip to count such records as failed and go on)")
    }

    /// Reads `source` through the streaming steps into the first group, aggregate or sort.
    /// - Throws: a ``Rejection`` for a bad record when bad records fail the job, ``OffloadError`` when cancelled.
    func stream(_ source: RecordSource, cancelled: () -> Bool) throws -> Partial {
        let streaming = streaming
        var partial = Partial(grouper: blockingGrouper)
        var limitLeft: [Int?] = streaming.map { if case .limit(let n) = $0 { n } else { nil } }
        var exhausted = false
        reading: while !exhausted, let (line, parsed) = source.next() {
            if partial.read & 0xFFF == 0 && cancelled() { throw OffloadError(.cancelled, "stopped at the host's request") }
            partial.read += 1
            let record: JSONValue
            switch parsed {
            case .success(let value):
                record = value
            case .failure(let error):
                try reject(Rejection(line: line, detail: " is not valid JSON: \(error)"), into: &partial)
                continue
            }
            var current = record
            for (index, step) in streaming.enumerated() {
                switch step {
                case .filter(let predicate):
                    guard predicate.matches(current) else {
                        partial.dropped += 1
                        continue reading
                    }
                case .transform(let transforms):
                    for transform in transforms { current = transform.apply(to: current) }
                case .select(let paths):
                    current = Self.project(current, paths)
                case .limit:
                    guard let left = limitLeft[index], left > 0 else {
                        exhausted = true
                        continue reading
                    }
                    limitLeft[index] = left - 1
                    if left - 1 == 0 { exhausted = true }
                case .group, .aggregate, .sort:
                    break
                }
            }
            if partial.grouper != nil {
                do { try partial.grouper!.add(current) } catch {
                    try reject(Rejection(line: line, detail: ": \(error.message)"), into: &partial)
                }
            } else {
                partial.collected.append(current)
            }
        }
        return partial
    }

    /// Applies the steps after the streamed ones to a partial's output.
    func finish(_ partial: Partial, input: String, cancelled: () -> Bool) throws(OffloadError) -> Outcome {
        var rows = partial.grouper?.results() ?? partial.collected
        let rest = steps.dropFirst(streaming.count + (partial.grouper != nil ? 1 : 0))
        for step in rest {
            if cancelled() { throw OffloadError(.cancelled, "stopped at the host's request") }
            rows = try Self.apply(step, to: rows)
        }
        var outcome = Outcome(records: rows, read: partial.read, dropped: partial.dropped, failed: partial.failed)
        outcome.badRecords = partial.rejections.prefix(Self.reportedBadRecords).map {
            ($0.line, $0.message(input: input, lineOffset: 0))
        }
        return outcome
    }

    private func reject(_ rejection: Rejection, into partial: inout Partial) throws(Rejection) {
        guard onBadRecord == .skip else { throw rejection }
        partial.failed += 1
        if partial.rejections.count < Self.reportedBadRecords { partial.rejections.append(rejection) }
    }

    /// A step over records already in memory.
    static func apply(_ step: Step, to rows: [JSONValue]) throws(OffloadError) -> [JSONValue] {
        switch step {
        case .filter(let predicate):
            return rows.filter(predicate.matches)
        case .select(let paths):
            return rows.map { project($0, paths) }
        case .transform(let transforms):
            return rows.map { row in transforms.reduce(row) { $1.apply(to: $0) } }
        case .limit(let n):
            return Array(rows.prefix(n))
        case .sort(let keys):
            return rows.enumerated().sorted { a, b in
                for key in keys {
                    let order = compareForSort(key.field.value(in: a.element), key.field.value(in: b.element), descending: key.descending)
                    if order != 0 { return order < 0 }
                }
                return a.offset < b.offset
            }.map(\.element)
        case .group(let by, let aggregates):
            return try group(rows, by: by, aggregates: aggregates)
        case .aggregate(let aggregates):
            return try group(rows, by: [], aggregates: aggregates)
        }
    }

    private static func group(_ rows: [JSONValue], by: [FieldPath], aggregates: [AggregateSpec]) throws(OffloadError) -> [JSONValue] {
        var grouper = Grouper(by: by, aggregates: aggregates)
        for (index, row) in rows.enumerated() {
            do { try grouper.add(row) } catch {
                throw OffloadError(.invalidPayload, "record \(index + 1) of the step's input: \(error.message)")
            }
        }
        return grouper.results()
    }

    /// Sort order: nulls and missing values last whatever the direction; then numbers, strings
    /// and booleans, each by value; values of different kinds by kind.
    static func compareForSort(_ a: JSONValue?, _ b: JSONValue?, descending: Bool) -> Int {
        let (x, y) = (a.flatMap { $0 == .null ? nil : $0 }, b.flatMap { $0 == .null ? nil : $0 })
        switch (x, y) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case (let x?, let y?):
            let order = ValueOrder.compare(x, y) ?? (kindRank(x) - kindRank(y)).signum()
            return descending ? -order : order
        }
    }

    private static func kindRank(_ value: JSONValue) -> Int {
        switch value {
        case .int, .double: 0
        case .string: 1
        case .bool: 2
        case .array: 3
        case .object: 4
        case .null: 5
        }
    }

    /// Only the given fields, at their paths.
    static func project(_ record: JSONValue, _ paths: [FieldPath]) -> JSONValue {
        var result = JSONValue.object([])
        for path in paths {
            if let value = path.value(in: record) { result = path.setting(value, in: result) }
        }
        return result
    }
}

/// Groups records by the values at some paths (in order of first appearance) and keeps one
/// accumulator per aggregate per group.
package struct Grouper {
    let by: [FieldPath]
    let aggregates: [AggregateSpec]
    private var index: [[JSONValue]: Int] = [:]
    private var keys: [[JSONValue]] = []
    private var accumulators: [[Accumulator]] = []

    package init(by: [FieldPath], aggregates: [AggregateSpec]) {
        self.by = by
        self.aggregates = aggregates
        if by.isEmpty {
            index[[]] = 0
            keys = [[]]
            accumulators = [aggregates.map(Accumulator.init)]
        }
    }

    package mutating func add(_ record: JSONValue) throws(AggregateError) {
        let key = by.map { $0.value(in: record) ?? .null }
        let slot: Int
        if let existing = index[key] {
            slot = existing
        } else {
            slot = keys.count
            index[key] = slot
            keys.append(key)
            accumulators.append(aggregates.map(Accumulator.init))
        }
        // Every aggregate checks the record before any takes it, so a bad record changes nothing.
        for accumulator in accumulators[slot] { try accumulator.check(record) }
        for position in accumulators[slot].indices { accumulators[slot][position].add(record) }
    }

    /// Takes in the groups of a later part of the input, keeping the order of first appearance.
    package mutating func merge(_ other: Grouper) {
        for (slot, key) in other.keys.enumerated() {
            if let existing = index[key] {
                for position in accumulators[existing].indices { accumulators[existing][position].merge(other.accumulators[slot][position]) }
            } else {
                index[key] = keys.count
                keys.append(key)
                accumulators.append(other.accumulators[slot])
            }
        }
    }

    package func results() -> [JSONValue] {
        keys.indices.map { slot in
            var row = JSONValue.object([])
            for (path, value) in zip(by, keys[slot]) { row = path.setting(value, in: row) }
            guard case .object(var members) = row else { return row }
            for (spec, accumulator) in zip(aggregates, accumulators[slot]) { members.append((spec.name, accumulator.result())) }
            return .object(members)
        }
    }
}
