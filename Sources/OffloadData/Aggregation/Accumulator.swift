package import Offload

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
    private var distinct = DistinctValues()
    private var firstValue: JSONValue?
    private var lastValue: JSONValue?

    init(_ spec: AggregateSpec) { self.spec = spec }

    /// Checks that a record's value at the aggregate's field can take part (a number for a sum;
    /// one kind for min and max). `mutating` though it changes nothing: so it runs in place,
    /// where a call on a copy would retain everything the accumulator holds.
    mutating func check(_ value: JSONValue?) throws(AggregateError) {
        guard let path = spec.field, let value, value != .null else { return }
        switch spec.function {
        case .sum, .avg, .median, .percentile, .stddev, .variance:
            guard value.doubleValue != nil else {
                throw AggregateError("field '\(path)' is \(value.typeDescription); \(spec.function.rawValue) needs numbers")
            }
        case .min, .max:
            if let current = extreme, ValueOrder.compare(value, current) == nil {
                throw AggregateError(
                    "field '\(path)' mixes \(value.typeDescription) and \(current.typeDescription); \(spec.function.rawValue) needs one kind")
            }
        case .count, .unique, .first, .last:
            break
        }
    }

    /// Adds a record's value at the aggregate's field (after ``check(_:)``); without a field,
    /// counts the record. Returns the bytes the accumulator now holds for it (a median keeps
    /// every number, `unique` every distinct value; the others hold nothing more).
    @discardableResult
    mutating func add(_ value: JSONValue?) -> Int {
        guard spec.field != nil else {
            count += 1
            return 0
        }
        guard let value, value != .null else { return 0 }
        switch spec.function {
        case .count:
            count += 1
        case .sum, .avg, .median, .percentile, .stddev, .variance:
            guard let number = value.doubleValue else { return 0 }
            count += 1
            let total = sum + number
            compensation += abs(sum) >= abs(number) ? (sum - total) + number : (number - total) + sum
            sum = total
            let delta = number - mean
            mean += delta / Double(count)
            squares += delta * (number - mean)
            if spec.function == .median || spec.function == .percentile {
                values.append(number)
                return 8
            }
        case .min, .max:
            guard let current = extreme, let order = ValueOrder.compare(value, current) else {
                if extreme == nil { extreme = value }
                return 0
            }
            if (spec.function == .min && order < 0) || (spec.function == .max && order > 0) { extreme = value }
        case .unique:
            return distinct.insert(value)
        case .first:
            if firstValue == nil { firstValue = value }
        case .last:
            lastValue = value
        }
        return 0
    }

    /// Takes in an accumulator of the same aggregate over records that came after this one's
    /// (a later part of a file read in parallel).
    mutating func merge(_ other: Accumulator) {
        guard other.count > 0 || other.extreme != nil || !other.distinct.isEmpty || other.firstValue != nil || other.lastValue != nil else { return }
        if count == 0 {
            (mean, squares) = (other.mean, other.squares)
        } else if other.count > 0 {
            // Chan et al.: the variance of two parts from their means and sums of squares.
            let total = Double(count + other.count)
            let delta = other.mean - mean
            squares += other.squares + delta * delta * Double(count) * Double(other.count) / total
            mean += delta * Double(other.count) / total
        }
        count += other.count
        for part in [other.sum, other.compensation] {
            let total = sum + part
            compensation += abs(sum) >= abs(part) ? (sum - total) + part : (part - total) + sum
            sum = total
        }
        values += other.values
        if let value = other.extreme {
            if let current = extreme, let order = ValueOrder.compare(value, current) {
                if (spec.function == .min && order < 0) || (spec.function == .max && order > 0) { extreme = value }
            } else if extreme == nil {
                extreme = value
            }
        }
        distinct.formUnion(other.distinct)
        if firstValue == nil { firstValue = other.firstValue }
        if let last = other.lastValue { lastValue = last }
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

    /// Linear interpolation between the closest ranks (numpy's and pandas' default). The two
    /// ranks are found by selection, in linear time, not by sorting.
    private static func quantile(_ values: [Double], _ q: Double) -> JSONValue {
        guard !values.isEmpty else { return .null }
        var work = values
        let position = q * Double(work.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, work.count - 1)
        let fraction = position - Double(lower)
        let low = select(lower, in: &work)
        // After selecting rank `lower`, everything above it is at larger indices: rank `lower + 1` is their least.
        let high = upper == lower ? low : work[(lower + 1)...].min()!
        return .double(low + (high - low) * fraction)
    }

    /// The value of rank `k` (0-based) of `values`, which it partially orders (Hoare's
    /// quickselect with a random pivot, so that no order of input makes it quadratic; what is
    /// left of `k` ends no larger, what is right of it no smaller).
    static func select(_ k: Int, in values: inout [Double]) -> Double {
        var (low, high) = (0, values.count - 1)
        while low < high {
            let pivot = values[Int.random(in: low...high)]
            var (i, j) = (low, high)
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { high = j } else if k >= i { low = i } else { break }
        }
        return values[k]
    }
}

/// A record an aggregate cannot take (the record is at fault), or a budget the step went over
/// (the job is: it fails whatever `onBadRecord` says).
package struct AggregateError: Error {
    package let message: String
    /// The budget gone over, when that is the error.
    package let overBudget: OffloadError?

    init(_ message: String) {
        self.message = message
        overBudget = nil
    }

    init(overBudget: OffloadError) {
        message = overBudget.message
        self.overBudget = overBudget
    }
}
