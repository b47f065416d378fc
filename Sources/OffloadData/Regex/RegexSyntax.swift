import Offload

/// A regular expression as read from its pattern, before it is compiled (see ``RegexProgram``).
///
/// The syntax is that of JavaScript, RE2 and Rust's `regex` without what needs backtracking:
/// literals and escapes (`\n \t \r \f \v \0 \xHH \uHHHH \u{H…}`, an escaped punctuation mark),
/// `.`, classes (`[a-z_]`, `[^…]`, `\d \D \w \W \s \S`, `\p{L}`-style general categories and
/// `[:alpha:]`-style names inside brackets), anchors (`^ $ \A \z \b \B`), groups (`( )`, `(?: )`,
/// `(?<name> )`), alternation, the quantifiers `* + ? {n} {n,} {n,m}` greedy or lazy (`?` after),
/// and the flags `i`, `m`, `s` (`(?i)` or `(?i: )`). Backreferences and lookaround are refused:
/// without them every match runs in time linear in the text.
indirect enum RegexNode {
    case empty
    case literal(Unicode.Scalar)
    /// Any scalar but `\n` (any at all with the `s` flag).
    case any(dotAll: Bool)
    case set(ScalarSet)
    case assertion(RegexAssertion)
    /// A group: `capture` is its number (1-based) when it captures.
    case group(RegexNode, capture: Int?)
    case concatenation([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool)
}

enum RegexAssertion: Equatable {
    /// `^` without `m`, `\A`.
    case textStart
    /// `$` without `m`, `\z`.
    case textEnd
    /// `^` with `m`.
    case lineStart
    /// `$` with `m`.
    case lineEnd
    case wordBoundary
    case notWordBoundary
}

/// A set of scalars: ranges and general categories, possibly negated, possibly case-insensitive.
struct ScalarSet {
    var ranges: [ClosedRange<UInt32>] = []
    /// General categories, each with whether it is negated (`\P{…}`).
    var categories: [(group: CategoryGroup, negated: Bool)] = []
    var negated = false
    var caseInsensitive = false

    enum CategoryGroup: String {
        case letter = "L", uppercase = "Lu", lowercase = "Ll", titlecase = "Lt", modifier = "Lm", otherLetter = "Lo"
        case number = "N", decimal = "Nd", letterNumber = "Nl", otherNumber = "No"
        case punctuation = "P", symbol = "S", separator = "Z", mark = "M", other = "C"

        func contains(_ category: Unicode.GeneralCategory) -> Bool {
            switch self {
            case .letter: [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter].contains(category)
            case .uppercase: category == .uppercaseLetter
            case .lowercase: category == .lowercaseLetter
            case .titlecase: category == .titlecaseLetter
            case .modifier: category == .modifierLetter
            case .otherLetter: category == .otherLetter
            case .number: [.decimalNumber, .letterNumber, .otherNumber].contains(category)
            case .decimal: category == .decimalNumber
            case .letterNumber: category == .letterNumber
            case .otherNumber: category == .otherNumber
            case .punctuation:
                [
                    .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                    .initialPunctuation, .finalPunctuation, .otherPunctuation
                ].contains(category)
            case .symbol: [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol].contains(category)
            case .separator: [.spaceSeparator, .lineSeparator, .paragraphSeparator].contains(category)
            case .mark: [.nonspacingMark, .spacingMark, .enclosingMark].contains(category)
            case .other: [.control, .format, .surrogate, .privateUse, .unassigned].contains(category)
            }
        }
    }

    static let digits: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    static let space: [ClosedRange<UInt32>] = [
        0x09...0x0D, 0x20...0x20, 0x85...0x85, 0xA0...0xA0, 0x1680...0x1680,
        0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F,
        0x3000...0x3000, 0xFEFF...0xFEFF
    ]

    /// The complement of ascending, non-overlapping `ranges` over all scalars.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = max(next, range.upperBound &+ 1)
        }
        if next <= 0x10FFFF { result.append(next...0x10FFFF) }
        return result
    }

    func contains(_ scalar: UInt32) -> Bool {
        var found = directlyContains(scalar)
        if !found && caseInsensitive, let value = Unicode.Scalar(scalar) {
            found = CaseFolding.variants(of: value).contains { directlyContains($0.value) }
        }
        return found != negated
    }

    private func directlyContains(_ scalar: UInt32) -> Bool {
        for range in ranges where range.contains(scalar) { return true }
        guard !categories.isEmpty, let value = Unicode.Scalar(scalar) else { return false }
        let category = value.properties.generalCategory
        for entry in categories where entry.group.contains(category) != entry.negated { return true }
        return false
    }
}

