import Offload

/// A regular expression compiled to instructions for ``PikeVM``: Thompson's construction, with
/// `split` ordered so that the first branch is preferred (the leftmost-first matches of Perl,
/// JavaScript and Swift's own `Regex`).
struct RegexProgram {
    enum Instruction {
        case scalar(UInt32)
        /// A scalar in `sets[index]`.
        case set(Int)
        /// Any scalar but `\n`.
        case anyButNewline
        case any
        /// Try `first`, then `second`.
        case split(first: Int, second: Int)
        case jump(Int)
        /// Record the position in capture slot `slot` (group `slot / 2`, start or end).
        case save(slot: Int)
        case assert(RegexAssertion)
        case match
    }

    /// The most instructions a pattern may compile to (`{n,m}` copies what it repeats).
    static let maxInstructions = 20_000

    private(set) var instructions: [Instruction] = []
    private(set) var sets: [ScalarSet] = []
    /// Capture groups, the whole match (group 0) included.
    let groups: Int
    /// Whether every match must start at the start of the text (the pattern begins with `^` or `\A`).
    private(set) var anchoredAtStart = false
    private let field: String

    /// Compiles `pattern`; an error names `field`.
    init(_ pattern: String, field: String) throws(OffloadError) {
        var parser = try RegexParser(pattern, field: field)
        let node = try parser.parse()
        groups = parser.captures + 1
        self.field = field
        try emit(.save(slot: 0))
        try compile(node)
        try emit(.save(slot: 1))
        try emit(.match)
        anchoredAtStart = Self.startsAnchored(node)
    }

    private static func startsAnchored(_ node: RegexNode) -> Bool {
        switch node {
        case .assertion(.textStart): true
        case .concatenation(let items): items.first.map(startsAnchored) ?? false
        case .group(let inner, _): startsAnchored(inner)
        case .alternation(let branches): branches.allSatisfy(startsAnchored)
        default: false
        }
    }

    private mutating func emit(_ instruction: Instruction) throws(OffloadError) {
        guard instructions.count < Self.maxInstructions else {
            throw OffloadError(
                .invalidPayload,
                "\(field): the regular expression is too large once its repeats are spelled out (over \(OffloadError.grouped(Self.maxInstructions)) steps); use smaller counts"
            )
        }
        instructions.append(instruction)
    }

    private mutating func patch(_ at: Int, _ instruction: Instruction) { instructions[at] = instruction }

    private var next: Int { instructions.count }

    private mutating func compile(_ node: RegexNode) throws(OffloadError) {
        switch node {
        case .empty:
            break
        case .literal(let scalar):
            try emit(.scalar(scalar.value))
        case .any(let dotAll):
            try emit(dotAll ? .any : .anyButNewline)
        case .set(let set):
            sets.append(set)
            try emit(.set(sets.count - 1))
        case .assertion(let assertion):
            try emit(.assert(assertion))
        case .group(let inner, let capture):
            if let capture { try emit(.save(slot: capture * 2)) }
            try compile(inner)
            if let capture { try emit(.save(slot: capture * 2 + 1)) }
        case .concatenation(let items):
            for item in items { try compile(item) }
        case .alternation(let branches):
            // split L1, next; L1: a; jump end; next: split L2, … ; last branch
            var jumps: [Int] = []
            for (position, branch) in branches.enumerated() {
                if position < branches.count - 1 {
                    let split = next
                    try emit(.split(first: split + 1, second: 0))
                    try compile(branch)
                    jumps.append(next)
                    try emit(.jump(0))
                    patch(split, .split(first: split + 1, second: next))
                } else {
                    try compile(branch)
                }
            }
            for jump in jumps { patch(jump, .jump(next)) }
        case .repetition(let inner, let low, let high, let greedy):
            for _ in 0..<low { try compile(inner) }
            if let high {
                // Each optional copy may be skipped to the end.
                var skips: [Int] = []
                for _ in low..<high {
                    skips.append(next)
                    try emit(.split(first: 0, second: 0))
                    try compile(inner)
                }
                for skip in skips { patch(skip, greedy ? .split(first: skip + 1, second: next) : .split(first: next, second: skip + 1)) }
            } else {
                // loop: split body, end; body; jump loop
                let loop = next
                try emit(.split(first: 0, second: 0))
                try compile(inner)
                try emit(.jump(loop))
                patch(loop, greedy ? .split(first: loop + 1, second: next) : .split(first: next, second: loop + 1))
            }
        }
    }
}
