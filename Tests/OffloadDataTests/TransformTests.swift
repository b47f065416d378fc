import Offload
import Testing
@testable import OffloadData

@Suite struct TransformTests {
    private func transform(_ spec: String, _ record: String) throws -> JSONValue? {
        let t = try Transform(try JSONParser.parse(spec), field: "payload.pipeline[0].fields[0]")
        var parsed = try JSONParser.parse(record)
        t.apply(to: &parsed)
        return parsed["out"]
    }

    @Test func stringFormat() throws {
        #expect(try transform(##"{"target":"out","type":"stringFormat","template":"{name} ({user.country}) #{id} {{x}}"}"##,
                              ##"{"name":"Ana","user":{"country":"FR"},"id":7}"##) == .string("Ana (FR) #7 {x}"))
        #expect(try transform(##"{"target":"out","type":"stringFormat","template":"{missing}!"}"##, "{}") == .string("!"))
    }

    @Test func numberFormat() throws {
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":2,"grouping":true}"##, ##"{"v":1234567.891}"##) == .string("1,234,567.89"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":0}"##, ##"{"v":-2.5}"##) == .string("-3"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":3}"##, ##"{"v":0.1}"##) == .string("0.100"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v"}"##, ##"{"v":"x"}"##) == .null)
    }

    @Test func dateFormat() throws {
        let spec = ##"{"target":"out","type":"dateFormat","source":"t","format":"EEE d MMM yyyy HH:mm:ss.SSS 'UTC'"}"##
        #expect(try transform(spec, ##"{"t":"2026-11-29T04:05:06.789Z"}"##) == .string("Sun 29 Nov 2026 04:05:06.789 UTC"))
        #expect(try transform(spec, ##"{"t":1764389106}"##) == .string("Sat 29 Nov 2025 04:05:06.000 UTC"))
        #expect(try transform(spec, ##"{"t":1764389106789}"##) == .string("Sat 29 Nov 2025 04:05:06.789 UTC"))
        #expect(try transform(##"{"target":"out","type":"dateFormat","source":"t","format":"yyyy-MM-dd h:mm a","timeZone":"-05:00"}"##,
                              ##"{"t":"2026-01-01T03:30:00Z"}"##) == .string("2025-12-31 10:30 PM"))
        #expect(try transform(spec, ##"{"t":"yesterday"}"##) == .null)
    }

    @Test func regexReplaceAndLookup() throws {
        #expect(try transform(##"{"target":"out","type":"regexReplace","source":"phone","pattern":"(\\d{3})-(\\d{4})","replacement":"$2/$1 $$"}"##,
                              ##"{"phone":"call 555-1234 or 555-9876"}"##) == .string("call 1234/555 $ or 9876/555 $"))
        let lookup = ##"{"target":"out","type":"lookup","source":"code","table":{"FR":"France","1":"one"},"default":"unknown"}"##
        #expect(try transform(lookup, ##"{"code":"FR"}"##) == .string("France"))
        #expect(try transform(lookup, ##"{"code":1}"##) == .string("one"))
        #expect(try transform(lookup, ##"{"code":"XX"}"##) == .string("unknown"))
    }

    @Test func calculation() throws {
        func calc(_ expr: String, _ record: String = ##"{"price":10,"qty":3,"user":{"age":41},"vip":true}"##) throws -> JSONValue? {
            try transform(##"{"target":"out","type":"calculation","expr":"EXPR"}"##.replacing("EXPR", with: expr), record)
        }
        #expect(try calc("price * qty + 1") == .double(31))
        #expect(try calc("(price + 2) * qty % 7") == .double(1))
        #expect(try calc("round(price / qty, 2)") == .double(3.33))
        #expect(try calc("floor(2.7) + ceil(2.1) + abs(-1) + min(3, qty, 9) + max(1, 2)") == .double(11))
        #expect(try calc("if(user.age >= 40 && vip, price * 0.9, price)") == .double(9))
        #expect(try calc("price > 5 || missing > 1") == .bool(true))
        #expect(try calc("!vip") == .bool(false))
        #expect(try calc("price / 0") == .null)
        #expect(try calc("missing + 1") == .null)
        #expect(try calc("-price") == .double(-10))
    }

    @Test func badTransformsNameFieldAndColumn() throws {
        for (spec, expected) in [
            (##"{"target":"out","type":"calculation","expr":"price * (qty"}"##, "expected ')' at column 13"),
            (##"{"target":"out","type":"calculation","expr":"system(1)"}"##, "unknown function 'system'"),
            (##"{"target":"out","type":"calculation","expr":"round()"}"##, "round takes 1 to 2 arguments"),
            (##"{"target":"out","type":"calculation","expr":"price $ 2"}"##, "unexpected '$' at column 7"),
            (##"{"target":"out","type":"regexReplace","source":"a","pattern":"(["}"##, "not a valid regular expression"),
            (##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy-QQ"}"##, "'Q' is not a pattern letter"),
            (##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"Europe/Paris"}"##, "named zones are not supported"),
            (##"{"target":"out","type":"numberFormat","source":"a","decimals":40}"##, "decimals must be between 0 and 20"),
            (##"{"target":"out","type":"slugify","source":"a"}"##, "type 'slugify'"),
            (##"{"target":"out","type":"stringFormat","template":"{open"}"##, "without a closing"),
        ] {
            do {
                _ = try Transform(try JSONParser.parse(spec), field: "payload.pipeline[0].fields[0]")
                Issue.record("accepted \(spec)")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(error.message.hasPrefix("payload.pipeline[0].fields[0]"), "\(error.message)")
            }
        }
    }
}