/// The other cases of a scalar (`k` → `K`, `K`), for case-insensitive matching.
enum CaseFolding {
    static func variants(of scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if scalar.isASCII {
            let value = scalar.value
            if value >= 0x41 && value <= 0x5A { return [Unicode.Scalar(value + 0x20)!] }
            if value >= 0x61 && value <= 0x7A { return [Unicode.Scalar(value - 0x20)!] }
            return []
        }
        var result: [Unicode.Scalar] = []
        for mapping in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping, scalar.properties.titlecaseMapping] {
            let scalars = mapping.unicodeScalars
            if scalars.count == 1, let only = scalars.first, only != scalar, !result.contains(only) { result.append(only) }
        }
        return result
    }
}

/// Reads a pattern into a ``RegexNode``; every error names the field and the position.
struct RegexParser {
    /// The longest pattern read, in bytes.
    static let maxLength = 4_096
    /// Groups within groups at most.
    static let maxNesting = 64
    /// The largest count in `{n,m}`.
    static let maxRepeat = 1_000

    private let scalars: [Unicode.Scalar]
    private let field: String
    private var index = 0
    private var nesting = 0
    private(set) var captures = 0
    private var caseInsensitive = false
    private var multiline = false
    private var dotAll = false

    init(_ pattern: String, field: String) throws(OffloadError) {
        guard pattern.utf8.count <= Self.maxLength else {
            throw OffloadError(
                .invalidPayload,
                "\(field): the regular expression is \(OffloadError.grouped(pattern.utf8.count)) bytes, over the limit of \(OffloadError.grouped(Self.maxLength))"
            )
        }
        scalars = Array(pattern.unicodeScalars)
        self.field = field
    }

    /// The whole pattern.
    mutating func parse() throws(OffloadError) -> RegexNode {
        let node = try parseAlternation()
        guard index == scalars.count else { throw error(scalars[index] == ")" ? "unmatched ')'" : "unexpected '\(scalars[index])'") }
        return node
    }

