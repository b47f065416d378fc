import OffloadTestSupport
import Testing
@testable import Offload

@Suite struct JSONNumberTests {
    func parsed(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    @Test func integersStayIntegersAndLargeOnesBecomeDoubles() throws {
        #expect(try parsed("0") == .int(0))
        #expect(try parsed("-0") == .int(0))
        #expect(try parsed("123456789012345678") == .int(123_456_789_012_345_678))
        #expect(try parsed("9223372036854775807") == .int(Int64.max))
        #expect(try parsed("-9223372036854775808") == .int(Int64.min))
        guard case .double(let big) = try parsed("9223372036854775808") else {
            Issue.record("not a double")
            return
        }
        #expect(big == 9_223_372_036_854_775_808.0)
    }

    @Test func decimalsAreCorrectlyRounded() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = [
            "424.91", "0.1", "-0.0", "1e22", "1e23", "1.7976931348623157e308", "5e-324", "2.2250738585072014E-308",
            "9007199254740993.0", "0.30000000000000004", "123456789012345678901234567890.5", "1E+2", "1e-22", "4.35e-23"
        ]
        for _ in 0..<20_000 {
            let mantissa = UInt64.random(in: 0...(1 << 60), using: &generator) >> UInt64.random(in: 0...60, using: &generator)
            let exponent = Int.random(in: -30...30, using: &generator)
            texts.append("\(mantissa)e\(exponent)")
            let digits = String(mantissa)
            let point = Int.random(in: 0...digits.count, using: &generator)
            texts.append(
                point == 0 ? "0.\(digits)" : "\(digits.prefix(point)).\(digits.dropFirst(point).isEmpty ? "0" : String(digits.dropFirst(point)))")
        }
        for text in texts {
            let expected = Double(text)!
            let value = try parsed(text)
            #expect(value.doubleValue?.bitPattern == expected.bitPattern, "\(text)")
        }
    }

    @Test func numbersBeyondADoubleAreRefusedWithTheirPosition() {
        let error = #expect(throws: JSONParser.SyntaxError.self) { try parsed("[1, 1e400]") }
        #expect(error?.offset == 4)
    }
}
