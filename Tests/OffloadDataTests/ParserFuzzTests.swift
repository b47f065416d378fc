import Offload
import OffloadTestSupport
import Testing
@testable import OffloadData

/// Fuzz loops over the parsers and evaluators a job's payload reaches: random and mutated
/// inputs (the same ones each run) end in a value or an `invalidPayload` naming the field,
/// never in a trap, a stack overflow or a hang. A crash here ends the test process.
@Suite struct ParserFuzzTests {
    static let field = "payload.pipeline[0].fields[0].expr"

    @Test func expressionsParseOrAreRefusedAndEvaluateWithoutTrapping() async {
        let (parsed, refused, wrong) = await onOwnThread { Self.fuzzExpressions() }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        #expect(parsed > 300 && refused > 10_000, "parsed \(parsed), refused \(refused)")
    }

    private static func fuzzExpressions() -> (Int, Int, [String]) {
        var random = SeededRandom(seed: 0xE_C5)
        var wrong: [String] = []
        let tokens = [
            " ", "(", ")", "a", "b.c", "missing", "0", "1", "2.5", "1e308", "9999999999999999999", ".", "+", "-", "*", "/",
            "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "round(", "floor(", "min(", "max(", "if(", "abs(",
            ",", "true", "false", "=", "&", "|", "é", "\u{0}"
        ]
        let record: JSONValue = .object([("a", .int(1)), ("b", .object([("c", .double(2.5))]))])
        var (parsed, refused) = (0, 0)
        for round in 0..<20_000 {
            var text = ""
            if round % 10 == 0 {
                // Deep on purpose: nested calls, parentheses and unary operators around a value.
                let depth = Int.random(in: 1...400, using: &random)
                let opener = ["(", "-", "!", "abs(", "min(1,"].randomElement(using: &random)!
                let closer = opener.hasSuffix("(") || opener == "(" ? ")" : ""
                text = String(repeating: opener, count: depth) + "a" + String(repeating: closer, count: depth)
            } else {
                for _ in 0..<Int.random(in: 0...60, using: &random) { text += tokens.randomElement(using: &random)! }
            }
            do throws(OffloadError) {
                let expression = try Expression(parsing: text, field: Self.field)
                _ = expression.evaluate(record)
                parsed += 1
            } catch {
                if error.code != .invalidPayload || !error.message.hasPrefix(Self.field) { wrong.append("\(text): \(error)") }
                refused += 1
            }
        }
        return (parsed, refused, wrong)
    }

    @Test func conditionsOfAnyShapeAndDepthAreReadOrRefused() async {
        let (read, refused, wrong) = await onOwnThread { Self.fuzzConditions() }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        #expect(read > 200 && refused > 200, "read \(read), refused \(refused)")
        // Deeper than the parser of JSON lets through, built by a program: refused, not recursed into.
        var deep: JSONValue = .object([("field", .string("a")), ("cmp", .string("exists")), ("value", .bool(true))])
        for _ in 0..<10_000 { deep = .object([("not", deep)]) }
        #expect(throws: OffloadError.self) { try Predicate(deep, field: "where") }
    }

    private static func fuzzConditions() -> (Int, Int, [String]) {
        var random = SeededRandom(seed: 0xC0_D1)
        var wrong: [String] = []
        func condition(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 0 ? 5 : 2), using: &random) {
            case 0:
                return .object([
                    ("field", .string(["a", "b.c", "", "x..y"].randomElement(using: &random)!)),
                    ("cmp", .string((Predicate.Comparison.allCases.map(\.rawValue) + ["nope"]).randomElement(using: &random)!)),
                    ("value", [.int(1), .string("(a+)+$"), .string("[z-a]"), .array([.int(1)]), .bool(true), .null].randomElement(using: &random)!)
                ])
            case 1:
                return .object([
                    ("field", .string("a")), ("cmp", .string("regex")),
                    ("value", .string(String(repeating: "(", count: Int.random(in: 0...80, using: &random)) + "a"))
                ])
            case 2: return [JSONValue.null, .int(3), .array([]), .object([])].randomElement(using: &random)!
            case 3: return .object([("not", condition(depth - 1))])
            default:
                return .object([
                    (
                        ["all", "any"].randomElement(using: &random)!,
                        .array((0..<Int.random(in: 0...3, using: &random)).map { _ in condition(depth - 1) })
                    )
                ])
            }
        }
        let record: JSONValue = .object([("a", .string("aaaab")), ("b", .object([("c", .int(2))]))])
        var (read, refused) = (0, 0)
        for _ in 0..<5_000 {
            do throws(OffloadError) {
                let predicate = try Predicate(condition(Int.random(in: 0...8, using: &random)), field: "payload.pipeline[0].where")
                _ = predicate.matches(record)
                read += 1
            } catch {
                if error.code != .invalidPayload || !error.message.hasPrefix("payload.pipeline[0].where") { wrong.append("\(error)") }
                refused += 1
            }
        }
        return (read, refused, wrong)
    }

    @Test func datePatternsFormatAnyTimeWithoutTrapping() async {
        let formatted = await onOwnThread { Self.fuzzDatePatterns() }
        #expect(formatted > 10_000)
    }

    private static func fuzzDatePatterns() -> Int {
        var random = SeededRandom(seed: 0xDA_7E)
        let pieces = [
            "y", "yy", "yyyy", "M", "MM", "MMM", "MMMM", "d", "dd", "E", "EEEE", "H", "HH", "h", "m", "mm", "s", "ss",
            "S", "SSS", "a", "'", "'text'", " ", "-", ":", "T", "Q", "é"
        ]
        let times: [Double] = [
            0, -1, 1e9, 1.7e9, -62_135_596_800, 253_402_300_799, 3e12, -3e12, 1e300, -1e300, .infinity, -.infinity, .nan,
            Double.greatestFiniteMagnitude, 0.999, -0.5
        ]
        var formatted = 0
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            guard let pattern = try? DatePattern(text, field: "format") else { continue }
            for time in times {
                _ = pattern.format(time, offsetSeconds: Int.random(in: -64_800...64_800, using: &random))
                _ = pattern.unitOfLocalTime(min(max(time, -3e12), 3e12).isNaN ? 0 : min(max(time, -3e12), 3e12))
                formatted += 1
            }
        }
        return formatted
    }

    @Test func transformsOfEveryTypeOnHostileValuesNeverTrap() throws {
        let specs = [
            #"{"target":"o","type":"numberFormat","source":"v","decimals":20,"grouping":true}"#,
            #"{"target":"o","type":"numberFormat","source":"v","decimals":0}"#,
            #"{"target":"o","type":"dateFormat","source":"v","format":"yyyy-MM-dd HH:mm:ss.SSS EEEE a","timeZone":"Europe/Paris"}"#,
            #"{"target":"o","type":"calculation","expr":"round(v * 99999999999999999999 / 0.0000001, 15) % 7 + min(v, -v)"}"#,
            #"{"target":"o","type":"stringFormat","template":"{v}{v}{{}}"}"#,
            #"{"target":"o","type":"regexReplace","source":"v","pattern":"(\\d+)|$","replacement":"<$1$9$$>"}"#
        ]
        let values: [JSONValue] = [
            .double(1e308), .double(-1e308), .double(.leastNonzeroMagnitude), .int(.max), .int(.min), .double(0), .string("2026-13-45T99:99:99Z"),
            .string("9999-12-31T23:59:59.999Z"), .string("0001-01-01T00:00:00Z"), .string(String(repeating: "9", count: 10_000)),
            .array([]), .object([]), .null, .bool(true)
        ]
        for spec in specs {
            let transform = try Transform(try JSONParser.parse(spec), field: "t")
            for value in values {
                var record: JSONValue = .object([("v", value)])
                transform.apply(to: &record)
                #expect(record["o"] != nil)
            }
        }
    }
}
