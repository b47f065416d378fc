/// Runs a ``RegexProgram`` over a text in one pass, all alternatives at once (Pike's VM, as RE2
/// and Rust's `regex` do): time linear in the text for a given pattern, whatever the pattern,
/// so `(a+)+$` on `aaaa…b` takes microseconds where a backtracking engine takes forever.
///
/// One VM is used by one thread at a time; it keeps its thread lists between matches.
struct PikeVM {
    private let program: RegexProgram
    private let slotCount: Int
    private var current: ThreadList
    private var upcoming: ThreadList
    private var stack: [Work] = []
    private var scratch: [Int]
    /// Steps taken since `stop` was last asked.
    private var steps = 0

    private enum Work {
        case explore(Int)
        case restore(slot: Int, value: Int)
    }

    /// The threads alive at one position, in priority order, each with its capture slots.
    private struct ThreadList {
        var pcs: [Int32] = []
        var slots: [Int] = []
        /// `mark[pc] == generation` when `pc` is on the list.
        var mark: [UInt32]
        var generation: UInt32 = 1

        init(size: Int) { mark = [UInt32](repeating: 0, count: size) }

        mutating func clear() {
            pcs.removeAll(keepingCapacity: true)
            slots.removeAll(keepingCapacity: true)
            generation &+= 1
            if generation == 0 {
                for index in mark.indices { mark[index] = 0 }
                generation = 1
            }
        }
    }

    init(_ program: RegexProgram) {
        self.program = program
        slotCount = program.groups * 2
        current = ThreadList(size: program.instructions.count)
        upcoming = ThreadList(size: program.instructions.count)
        scratch = [Int](repeating: -1, count: slotCount)
    }

    /// The first match at or after `start`: the capture slots (start and end of each group, -1
    /// for a group that took no part), or `nil`. `stop` is asked every few thousand steps; when
    /// it says yes the search ends with `nil` (the caller is being cancelled).
    mutating func firstMatch(in text: [UInt32], from start: Int, stop: () -> Bool) -> [Int]? {
        var matched: [Int]?
        // Locals for the loop (the lists are handed back at the end, to keep their storage).
        var current = self.current
        var upcoming = self.upcoming
        var scratch = self.scratch
        var stack = self.stack
        let slotCount = self.slotCount
        defer { (self.current, self.upcoming, self.scratch, self.stack) = (current, upcoming, scratch, stack) }
        current.clear()
        let instructions = program.instructions
        let sets = program.sets
        var position = start
        while true {
            // A new thread for a match starting here, behind every older one (leftmost first).
            if matched == nil && (!program.anchoredAtStart || position == 0) {
                for index in scratch.indices { scratch[index] = -1 }
                Self.add(to: &current, pc: 0, slots: &scratch, at: position, in: text, instructions: instructions, stack: &stack)
            }
            if current.pcs.isEmpty {
                if matched != nil || program.anchoredAtStart || position >= text.count { break }
                current.clear()
                position += 1
                continue
            }
            upcoming.clear()
            let scalar: UInt32? = position < text.count ? text[position] : nil
            var thread = 0
            while thread < current.pcs.count {
                let pc = Int(current.pcs[thread])
                let base = thread * slotCount
                thread += 1
                steps += 1
                if steps >= 4_096 {
                    steps = 0
                    if stop() { return nil }
                }
                let advances: Bool
                switch instructions[pc] {
                case .match:
                    matched = Array(current.slots[base..<(base + slotCount)])
                    // Threads after this one have lower priority: they are dropped.
                    thread = current.pcs.count
                    continue
                case .scalar(let expected): advances = scalar == expected
                case .set(let index): advances = scalar.map { sets[index].contains($0) } ?? false
                case .anyButNewline: advances = scalar != nil && scalar != 0x0A
                case .any: advances = scalar != nil
                case .split, .jump, .save, .assert: advances = false
                }
                guard advances else { continue }
                for index in 0..<slotCount { scratch[index] = current.slots[base + index] }
                Self.add(to: &upcoming, pc: pc + 1, slots: &scratch, at: position + 1, in: text, instructions: instructions, stack: &stack)
            }
            swap(&current, &upcoming)
            if position >= text.count { break }
            position += 1
            if matched != nil && current.pcs.isEmpty { break }
        }
        return matched
    }

    /// Adds the thread at `pc` and every thread its jumps, splits, saves and assertions lead to,
    /// in priority order, with an explicit stack (a long chain of splits must not recurse).
    private static func add(
        to list: inout ThreadList, pc start: Int, slots: inout [Int], at position: Int, in text: [UInt32],
        instructions: [RegexProgram.Instruction], stack: inout [Work]
    ) {
        stack.append(.explore(start))
        while let work = stack.popLast() {
            switch work {
            case .restore(let slot, let value):
                slots[slot] = value
            case .explore(let pc):
                guard list.mark[pc] != list.generation else { continue }
                list.mark[pc] = list.generation
                switch instructions[pc] {
                case .jump(let target):
                    stack.append(.explore(target))
                case .split(let first, let second):
                    stack.append(.explore(second))
                    stack.append(.explore(first))
                case .save(let slot):
                    stack.append(.restore(slot: slot, value: slots[slot]))
                    slots[slot] = position
                    stack.append(.explore(pc + 1))
                case .assert(let assertion):
                    if holds(assertion, at: position, in: text) { stack.append(.explore(pc + 1)) }
                case .scalar, .set, .anyButNewline, .any, .match:
                    list.pcs.append(Int32(pc))
                    list.slots.append(contentsOf: slots)
                }
            }
        }
    }

    private static func holds(_ assertion: RegexAssertion, at position: Int, in text: [UInt32]) -> Bool {
        switch assertion {
        case .textStart: return position == 0
        case .textEnd: return position == text.count
        case .lineStart: return position == 0 || text[position - 1] == 0x0A
        case .lineEnd: return position == text.count || text[position] == 0x0A
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && isWord(text[position - 1])
            let after = position < text.count && isWord(text[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }

    private static func isWord(_ scalar: UInt32) -> Bool {
        (scalar >= 0x30 && scalar <= 0x39) || (scalar >= 0x41 && scalar <= 0x5A) || scalar == 0x5F || (scalar >= 0x61 && scalar <= 0x7A)
    }
}
