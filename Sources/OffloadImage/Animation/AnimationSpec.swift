import Offload

/// One animation of the card's content (title, description and logo) over its backdrop, with
/// CSS animation semantics: `{"type":"slideIn","from":"left","durationMs":800,"delayMs":0,
/// "easing":"easeOut","iterationCount":1,"direction":"normal","fillMode":"both"}`.
/// Types: `fadeIn`, `slideIn` (`from` left/right/up/down, `distance` px), `scaleIn`
/// (`fromScale`), `rotateIn` (`fromAngle` degrees). `iterationCount` is a number or `"infinite"`.
public struct AnimationSpec: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case fadeIn
        case slideIn(dx: Double, dy: Double)
        case scaleIn(from: Double)
        case rotateIn(degrees: Double)
    }

    public enum Direction: String, Sendable, Hashable, Codable {
        case normal, reverse, alternate, alternateReverse
    }

    public enum FillMode: String, Sendable, Hashable, Codable {
        case none, forwards, backwards, both
    }

    public var kind: Kind
    public var duration: Double
    public var delay: Double
    public var easing: Easing
    /// `nil`: infinite.
    public var iterations: Double?
    public var direction: Direction
    public var fillMode: FillMode

    struct Raw: Decodable {
        var type: String
        var from: String?
        var distance: Double?
        var fromScale: Double?
        var fromAngle: Double?
        var durationMs: Double?
        var delayMs: Double?
        var easing: JSONValue?
        var iterationCount: JSONValue?
        var direction: Direction?
        var fillMode: FillMode?
    }

    init(_ json: JSONValue, field: String, cardWidth: Int, cardHeight: Int) throws(OffloadError) {
        let raw = try JSONValueDecoder().decode(Raw.self, from: json, root: field)
        func check(_ value: Double, _ range: ClosedRange<Double>, _ name: String) throws(OffloadError) -> Double {
            guard value.isFinite, range.contains(value) else {
                throw OffloadError(.invalidPayload, "\(field).\(name) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
            }
            return value
        }
        switch raw.type {
        case "fadeIn":
            kind = .fadeIn
        case "slideIn":
            let from = raw.from ?? "left"
            let distance = try check(raw.distance ?? Double(from == "up" || from == "down" ? cardHeight : cardWidth) * 0.3, 0...10_000, "distance")
            kind =
                switch from {
                case "left": .slideIn(dx: -distance, dy: 0)
                case "right": .slideIn(dx: distance, dy: 0)
                case "up": .slideIn(dx: 0, dy: -distance)
                case "down": .slideIn(dx: 0, dy: distance)
                default: throw OffloadError(.invalidPayload, "\(field).from '\(from)' is not one of left, right, up, down")
                }
        case "scaleIn":
            kind = .scaleIn(from: try check(raw.fromScale ?? 0.6, 0...10, "fromScale"))
        case "rotateIn":
            kind = .rotateIn(degrees: try check(raw.fromAngle ?? -15, -3600...3600, "fromAngle"))
        default:
            throw OffloadError(.invalidPayload, "\(field).type '\(raw.type)' is not one of fadeIn, slideIn, scaleIn, rotateIn")
        }
        duration = try check(raw.durationMs ?? 800, 1...60_000, "durationMs") / 1000
        delay = try check(raw.delayMs ?? 0, 0...60_000, "delayMs") / 1000
        easing = try Easing(raw.easing, field: "\(field).easing")
        switch raw.iterationCount {
        case nil: iterations = 1
        case .string("infinite")?: iterations = nil
        case let value?:
            guard let count = value.doubleValue else {
                throw OffloadError(.invalidPayload, "\(field).iterationCount must be a number or \"infinite\"")
            }
            iterations = try check(count, 0.1...1000, "iterationCount")
        }
        direction = raw.direction ?? .normal
        fillMode = raw.fillMode ?? .both
    }

    /// How long one run of the animation lasts (an infinite one counts one iteration).
    var activeDuration: Double { delay + duration * (iterations ?? 1) }

    /// The eased progress at `time` seconds, or `nil` when the animation has no effect then.
    func progress(at time: Double) -> Double? {
        let local = time - delay
        let total = duration * (iterations ?? .infinity)
        var iteration: Double
        var fraction: Double
        if local < 0 {
            guard fillMode == .backwards || fillMode == .both else { return nil }
            (iteration, fraction) = (0, 0)
        } else if local >= total {
            guard fillMode == .forwards || fillMode == .both else { return nil }
            let count = iterations ?? 1
            iteration = count.rounded(.up) - 1
            fraction = count.truncatingRemainder(dividingBy: 1)
            if fraction == 0 { fraction = 1 }
        } else {
            iteration = (local / duration).rounded(.down)
            fraction = (local - iteration * duration) / duration
        }
        let odd = Int(iteration) % 2 == 1
        let reversed =
            switch direction {
            case .normal: false
            case .reverse: true
            case .alternate: odd
            case .alternateReverse: !odd
            }
        return easing.value(reversed ? 1 - fraction : fraction)
    }
}

/// A CSS timing function.
public struct Easing: Sendable, Hashable {
    let x1: Double, y1: Double, x2: Double, y2: Double

    init(_ json: JSONValue?, field: String) throws(OffloadError) {
        switch json {
        case nil, .string("linear")?: (x1, y1, x2, y2) = (0, 0, 1, 1)
        case .string("ease")?: (x1, y1, x2, y2) = (0.25, 0.1, 0.25, 1)
        case .string("easeIn")?: (x1, y1, x2, y2) = (0.42, 0, 1, 1)
        case .string("easeOut")?: (x1, y1, x2, y2) = (0, 0, 0.58, 1)
        case .string("easeInOut")?: (x1, y1, x2, y2) = (0.42, 0, 0.58, 1)
        case .object(let members)? where members.count == 1 && members[0].key == "cubicBezier":
            guard case .array(let points) = members[0].value, points.count == 4,
                let values = Optional(points.compactMap(\.doubleValue)), values.count == 4,
                values.allSatisfy(\.isFinite), (0...1).contains(values[0]), (0...1).contains(values[2])
            else {
                throw OffloadError(.invalidPayload, "\(field).cubicBezier must be four numbers [x1, y1, x2, y2] with x1 and x2 in 0…1")
            }
            (x1, y1, x2, y2) = (values[0], values[1], values[2], values[3])
        default:
            throw OffloadError(.invalidPayload, "\(field) must be linear, ease, easeIn, easeOut, easeInOut or {\"cubicBezier\":[x1,y1,x2,y2]}")
        }
    }

    /// y for x on the curve (x solved by bisection).
    func value(_ x: Double) -> Double {
        if x1 == y1 && x2 == y2 { return x }
        func bezier(_ t: Double, _ a: Double, _ b: Double) -> Double {
            3 * (1 - t) * (1 - t) * t * a + 3 * (1 - t) * t * t * b + t * t * t
        }
        var (low, high) = (0.0, 1.0)
        for _ in 0..<40 {
            let middle = (low + high) / 2
            if bezier(middle, x1, x2) < x { low = middle } else { high = middle }
        }
        return bezier((low + high) / 2, y1, y2)
    }
}
