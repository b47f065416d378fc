package import Offload

/// Runs a pipeline: the steps that can stream (filter, select, limit) take records one at a time
/// as they are read; the first step that needs them all (group, aggregate, sort) consumes the
/// stream; the rest work on its output. A group or aggregate right after streaming steps keeps
/// only its accumulators, never the records.
struct PipelineRunner {
    enum OnBadRecord: String { case fail, skip }

    struct Outcome {
        /// The output records, unless they went to `file`.
        var records: [JSONValue]
        /// The JSON Lines file holding the output, when a streaming pipeline wrote one.
        var file: String?
        var count = 0
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
        /// Where the records go when the pipeline streams to its end (else `collected`).
        var sink: RecordSink?
        var collected: [JSONValue] = []
        var read = 0
        var dropped = 0
        var failed = 0
        var rejections: [Rejection] = []
    }

    /// Where a pipeline that streams to its end writes its output when it is large.
    struct OutputPlace {
        var directory: String
        var name: String
        var inlineLimit: Int
    }

    let steps: [Step]
    let onBadRecord: OnBadRecord
    var output: OutputPlace?
    /// The job's budgets: groups and their bytes, records held for a sort.
    let limits: ResourceLimits
    /// The bytes groupers on other parts of the same input hold (see ``forAnotherThread(sharing:)``).
    private var sharedGroupBytes: GroupBudget.SharedBytes?
    static let reportedBadRecords = 5

    /// The JSON the steps were read from, to read them again for another thread.
    private var pipeline: [JSONValue]?

    init(steps: [Step], onBadRecord: OnBadRecord, output: OutputPlace? = nil, limits: ResourceLimits = ResourceLimits()) {
        self.steps = steps
        self.onBadRecord = onBadRecord
        self.output = output
        self.limits = limits
    }

    /// The most steps a pipeline may have.
    static let maxSteps = 256

    /// Reads the steps of `pipeline` (`payload.pipeline`).
    init(pipeline: [JSONValue], onBadRecord: OnBadRecord, output: OutputPlace? = nil, limits: ResourceLimits = ResourceLimits()) throws(OffloadError)
    {
        guard pipeline.count <= Self.maxSteps else {
            throw OffloadError(.invalidPayload, "payload.pipeline has \(pipeline.count) steps, over the limit of \(Self.maxSteps)")
        }
        var steps: [Step] = []
        for (index, step) in pipeline.enumerated() { steps.append(try Step(step, field: "payload.pipeline[\(index)]")) }
        self.init(steps: steps, onBadRecord: onBadRecord, output: output, limits: limits)
        self.pipeline = pipeline
    }

    /// A runner for another thread, with steps of its own: the arrays and strings inside steps
    /// are retained and released for every record, and two cores doing that to the same objects
    /// slow each other down several times over.
    /// - Parameter shared: the count of bytes the groupers of all the parts hold together.
    func forAnotherThread(sharing shared: GroupBudget.SharedBytes) -> PipelineRunner {
        guard let pipeline, var copy = try? PipelineRunner(pipeline: pipeline, onBadRecord: onBadRecord, output: output, limits: limits) else {
            var same = self
            same.sharedGroupBytes = shared
            return same
        }
        copy.sharedGroupBytes = shared
        return copy
    }

    /// A sink for the output of a pipeline of streaming steps only, when it has an output place
    /// (`tag` tells apart the parts of a file read at once).
    func makeSink(tag: String = "") -> RecordSink? {
        guard let output, steps.allSatisfy(\.isStreaming) else { return nil }
        return RecordSink(inlineLimit: output.inlineLimit, directory: output.directory, name: output.name, tag: tag)
    }

    private var streaming: [Step] { Array(steps.prefix { $0.isStreaming }) }

