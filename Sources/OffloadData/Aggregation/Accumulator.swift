public import Offload

/// The running state of one aggregate over one group. Sums are compensated (Neumaier), so that
/// adding a million amounts loses no digits a `Double` can hold; variance uses Welford's update.
struct Accumulator {
    private let spec: AggregateSpec
    private var count = 0
    private var sum = 0.0
    private var compensation = 0.0
    private var mean = 0.0
    private var squares = 0.0
    private var extreme: JSONValue?
    private var values: [Double] = []
    private var distinct: Set<JSONValue> = []
    private var firstValue: JSONValue?
    private var lastValue: JSONValue?

    init(_ spec: AggregateSpec) { self.spec = spec }

    /// Checks that the record's value can take part (a number for a sum; one kind for min and max).
    func check(_ record: JSONValue) throws(AggregateError) {
        guard let path = spec.field, let value = path.value(in: record), value != .null else { return }
        switch spec.function {
        case .sum, .avg, .median, .percentile, .stddev, .variance:
            guard value.doubleValue != nil else {
                throw AggregateError("field '\(path)' is \(value.typeDescription); \(spec.function.rawValue) needs numbers")
            }
        case .min, .max:
            if let current = extreme, ValueOrder.compare(value, current) == nil {
                throw AggregateError("field '\(path)' mixes \(value.typeDescription) and \(current.typeDescription); \(spec.function.rawValue) needs one kind")
            }
        case .count, .unique, .first, .last:
            break
        }
    }

    /// Adds one record's value (after ``check(_:)``).
    mutating func add(_ record: JSONValue) {
        guard let path = spec.field else {
            count += 1
            return
        }
        guard let value = path.value(in: record), value != .null else { return }
        switch spec.function {
        case .count:
            count += 1
        case .sum, .avg, .median, .percentile, .stddev, .variance:
            guard let number = value.doubleValue else { return }
            count += 1
            let total = sum + number
            compensation += abs(sum) >= abs(number) ? (sum - total) + number : (number - total) + sum
            sum = total
            let delta = number - mean
            mean += delta / Double(count)
            squares += delta * (number - mean)
            if spec.function == .median || spec.function == .percentile { values.append(number) }
        case .min, .max:
            guard let current = extreme, let order = ValueOrder.compare(value, current) else {
                if extreme == nil { extreme = value }
                return
            }
            if (spec.function == .min && order < 0) || (spec.function == .max && order > 0) { extreme = value }
        case .unique:
            distinct.insert(value)
        case .first:
            if firstValue == nil { firstValue = value }
        case .last:
            lastValue = value
        }
    }

    /// The aggregate's value.
    func result() -> JSONValue {
        switch spec.function {
        case .count: return .int(Int64(count))
        case .sum: return Self.number(count == 0 ? 0 : sum + compensation)
        case .avg: return count == 0 ? .null : .double((sum + compensation) / Double(count))
        case .min, .max: return extreme ?? .null
        case .median: return Self.quantile(values, 0.5)
        case .percentile: return Self.quantile(values, (spec.percentile ?? 50) / 100)
        case .variance: return count < 2 ? .null : .double(squares / Double(count - 1))
        case .stddev: return count < 2 ? .null : .double((squares / Double(count - 1)).squareRoot())
        case .unique: return .int(Int64(distinct.count))
        case .first: return firstValue ?? .null
        case .last: return lastValue ?? .null
        }
    }

    /// An integral sum stays an integer in the output.
    private static func number(_ value: Double) -> JSONValue {
        value.rounded() == value && abs(value) < 9e15 ? .int(Int64(value)) : .double(value)
    }

    /// Linear interpolation between the closest ranks (numpy's and pandas' default).
    private static func quantile(_ values: [Double], _ q: Double) -> JSONValue {
        guard !values.isEmpty else { return .null }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return .double(sorted[lower] + (sorted[upper] - sorted[lower]) * fraction)
    }
}

struct AggregateError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
