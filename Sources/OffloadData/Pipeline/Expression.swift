public import Offload

/// The `calculation` transform's language: numbers, booleans, field paths (`price`,
/// `user.age`), `+ - * / %`, parentheses, comparisons (`== != < <= > >=`), `&&`, `||`, `!`, and
/// the functions `round(x)` / `round(x, digits)`, `floor`, `ceil`, `abs`, `min`, `max` and
/// `if(condition, then, else)`. It only computes: nothing it reads can run code.
public indirect enum Expression: Sendable {
    case number(Double)
    case bool(Bool)
    case field(FieldPath)
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    case call(String, [Expression])

    /// The longest expression read, in bytes.
    public static let maxLength = 4_096
    /// The deepest an expression's tree may be (parentheses, operators and calls within each other).
    public static let maxDepth = 128

    /// Parses `text`; an error names `field` and the column. An expression longer than
    /// ``maxLength`` or deeper than ``maxDepth`` is refused, so that neither reading nor
    /// evaluating it can exhaust a thread's stack.
    public init(parsing text: String, field: String) throws(OffloadError) {
        guard text.utf8.count <= Self.maxLength else {
            throw OffloadError(
                .invalidPayload,
                "\(field): the expression is \(OffloadError.grouped(text.utf8.count)) bytes, over the limit of \(OffloadError.grouped(Self.maxLength))"
            )
        }
        var parser = Parser(bytes: Array(text.utf8), field: field)
        let expression = try parser.parseOr()
        parser.skipSpaces()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected '\(parser.current)'") }
        self = expression.expression
    }

    /// The fields the expression reads.
    var paths: [FieldPath] {
        switch self {
        case .number, .bool: []
        case .field(let path): [path]
        case .unary(_, let operand): operand.paths
        case .binary(_, let left, let right): left.paths + right.paths
        case .call(_, let arguments): arguments.flatMap(\.paths)
        }
    }

    /// The value for `record`: a number, a boolean, or null when a field is missing or not a
    /// number, or a division by zero.
    func evaluate(_ record: JSONValue) -> JSONValue {
        evaluate { $0.value(in: record) }
    }

    /// The value for the record whose value at a path `field` gives.
    func evaluate(_ field: (FieldPath) -> JSONValue?) -> JSONValue {
        switch self {
        case .number(let value): return .double(value)
        case .bool(let value): return .bool(value)
        case .field(let path):
            guard let value = field(path) else { return .null }
            if case .bool = value { return value }
            return value.doubleValue.map(JSONValue.double) ?? .null
        case .unary(let op, let operand):
            let value = operand.evaluate(field)
            if op == "!" { return Self.truth(value).map { .bool(!$0) } ?? .null }
            return value.doubleValue.map { .double(-$0) } ?? .null
        case .binary(let op, let left, let right):
            if op == "&&" || op == "||" {
                guard let a = Self.truth(left.evaluate(field)) else { return .null }
                if op == "&&" && !a { return .bool(false) }
                if op == "||" && a { return .bool(true) }
                return Self.truth(right.evaluate(field)).map(JSONValue.bool) ?? .null
            }
            let (a, b) = (left.evaluate(field), right.evaluate(field))
            if op == "==" || op == "!=" {
                guard a != .null, b != .null else { return .null }
                return .bool((a == b) == (op == "=="))
            }
            guard let x = a.doubleValue, let y = b.doubleValue else { return .null }
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/": return y == 0 ? .null : .double(x / y)
            case "%": return y == 0 ? .null : .double(x.truncatingRemainder(dividingBy: y))
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            default: return .bool(x >= y)
            }
        case .call(let name, let arguments):
            if name == "if" {
                guard let condition = Self.truth(arguments[0].evaluate(field)) else { return .null }
                return arguments[condition ? 1 : 2].evaluate(field)
            }
            let values = arguments.map { $0.evaluate(field).doubleValue }
            guard let numbers = Optional(values.compactMap { $0 }), numbers.count == values.count else { return .null }
            switch name {
            case "round":
                let scale = numbers.count > 1 ? pow10(Int(numbers[1])) : 1
                return .double((numbers[0] * scale).rounded(.toNearestOrAwayFromZero) / scale)
            case "floor": return .double(numbers[0].rounded(.down))
            case "ceil": return .double(numbers[0].rounded(.up))
            case "abs": return .double(abs(numbers[0]))
            case "min": return .double(numbers.min()!)
            default: return .double(numbers.max()!)
            }
        }
    }

    private func pow10(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<min(abs(exponent), 15) { value *= 10 }
        return exponent < 0 ? 1 / value : value
    }

    private static func truth(_ value: JSONValue) -> Bool? {
        switch value {
        case .bool(let flag): flag
        case .int, .double: value.doubleValue != 0
        default: nil
        }
    }

    /// An expression being read and the height of its tree.
    private struct Parsed {
        var expression: Expression
        var height: Int
    }

    private struct Parser {
        let bytes: [UInt8]
        let field: String
        var index = 0
        /// Calls of the parser within each other (parentheses, unary operators, function arguments).
        var nesting = 0

        init(bytes: [UInt8], field: String) {
            self.bytes = bytes
            self.field = field
        }

        var current: String {
            index < bytes.count ? String(UnicodeScalar(bytes[index])) : "end of the expression"
        }

        func error(_ message: String) -> OffloadError {
            OffloadError(.invalidPayload, "\(field): \(message) at column \(index + 1)")
        }

        mutating func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }

        mutating func take(_ token: String) -> Bool {
            skipSpaces()
            let utf8 = Array(token.utf8)
            guard index + utf8.count <= bytes.count, Array(bytes[index..<(index + utf8.count)]) == utf8 else { return false }
            // `<` must not eat the start of `<=`, nor `=` of `==`.
            if utf8.count == 1, index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "="),
                ["<", ">", "!", "="].contains(token)
            {
                return false
            }
            index += utf8.count
            return true
        }

        /// A node over `operands`, refused when the tree would grow deeper than ``Expression/maxDepth``.
        func node(_ expression: Expression, over operands: Parsed...) throws(OffloadError) -> Parsed {
            let height = (operands.map(\.height).max() ?? 0) + 1
            guard height <= Expression.maxDepth else {
                throw error("the expression nests deeper than \(Expression.maxDepth) levels")
            }
            return Parsed(expression: expression, height: height)
        }

        /// Enters a level of the parser's own recursion (parentheses, unary operators, arguments).
        mutating func descend() throws(OffloadError) {
            nesting += 1
            guard nesting <= Expression.maxDepth else { throw error("the expression nests deeper than \(Expression.maxDepth) levels") }
        }

        mutating func binary(_ op: String, _ left: Parsed, _ right: Parsed) throws(OffloadError) -> Parsed {
            try node(.binary(op, left.expression, right.expression), over: left, right)
        }

        mutating func parseOr() throws(OffloadError) -> Parsed {
            var left = try parseAnd()
            while take("||") { left = try binary("||", left, try parseAnd()) }
            return left
        }

        mutating func parseAnd() throws(OffloadError) -> Parsed {
            var left = try parseComparison()
            while take("&&") { left = try binary("&&", left, try parseComparison()) }
            return left
        }

        mutating func parseComparison() throws(OffloadError) -> Parsed {
            let left = try parseSum()
            for op in ["==", "!=", "<=", ">=", "<", ">"] where take(op) {
                return try binary(op, left, try parseSum())
            }
            return left
        }

        mutating func parseSum() throws(OffloadError) -> Parsed {
            var left = try parseProduct()
            while true {
                if take("+") {
                    left = try binary("+", left, try parseProduct())
                } else if take("-") {
                    left = try binary("-", left, try parseProduct())
                } else {
                    return left
                }
            }
        }

        mutating func parseProduct() throws(OffloadError) -> Parsed {
            var left = try parseUnary()
            while true {
                if take("*") {
                    left = try binary("*", left, try parseUnary())
                } else if take("/") {
                    left = try binary("/", left, try parseUnary())
                } else if take("%") {
                    left = try binary("%", left, try parseUnary())
                } else {
                    return left
                }
            }
        }

        mutating func parseUnary() throws(OffloadError) -> Parsed {
            for op in ["-", "!"] where take(op) {
                try descend()
                defer { nesting -= 1 }
                let operand = try parseUnary()
                return try node(.unary(op, operand.expression), over: operand)
            }
            return try parsePrimary()
        }

        mutating func parsePrimary() throws(OffloadError) -> Parsed {
            skipSpaces()
            guard index < bytes.count else { throw error("expected a value") }
            if take("(") {
                try descend()
                defer { nesting -= 1 }
                let inner = try parseOr()
                guard take(")") else { throw error("expected ')'") }
                return inner
            }
            let byte = bytes[index]
            if (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: ".") {
                let start = index
                while index < bytes.count, (bytes[index] >= 0x30 && bytes[index] <= 0x39) || bytes[index] == UInt8(ascii: ".") { index += 1 }
                let digits = String(decoding: bytes[start..<index], as: UTF8.self)
                guard let value = Double(digits), value.isFinite else {
                    index = start
                    throw error("\(OffloadError.quote(digits)) is not a number")
                }
                return Parsed(expression: .number(value), height: 1)
            }
            guard byte == UInt8(ascii: "_") || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) else {
                throw error("unexpected '\(current)'")
            }
            let start = index
            while index < bytes.count,
                bytes[index] == UInt8(ascii: "_") || bytes[index] == UInt8(ascii: ".")
                    || (bytes[index] | 0x20 >= 0x61 && bytes[index] | 0x20 <= 0x7A) || (bytes[index] >= 0x30 && bytes[index] <= 0x39)
            {
                index += 1
            }
            let name = String(decoding: bytes[start..<index], as: UTF8.self)
            if name == "true" || name == "false" { return Parsed(expression: .bool(name == "true"), height: 1) }
            if take("(") {
                let arity: ClosedRange<Int> =
                    switch name {
                    case "round": 1...2
                    case "floor", "ceil", "abs": 1...1
                    case "min", "max": 1...16
                    case "if": 3...3
                    default: throw error("unknown function \(OffloadError.quote(name)) (round, floor, ceil, abs, min, max, if)")
                    }
                try descend()
                defer { nesting -= 1 }
                var arguments: [Parsed] = []
                if !take(")") {
                    repeat {
                        arguments.append(try parseOr())
                        guard arguments.count <= arity.upperBound else {
                            throw error("\(name) takes at most \(arity.upperBound) arguments")
                        }
                    } while take(",")
                    guard take(")") else { throw error("expected ',' or ')'") }
                }
                guard arity.contains(arguments.count) else {
                    throw error(
                        "\(name) takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)") arguments, not \(arguments.count)"
                    )
                }
                let height = (arguments.map(\.height).max() ?? 0) + 1
                guard height <= Expression.maxDepth else { throw error("the expression nests deeper than \(Expression.maxDepth) levels") }
                return Parsed(expression: .call(name, arguments.map(\.expression)), height: height)
            }
            return Parsed(expression: .field(try FieldPath(name, field: field)), height: 1)
        }
    }
}