    private var blockingGrouper: Grouper? {
        switch steps.dropFirst(streaming.count).first {
        case .group(let by, let aggregates)?: Grouper(by: by, aggregates: aggregates, budget: GroupBudget(limits: limits, shared: sharedGroupBytes))
        case .aggregate(let aggregates)?: Grouper(by: [], aggregates: aggregates, budget: GroupBudget(limits: limits, shared: sharedGroupBytes))
        default: nil
        }
    }

    /// Whether parts of a file can be streamed apart and their outputs merged (groups merged,
    /// records joined in file order): no limit on the way, which would need the records before.
    var isSplittable: Bool {
        !streaming.contains { if case .limit = $0 { true } else { false } }
    }

    func run(_ source: RecordSource, cancelled: () -> Bool) throws(OffloadError) -> Outcome {
        do {
            return try finish(try stream(source, into: makeSink(), cancelled: cancelled), input: source.name, cancelled: cancelled)
        } catch let rejection as Rejection {
            throw failure(rejection, input: source.name, lineOffset: 0)
        } catch let error as OffloadError {
            throw error
        } catch {
            throw OffloadError(.handlerFailed, "\(error)")
        }
    }

    func failure(_ rejection: Rejection, input: String, lineOffset: Int) -> OffloadError {
        OffloadError(
            .invalidPayload,
            "\(rejection.message(input: input, lineOffset: lineOffset)) (set onBadRecord to skip to count such records as failed and go on)")
    }

