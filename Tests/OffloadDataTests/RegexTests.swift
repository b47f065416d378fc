import Offload
import OffloadTestSupport
import Testing
@testable import OffloadData

/// The linear-time engine behind `regex` filters and `regexReplace`: held to Swift's own
/// (backtracking) `Regex` on what both accept, and to linear time where Swift's takes forever.
@Suite struct RegexTests {
    private func regex(_ pattern: String) throws -> CompiledRegex { try CompiledRegex(pattern, field: "f") }

    /// Where Swift's `Regex` finds its first match (scalar offsets), or `nil`.
    private static func swiftFirstMatch(_ pattern: String, _ text: String) throws -> [Int]? {
        // Scalars and simple word boundaries: JavaScript's, RE2's and this engine's semantics.
        let reference = try Regex(pattern).matchingSemantics(.unicodeScalar).wordBoundaryKind(.simple)
        guard let match = try reference.firstMatch(in: text) else { return nil }
        var slots: [Int] = []
        for index in 0..<match.output.count {
            if let range = match.output[index].range {
                slots += [
                    text.unicodeScalars.distance(from: text.startIndex, to: range.lowerBound),
                    text.unicodeScalars.distance(from: text.startIndex, to: range.upperBound)
                ]
            } else {
                slots += [-1, -1]
            }
        }
        return slots
    }

    static let cases: [(String, [String])] = [
        ("abc", ["abc", "xabcx", "ab", ""]),
        ("a|b|cd", ["cd", "xb", "zzz"]),
        ("^a.c$", ["abc", "a\nc", "abcd"]),
        ("(a+)(b*)", ["aaabbb", "b", "xaab"]),
        ("(a|ab)(c|bcd)(d*)", ["abcd", "abcdd"]),
        ("a*?b", ["aaab", "b"]),
        ("(?:a*)+b", ["b", "xaab"]),
        ("(?:ab)+", ["ababab", "aba"]),
        ("x{2,3}", ["x", "xx", "xxxx"]),
        ("[a-c]+[^a-c]", ["abcd", "abc"]),
        ("\\d+\\.\\d{2}", ["price 12.50 €", "1.5"]),
        ("\\bfoo\\b", ["a foo b", "foobar", "foo"]),
        ("\\w+@\\w+\\.com", ["mail me@host.com now"]),
        ("(?i)hello", ["HeLLo there", "help"]),
        ("^([A-Z])([A-Z])$", ["FR", "fr", "FRA"]),
        ("(\\d{3})-(\\d{4})", ["call 555-1234 now"]),
        ("é+", ["café", "ééé"]),
        ("[[:digit:]]+", ["ab12cd"]),
        ("(a)|b", ["b", "a"]),
        ("", ["", "abc"])
    ]

    @Test(arguments: cases)
    func matchesWhereSwiftsRegexMatches(pattern: String, texts: [String]) throws {
        let compiled = try regex(pattern)
        for text in texts {
            var vm = PikeVM(compiled.program)
            let ours = vm.firstMatch(in: text.unicodeScalars.map(\.value), from: 0, stop: { false })
            #expect(ours == (try Self.swiftFirstMatch(pattern, text)), "pattern \(pattern) on \(text)")
        }
    }

    @Test func replacesEveryMatchWithGroups() throws {
        #expect(try regex("(\\d{3})-(\\d{4})").replacing(in: "555-1234 and 666-9876", with: "$2/$1 $$") == "1234/555 $ and 9876/666 $")
        #expect(try regex("a*").replacing(in: "baaac", with: "-") == "-b-c-")
        #expect(try regex("x").replacing(in: "no match", with: "y") == "no match")
        #expect(try regex("(a)|(b)").replacing(in: "ab", with: "[$1$2]") == "[a][b]")
    }