    private func error(_ message: String) -> OffloadError {
        OffloadError(.invalidPayload, "\(field): not a valid regular expression: \(message) at position \(index + 1)")
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func take(_ scalar: Unicode.Scalar) -> Bool {
        guard current == scalar else { return false }
        index += 1
        return true
    }

    private mutating func parseAlternation() throws(OffloadError) -> RegexNode {
        var branches = [try parseConcatenation()]
        while take("|") { branches.append(try parseConcatenation()) }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcatenation() throws(OffloadError) -> RegexNode {
        var items: [RegexNode] = []
        while let scalar = current, scalar != "|", scalar != ")" {
            let atom = try parseAtom()
            items.append(try parseQuantifiers(atom))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concatenation(items)
        }
    }

    private mutating func parseQuantifiers(_ atom: RegexNode) throws(OffloadError) -> RegexNode {
        var node = atom
        var quantified = false
        while let scalar = current {
            var bounds: (Int, Int?)?
            switch scalar {
            case "*": bounds = (0, nil)
            case "+": bounds = (1, nil)
            case "?": bounds = (0, 1)
            case "{": bounds = try parseCountedRepeat()
            default: break
            }
            guard let (low, high) = bounds else { break }
            if scalar != "{" { index += 1 }
            if quantified { throw error("a quantifier cannot follow another (put the first in a group)") }
            if case .assertion = node { throw error("an anchor cannot be repeated") }
            if case .empty = node { throw error("nothing to repeat") }
            let greedy = !take("?")
            if current == "+" { throw error("possessive quantifiers are not supported") }
            node = .repetition(node, min: low, max: high, greedy: greedy)
            quantified = true
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}` at the current position; `nil` when the brace is a literal one.
    private mutating func parseCountedRepeat() throws(OffloadError) -> (Int, Int?)? {
        let start = index
        index += 1
        func number() -> Int? {
            var value = 0
            var digits = 0
            while let scalar = current, let digit = scalar.properties.numericType == .decimal && scalar.isASCII ? Int(scalar.value - 0x30) : nil {
                value = min(value * 10 + digit, 1_000_000)
                digits += 1
                index += 1
            }
            return digits > 0 ? value : nil
        }
        guard let low = number() else {
            index = start
            return nil
        }
        var high: Int? = low
        if take(",") { high = number() }
        guard take("}") else {
            index = start
            return nil
        }
        guard low <= Self.maxRepeat, (high ?? 0) <= Self.maxRepeat else {
            index = start
            throw error("a repeat count is over \(Self.maxRepeat)")
        }
        if let high, high < low {
            index = start
            throw error("{\(low),\(high)} counts down")
        }
        return (low, high)
    }

    private mutating func parseAtom() throws(OffloadError) -> RegexNode {
        let scalar = scalars[index]
        index += 1
        switch scalar {
        case "(": return try parseGroup()
        case "[": return .set(try parseClass())
        case ".": return .any(dotAll: dotAll)
        case "^": return .assertion(multiline ? .lineStart : .textStart)
        case "$": return .assertion(multiline ? .lineEnd : .textEnd)
        case "\\": return try parseEscape(inClass: false).node(caseInsensitive: caseInsensitive)
        case "*", "+", "?":
            index -= 1
            throw error("nothing to repeat before '\(scalar)'")
        default: return literal(scalar)
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> RegexNode {
        guard caseInsensitive, !CaseFolding.variants(of: scalar).isEmpty else { return .literal(scalar) }
        var set = ScalarSet(ranges: [scalar.value...scalar.value])
        set.caseInsensitive = true
        return .set(set)
    }

    private mutating func parseGroup() throws(OffloadError) -> RegexNode {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else { throw error("groups nest deeper than \(Self.maxNesting) levels") }
        var capture: Int?
        // Flags set inside a group end with it.
        let saved = (caseInsensitive, multiline, dotAll)
        if take("?") {
            if take(":") {
                capture = nil
            } else if take("<") || (take("P") && take("<")) {
                if current == "=" || current == "!" { throw error("lookbehind is not supported") }
                while let scalar = current, scalar != ">" {
                    guard scalar.properties.isAlphabetic || scalar == "_" || (scalar.isASCII && scalar.properties.numericType == .decimal) else {
                        throw error("a group name has letters, digits and '_' only")
                    }
                    index += 1
                }
                guard take(">") else { throw error("a group name needs its closing '>'") }
                captures += 1
                capture = captures
            } else if current == "=" || current == "!" {
                throw error("lookahead is not supported")
            } else if current == ">" {
                throw error("atomic groups are not supported")
            } else {
                // Flags: (?ims) for the rest of the enclosing group, (?ims-ims:…) for a group.
                var on = true
                var flags: [(Unicode.Scalar, Bool)] = []
                while let scalar = current, scalar != ")", scalar != ":" {
                    switch scalar {
                    case "-": on = false
                    case "i", "m", "s": flags.append((scalar, on))
                    default: throw error("unknown flag '\(scalar)' (use i, m or s)")
                    }
                    index += 1
                }
                func apply(_ parser: inout RegexParser) {
                    for (flag, value) in flags {
                        switch flag {
                        case "i": parser.caseInsensitive = value
                        case "m": parser.multiline = value
                        default: parser.dotAll = value
                        }
                    }
                }
                if take(")") {
                    // Flags for the rest of the enclosing group (which restores its own when it ends).
                    apply(&self)
                    return .empty
                }
                guard take(":") else { throw error("flags need ')' or ':'") }
                apply(&self)
            }
        } else {
            captures += 1
            capture = captures
        }
        let inner = try parseAlternation()
        guard take(")") else { throw error("missing ')'") }
        (caseInsensitive, multiline, dotAll) = saved
        return .group(inner, capture: capture)
    }

    private mutating func parseClass() throws(OffloadError) -> ScalarSet {
        var set = ScalarSet()
        set.caseInsensitive = caseInsensitive
        if take("^") { set.negated = true }
        var first = true
        while true {
            guard let scalar = current else { throw error("missing ']'") }
            if scalar == "]" && !first {
                index += 1
                return set
            }
            first = false
            if scalar == "[" && index + 1 < scalars.count && scalars[index + 1] == ":" {
                try parsePosixClass(into: &set)
                continue
            }
            index += 1
            var low: UInt32
            if scalar == "\\" {
                switch try parseEscape(inClass: true) {
                case .scalar(let value): low = value.value
                case .set(let inner):
                    set.ranges += inner.negated ? ScalarSet.complement(inner.ranges) : inner.ranges
                    set.categories += inner.categories.map { ($0.group, $0.negated != inner.negated) }
                    continue
                case .assertion: throw error("an anchor cannot be in a class")
                }
            } else {
                low = scalar.value
            }
            if current == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                let next = scalars[index]
                index += 1
                var high = next.value
                if next == "\\" {
                    guard case .scalar(let value) = try parseEscape(inClass: true) else { throw error("a range ends with a class") }
                    high = value.value
                }
                guard low <= high else {
                    throw error(
                        "the range \(Unicode.Scalar(low).map(String.init) ?? "?")-\(Unicode.Scalar(high).map(String.init) ?? "?") is out of order")
                }
                set.ranges.append(low...high)
            } else {
                set.ranges.append(low...low)
            }
        }
    }

    private mutating func parsePosixClass(into set: inout ScalarSet) throws(OffloadError) {
        index += 2
        var name = ""
        while let scalar = current, scalar != ":" {
            name.unicodeScalars.append(scalar)
            index += 1
        }
        guard take(":"), take("]") else { throw error("a [:name:] class needs its closing ':]'") }
        switch name {
        case "alpha": set.ranges += [0x41...0x5A, 0x61...0x7A]
        case "digit": set.ranges += ScalarSet.digits
        case "alnum": set.ranges += [0x30...0x39, 0x41...0x5A, 0x61...0x7A]
        case "upper": set.ranges += [0x41...0x5A]
        case "lower": set.ranges += [0x61...0x7A]
        case "space": set.ranges += [0x09...0x0D, 0x20...0x20]
        case "xdigit": set.ranges += [0x30...0x39, 0x41...0x46, 0x61...0x66]
        case "punct": set.ranges += [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]
        case "word": set.ranges += ScalarSet.word
        default: throw error("unknown class [:\(OffloadError.quote(name, limit: 20)):]")
        }
    }

    private enum Escape {
        case scalar(Unicode.Scalar)
        case set(ScalarSet)
        case assertion(RegexAssertion)

        func node(caseInsensitive: Bool) -> RegexNode {
            switch self {
            case .scalar(let value):
                guard caseInsensitive, !CaseFolding.variants(of: value).isEmpty else { return .literal(value) }
                return .set(ScalarSet(ranges: [value.value...value.value], caseInsensitive: true))
            case .set(let set): return .set(set)
            case .assertion(let assertion): return .assertion(assertion)
            }
        }
    }

    private mutating func parseEscape(inClass: Bool) throws(OffloadError) -> Escape {
        guard let scalar = current else { throw error("a '\\' ends the pattern") }
        index += 1
        switch scalar {
        case "d": return .set(ScalarSet(ranges: ScalarSet.digits))
        case "D": return .set(ScalarSet(ranges: ScalarSet.digits, negated: true))
        case "w": return .set(ScalarSet(ranges: ScalarSet.word))
        case "W": return .set(ScalarSet(ranges: ScalarSet.word, negated: true))
        case "s": return .set(ScalarSet(ranges: ScalarSet.space))
        case "S": return .set(ScalarSet(ranges: ScalarSet.space, negated: true))
        case "p", "P":
            guard take("{") else { throw error("\\\(scalar) needs a category in braces, as \\p{L}") }
            var name = ""
            while let next = current, next != "}" {
                name.unicodeScalars.append(next)
                index += 1
            }
            guard take("}") else { throw error("\\\(scalar){ needs its closing '}'") }
            let trimmed = name.hasPrefix("gc=") ? String(name.dropFirst(3)) : name
            guard let group = ScalarSet.CategoryGroup(rawValue: trimmed) else {
                throw error("unknown category \(OffloadError.quote(name, limit: 20)) (use L, Lu, Ll, Lt, Lm, Lo, N, Nd, Nl, No, P, S, Z, M or C)")
            }
            return .set(ScalarSet(categories: [(group, scalar == "P")]))
        case "b": return inClass ? .scalar("\u{8}") : .assertion(.wordBoundary)
        case "B":
            guard !inClass else { throw error("\\B cannot be in a class") }
            return .assertion(.notWordBoundary)
        case "A":
            guard !inClass else { throw error("\\A cannot be in a class") }
            return .assertion(.textStart)
        case "z":
            guard !inClass else { throw error("\\z cannot be in a class") }
            return .assertion(.textEnd)
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "t": return .scalar("\t")
        case "f": return .scalar("\u{C}")
        case "v": return .scalar("\u{B}")
        case "0": return .scalar("\0")
        case "x": return .scalar(try hexScalar(digits: 2))
        case "u":
            if take("{") {
                var value: UInt32 = 0
                var digits = 0
                while let next = current, let digit = next.properties.isASCIIHexDigit ? UInt32(String(next), radix: 16) : nil {
                    value = value * 16 + digit
                    digits += 1
                    index += 1
                    guard digits <= 6 else { throw error("\\u{…} has too many digits") }
                }
                guard digits > 0, take("}"), let result = Unicode.Scalar(value) else { throw error("\\u{…} is not a Unicode scalar") }
                return .scalar(result)
            }
            return .scalar(try hexScalar(digits: 4))
        case "1"..."9":
            throw error("backreferences are not supported (matching with them can take exponential time)")
        default:
            guard !scalar.properties.isAlphabetic, !(scalar.isASCII && scalar.properties.numericType != nil) else {
                throw error("unknown escape '\\\(scalar)'")
            }
            return .scalar(scalar)
        }
    }

    private mutating func hexScalar(digits: Int) throws(OffloadError) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let next = current, next.properties.isASCIIHexDigit, let digit = UInt32(String(next), radix: 16) else {
                throw error("expected \(digits) hex digits")
            }
            value = value * 16 + digit
            index += 1
        }
        guard let scalar = Unicode.Scalar(value) else { throw error("\\u\(String(value, radix: 16)) is not a Unicode scalar") }
        return scalar
    }
}
