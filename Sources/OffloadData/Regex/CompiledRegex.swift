public import Offload
import Synchronization

/// A regular expression compiled once (see ``RegexNode`` for its syntax), matched in time linear
/// in the text: no pattern can make a job run away.
public final class CompiledRegex: Sendable {
    let program: RegexProgram
    public let pattern: String
    /// A VM kept for the next match on whichever thread comes (taken out while in use).
    private let spare: Mutex<PikeVM?>

    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field` and the position, for a
    ///   pattern that does not parse, uses what is not supported, or is too large.
    public init(_ pattern: String, field: String) throws(OffloadError) {
        program = try RegexProgram(pattern, field: field)
        self.pattern = pattern
        spare = Mutex(PikeVM(program))
    }

    /// Runs `body` with a VM of its own.
    private func withVM<T>(_ body: (inout PikeVM) -> T) -> T {
        var vm = spare.withLock { $0.take() } ?? PikeVM(program)
        defer { spare.withLock { $0 = vm } }
        return body(&vm)
    }

    /// Whether the pattern matches somewhere in `text`. `stop` is asked now and then; once it
    /// says yes, matching ends (with `false`).
    func matches(_ text: String, stop: () -> Bool = { false }) -> Bool {
        let scalars = text.unicodeScalars.map(\.value)
        return withVM { $0.firstMatch(in: scalars, from: 0, stop: stop) != nil }
    }

    /// Every match replaced by `template`, where `$0`…`$9` are the match and its groups and `$$` a
    /// dollar. An empty match moves on by one scalar. `stop` as for ``matches(_:stop:)``: once it
    /// says yes the text is returned as it was.
    func replacing(in text: String, with template: String, stop: () -> Bool = { false }) -> String {
        let scalars = text.unicodeScalars.map(\.value)
        let template = Array(template.unicodeScalars)
        var result = String.UnicodeScalarView()
        func append(_ range: Range<Int>) {
            for index in range { result.append(Unicode.Scalar(scalars[index])!) }
        }
        let finished: Bool = withVM { vm in
            var position = 0
            var copied = 0
            /// Where the last non-empty match ended: an empty match there is not another one (as in JavaScript).
            var lastEnd = -1
            while position <= scalars.count, let slots = vm.firstMatch(in: scalars, from: position, stop: stop) {
                let (start, end) = (slots[0], slots[1])
                if start == end && start == lastEnd {
                    position = start + 1
                    continue
                }
                append(copied..<start)
                var index = 0
                while index < template.count {
                    let scalar = template[index]
                    index += 1
                    guard scalar == "$", index < template.count else {
                        result.append(scalar)
                        continue
                    }
                    let next = template[index]
                    if next == "$" {
                        result.append("$")
                        index += 1
                    } else if next.isASCII, next.value >= 0x30, next.value <= 0x39 {
                        let group = Int(next.value - 0x30)
                        index += 1
                        if group < program.groups, slots[group * 2] >= 0 { append(slots[group * 2]..<slots[group * 2 + 1]) }
                    } else {
                        result.append(scalar)
                    }
                }
                copied = end
                if end == start {
                    // An empty match: keep the next scalar and look again after it.
                    if end < scalars.count { append(end..<(end + 1)) }
                    copied = end + 1
                    position = end + 1
                } else {
                    position = end
                    lastEnd = end
                }
                if stop() { return false }
            }
            if copied < scalars.count { append(copied..<scalars.count) }
            return !stop()
        }
        return finished ? String(result) : text
    }
}