    /// Reads `source` through the streaming steps into the first group, aggregate or sort. With a
    /// scanner, a record is only its fields (in slots) until a step needs it whole.
    /// - Throws: a ``Rejection`` for a bad record when bad records fail the job, ``OffloadError`` when cancelled.
    func stream(_ source: RecordSource, into sink: RecordSink? = nil, cancelled: () -> Bool) throws -> Partial {
        let streaming = streaming
        var partial = Partial(grouper: blockingGrouper, sink: sink)
        var limitLeft: [Int?] = streaming.map { if case .limit(let n) = $0 { n } else { nil } }
        var exhausted = false
        let scanning = source.scanner != nil
        let layout = source.scanner.map { SlotLayout(scanner: $0, streaming: streaming, readPaths: Step.neededPaths(steps) ?? []) }
        let transformsInSlots = layout?.transformsInSlots ?? false
        // Read through an unowned reference: the layout outlives the loop, and retaining it in
        // every closure that reads a field would cost more than the reading.
        unowned(unsafe) let fields = layout ?? SlotLayout.empty
        var slots = [JSONValue?](repeating: nil, count: layout?.paths.count ?? 0)
        // Held in locals for the loop: reaching into `partial` or unwrapping optionals for each
        // record would copy (and retain) what they hold.
        var grouper = partial.grouper
        partial.grouper = nil
        let grouping = grouper != nil
        let grouperSlots = layout.flatMap { layout in grouper?.slots { layout.slot(of: $0) } }
        let addsSlots = grouperSlots != nil
        let slotsForGrouper = grouperSlots ?? Grouper.Slots(keys: [], fields: [])
        let hasStreamingSteps = !streaming.isEmpty
        var memo = TransformMemo()
        // A pipeline ending with a select of top-level fields, its records going to a file: they
        // are written straight from the slots.
        let lastStep = streaming.count - 1
        let writesSelection: Bool =
            if case .select? = streaming.last, sink != nil, layout != nil {
                fields.selectsTopLevelFields(lastStep)
            } else { false }
        reading: while !exhausted {
            // The record, once a step needed it whole; until then (with a scanner) its fields are in `slots`.
            var current: JSONValue?
            let line: Int
            if scanning {
                guard let (number, error) = source.next(into: &slots) else { break }
                line = number
                if let error {
                    partial.read += 1
                    try reject(Rejection(line: line, detail: " is not valid JSON: \(error)"), into: &partial)
                    continue
                }
            } else {
                guard let (number, parsed) = source.next() else { break }
                line = number
                switch parsed {
                case .success(let value):
                    current = value
                case .failure(let error):
                    partial.read += 1
                    try reject(Rejection(line: line, detail: " is not valid JSON: \(error)"), into: &partial)
                    continue
                }
            }
            // Every record: one atomic load, and a file of few but huge records stops as soon as one of many small ones.
            if cancelled() { throw OffloadError(.cancelled, "stopped at the host's request") }
            partial.read += 1
            for (index, step) in streaming.enumerated() {
                guard hasStreamingSteps else { break }
                switch step {
                case .filter(let predicate):
                    let matches =
                        if let current { predicate.matches(current, stop: cancelled) } else {
                            predicate.matches({ path in fields.slot(of: path).flatMap { slots[$0] } }, stop: cancelled)
                        }
                    guard matches else {
                        partial.dropped += 1
                        continue reading
                    }
                case .transform(let transforms):
                    if current == nil, transformsInSlots {
                        // Through a pointer: a transform is not copied (and all it holds retained) for each record.
                        transforms.withUnsafeBufferPointer { transforms in
                            for position in transforms.indices {
                                let value = transforms[position].value(memo: &memo, key: index << 16 | position, stop: cancelled) { path in
                                    fields.slot(of: path).flatMap { slots[$0] }
                                }
                                slots[fields.targets[index][position]] = value
                            }
                        }
                    } else {
                        var record = current ?? fields.record(from: slots)
                        current = nil
                        for (position, transform) in transforms.enumerated() {
                            transform.apply(to: &record, memo: &memo, key: index << 16 | position, stop: cancelled)
                        }
                        current = record
                    }
                case .select(let paths):
                    if let record = current {
                        current = Self.project(record, paths)
                    } else if writesSelection && index == lastStep {
                        try sink!.append(
                            build: { fields.selection(index, from: slots) },
                            write: { fields.writeSelection(index, from: slots, into: &$0) })
                        continue reading
                    } else {
                        current = fields.selection(index, from: slots)
                    }
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
            if grouping {
                do {
                    if current == nil, addsSlots {
                        try grouper!.add(slots, at: slotsForGrouper)
                    } else {
                        try grouper!.add(current ?? fields.record(from: slots))
                    }
                } catch {
                    if let overBudget = error.overBudget { throw overBudget }
                    try reject(Rejection(line: line, detail: ": \(error.message)"), into: &partial)
                }
            } else if let sink {
                try sink.append(current ?? fields.record(from: slots))
            } else {
                guard partial.collected.count < limits.maxHeldRecords else {
                    throw OffloadError.overBudget(
                        "heldRecords", limit: limits.maxHeldRecords,
                        "the \(steps[streaming.count].name) step holds more records than the job may")
                }
                partial.collected.append(current ?? fields.record(from: slots))
            }
        }
        partial.grouper = grouper
        return partial
    }

    /// Applies the steps after the streamed ones to a partial's output.
    func finish(_ partial: Partial, input: String, cancelled: () -> Bool) throws(OffloadError) -> Outcome {
        var outcome: Outcome
        if let sink = partial.sink {
            outcome = Outcome(records: sink.records, read: partial.read, dropped: partial.dropped, failed: partial.failed)
            outcome.file = try sink.finish()
            outcome.count = sink.count
        } else {
            var rows = partial.grouper?.results() ?? partial.collected
            let rest = steps.dropFirst(streaming.count + (partial.grouper != nil ? 1 : 0))
            for step in rest {
                if cancelled() { throw OffloadError(.cancelled, "stopped at the host's request") }
                rows = try apply(step, to: rows, cancelled: cancelled)
            }
            outcome = Outcome(records: rows, read: partial.read, dropped: partial.dropped, failed: partial.failed)
            outcome.count = rows.count
        }
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

    /// A step over records already in memory; `cancelled` is asked as it goes (a sort of a
    /// million records takes longer than a stop request may wait).
    func apply(_ step: Step, to rows: [JSONValue], cancelled: () -> Bool = { false }) throws(OffloadError) -> [JSONValue] {
        let stopped = OffloadError(.cancelled, "stopped at the host's request")
        var checks = 0
        func due() -> Bool {
            checks &+= 1
            return checks & 0xFFF == 0 && cancelled()
        }
        switch step {
        case .filter(let predicate):
            var kept: [JSONValue] = []
            for row in rows {
                if due() { throw stopped }
                if predicate.matches(row, stop: cancelled) { kept.append(row) }
            }
            return kept
        case .select(let paths):
            return rows.map { Self.project($0, paths) }
        case .transform(let transforms):
            var made: [JSONValue] = []
            made.reserveCapacity(rows.count)
            for row in rows {
                if due() { throw stopped }
                var record = row
                for transform in transforms { transform.apply(to: &record, stop: cancelled) }
                made.append(record)
            }
            return made
        case .limit(let n):
            return Array(rows.prefix(n))
        case .sort(let keys):
            do {
                let ordered = try Array(rows.enumerated()).sorted {
                    (a: (offset: Int, element: JSONValue), b: (offset: Int, element: JSONValue)) throws -> Bool in
                    if due() { throw stopped }
                    for key in keys {
                        let order = Self.compareForSort(key.field.value(in: a.element), key.field.value(in: b.element), descending: key.descending)
                        if order != 0 { return order < 0 }
                    }
                    return a.offset < b.offset
                }
                return ordered.map(\.element)
            } catch let error as OffloadError {
                throw error
            } catch {
                throw stopped
            }
        case .group(let by, let aggregates):
            return try group(rows, by: by, aggregates: aggregates, cancelled: cancelled)
        case .aggregate(let aggregates):
            return try group(rows, by: [], aggregates: aggregates, cancelled: cancelled)
        }
    }

    private func group(_ rows: [JSONValue], by: [FieldPath], aggregates: [AggregateSpec], cancelled: () -> Bool) throws(OffloadError) -> [JSONValue] {
        var grouper = Grouper(by: by, aggregates: aggregates, budget: GroupBudget(limits: limits))
        for (index, row) in rows.enumerated() {
            if index & 0xFFF == 0 && cancelled() { throw OffloadError(.cancelled, "stopped at the host's request") }
            do { try grouper.add(row) } catch {
                if let overBudget = error.overBudget { throw overBudget }
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
            if let value = path.value(in: record) { path.set(value, in: &result) }
        }
        return result
    }
}

/// Groups records by the values at some paths (in order of first appearance) and keeps one
/// accumulator per aggregate per group.
package struct Grouper {
    let by: [FieldPath]
    let aggregates: [AggregateSpec]
    private var index = GroupIndex()
    private var keys: [[JSONValue]] = []
    /// One row of `aggregates.count` accumulators per group.
    private var accumulators: [Accumulator] = []
    /// The key of the record being added (kept to reuse its storage).
    private var keyBuffer: [JSONValue] = []
    private var budget: GroupBudget

    /// Where a record's fields are when they come as slots (see ``FieldScanner``).
    package struct Slots {
        let keys: [Int]
        let fields: [Int?]
    }

    package init(by: [FieldPath], aggregates: [AggregateSpec], budget: GroupBudget) {
        self.by = by
        self.aggregates = aggregates
        self.budget = budget
        if by.isEmpty {
            keys = [[]]
            accumulators = aggregates.map(Accumulator.init)
        }
    }

    /// The slots of the fields this grouper reads, `nil` when `scanner` lacks one.
    package func slots(in scanner: FieldScanner) -> Slots? {
        slots { scanner.slot(of: $0) }
    }

    /// The slots of the fields this grouper reads, `nil` when `slot` has none for one.
    package func slots(_ slot: (FieldPath) -> Int?) -> Slots? {
        var keySlots: [Int] = []
        for path in by {
            guard let slot = slot(path) else { return nil }
            keySlots.append(slot)
        }
        var fieldSlots: [Int?] = []
        for spec in aggregates {
            guard let path = spec.field else {
                fieldSlots.append(nil)
                continue
            }
            guard let slot = slot(path) else { return nil }
            fieldSlots.append(slot)
        }
        return Slots(keys: keySlots, fields: fieldSlots)
    }

    package mutating func add(_ record: JSONValue) throws(AggregateError) {
        let (by, aggregates) = (self.by, self.aggregates)
        try add(key: { by[$0].value(in: record) }, field: { aggregates[$0].field?.value(in: record) })
    }

    /// Adds a record given as the values of a scanner's fields.
    package mutating func add(_ values: [JSONValue?], at slots: Slots) throws(AggregateError) {
        try add(key: { values[slots.keys[$0]] }, field: { slots.fields[$0].flatMap { values[$0] } })
    }

    /// - Parameters:
    ///   - key: the record's value at `by[i]`.
    ///   - field: the record's value at the field of `aggregates[i]`.
    private mutating func add(key value: (Int) -> JSONValue?, field: (Int) -> JSONValue?) throws(AggregateError) {
        keyBuffer.removeAll(keepingCapacity: true)
        for position in by.indices { keyBuffer.append(value(position) ?? .null) }
        let slot: Int
        if by.isEmpty {
            slot = 0
        } else {
            let found = index.find(keyBuffer, in: keys)
            if let existing = found.group {
                slot = existing
            } else {
                slot = keys.count
                try budget.addGroup(number: keys.count + 1, bytes: Self.groupBytes(keyBuffer, width: aggregates.count))
                index.append(hash: found.hash)
                keys.append(keyBuffer)
                accumulators += aggregates.map(Accumulator.init)
            }
        }
        let width = aggregates.count
        // Through a pointer: an accumulator is never copied (a copy retains all it holds).
        try accumulators.withUnsafeMutableBufferPointer { all throws(AggregateError) in
            let row = all.baseAddress! + slot * width
            // Every aggregate checks the record before any takes it, so a bad record changes nothing.
            for position in 0..<width { try row[position].check(field(position)) }
            var held = 0
            for position in 0..<width { held += row[position].add(field(position)) }
            if held > 0 { try budget.add(held) }
        }
    }

    /// What a new group takes: its key and one accumulator per aggregate.
    private static func groupBytes(_ key: [JSONValue], width: Int) -> Int {
        var bytes = 48 + width * MemoryLayout<Accumulator>.stride
        for value in key { bytes += GroupBudget.bytes(of: value) }
        return bytes
    }

    /// Takes in the groups of a later part of the input, keeping the order of first appearance.
    /// - Throws: the budget's error when the groups together go over it.
    package mutating func merge(_ other: Grouper) throws(AggregateError) {
        let width = aggregates.count
        for (slot, key) in other.keys.enumerated() {
            let found = by.isEmpty ? (group: 0, hash: 0) : index.find(key, in: keys)
            // The other part's keys and values were counted as it held them; merged, they move
            // or are let go, so only the number of groups is checked again.
            if let existing = found.group {
                for position in 0..<width {
                    accumulators[existing * width + position].merge(other.accumulators[slot * width + position])
                }
            } else {
                try budget.addMovedGroup(number: keys.count + 1)
                index.append(hash: found.hash)
                keys.append(key)
                accumulators += other.accumulators[(slot * width)..<((slot + 1) * width)]
            }
        }
    }

    package func results() -> [JSONValue] {
        keys.indices.map { slot in
            var row = JSONValue.object([])
            for (path, value) in zip(by, keys[slot]) { path.set(value, in: &row) }
            guard case .object(var members) = row else { return row }
            for (position, spec) in aggregates.enumerated() {
                members.append((spec.name, accumulators[slot * aggregates.count + position].result()))
            }
            return .object(members)
        }
    }
}