    @Test func patternsThatBacktrackingEnginesTakeForeverToRunAreLinear() throws {
        // Exponential for a backtracking engine (2^40 paths); one pass here.
        let text = String(repeating: "a", count: 40) + "b"
        #expect(try regex("(a+)+$").matches(text) == false)
        #expect(try regex("(a|aa)*c").matches(String(repeating: "a", count: 5_000)) == false)
        #expect(try regex("(x+x+)+y").replacing(in: String(repeating: "x", count: 5_000), with: "") == String(repeating: "x", count: 5_000))
    }

    @Test func aStopRequestEndsALongMatch() throws {
        let long = String(repeating: "ab", count: 200_000)
        var asked = 0
        let matched = try regex("(a|b)*c").matches(long) {
            asked += 1
            return asked > 3
        }
        #expect(matched == false)
        #expect(asked == 4)
    }

    @Test(arguments: [
        ("(a)\\1", "backreferences are not supported"),
        ("(?=a)", "lookahead is not supported"),
        ("(?<!a)b", "lookbehind is not supported"),
        ("a**", "a quantifier cannot follow another"),
        ("[z-a]", "out of order"),
        ("(ab", "missing ')'"),
        ("ab)", "unmatched ')'"),
        ("a{5,2}", "counts down"),
        ("a{1001}", "over 1000"),
        ("(a{1000}){1000}", "too large"),
        (String(repeating: "(", count: 100) + "a" + String(repeating: ")", count: 100), "nest deeper than 64"),
        (String(repeating: "a", count: 5_000), "over the limit of 4,096"),
        ("\\q", "unknown escape"),
        ("\\p{Klingon}", "unknown category")
    ])
    func unsupportedOrHostilePatternsAreRefusedNamingTheField(pattern: String, message: String) {
        do throws(OffloadError) {
            _ = try CompiledRegex(pattern, field: "f")
            Issue.record("\(pattern) was accepted")
        } catch {
            #expect(error.code == .invalidPayload)
            #expect(error.message.hasPrefix("f: "))
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    /// Random patterns from a small alphabet never crash the parser or the matcher, and find
    /// the match Swift's `Regex` finds whenever both accept them.
    @Test func randomPatternsMatchAsSwiftsRegexDoes() async throws {
        let (compared, differences) = await onOwnThread { Self.comparePatterns() }
        #expect(differences.isEmpty, "\(differences.prefix(5))")
        #expect(compared > 1_500)
    }

    private static func comparePatterns() -> (Int, [String]) {
        var random = SeededRandom(seed: 0x5EED)
        let atoms = ["a", "b", ".", "[ab]", "[^a]", "\\d", "\\w", "(", ")", "|", "*", "+", "?", "{1,2}", "^", "$", "(?:", "\\b"]
        var compared = 0
        var differences: [String] = []
        for _ in 0..<3_000 {
            let pattern = (0..<Int.random(in: 1...8, using: &random)).map { _ in atoms.randomElement(using: &random)! }.joined()
            guard let compiled = try? CompiledRegex(pattern, field: "f") else { continue }
            for _ in 0..<4 {
                let text = String((0..<Int.random(in: 0...8, using: &random)).map { _ in "ab1 ".randomElement(using: &random)! })
                var vm = PikeVM(compiled.program)
                let ours = vm.firstMatch(in: text.unicodeScalars.map(\.value), from: 0, stop: { false })
                // Swift's simple word boundaries take digits for non-word characters; JavaScript's,
                // RE2's and this engine's take them for word characters.
                guard !pattern.contains("\\b") else { continue }
                let theirs: [Int]?
                do { theirs = try swiftFirstMatch(pattern, text) } catch { continue }
                // The whole match: groups repeated by a loop that may match empty differ between
                // backtracking and automaton engines (Perl's and RE2's), as they may.
                if ours.map({ Array($0[0..<2]) }) != theirs.map({ Array($0[0..<2]) }) {
                    differences.append("pattern \(pattern) on '\(text)': \(String(describing: ours)) vs \(String(describing: theirs))")
                }
                compared += 1
            }
        }
        return (compared, differences)
    }
}
