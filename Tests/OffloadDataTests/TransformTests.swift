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
        #expect(
            try transform(
                ##"{"target":"out","type":"stringFormat","template":"{name} ({user.country}) #{id} {{x}}"}"##,
                ##"{"name":"Ana","user":{"country":"FR"},"id":7}"##) == .string("Ana (FR) #7 {x}"))
        #expect(try transform(##"{"target":"out","type":"stringFormat","template":"{missing}!"}"##, "{}") == .string("!"))
    }

    @Test func numberFormat() throws {
        #expect(
            try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":2,"grouping":true}"##, ##"{"v":1234567.891}"##)
                == .string("1,234,567.89"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":0}"##, ##"{"v":-2.5}"##) == .string("-3"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v","decimals":3}"##, ##"{"v":0.1}"##) == .string("0.100"))
        #expect(try transform(##"{"target":"out","type":"numberFormat","source":"v"}"##, ##"{"v":"x"}"##) == .null)
    }

    @Test func dateFormat() throws {
        let spec = ##"{"target":"out","type":"dateFormat","source":"t","format":"EEE d MMM yyyy HH:mm:ss.SSS 'UTC'"}"##
        #expect(try transform(spec, ##"{"t":"2026-11-29T04:05:06.789Z"}"##) == .string("Sun 29 Nov 2026 04:05:06.789 UTC"))
        #expect(try transform(spec, ##"{"t":1764389106}"##) == .string("Sat 29 Nov 2025 04:05:06.000 UTC"))
        #expect(try transform(spec, ##"{"t":1764389106789}"##) == .string("Sat 29 Nov 2025 04:05:06.789 UTC"))
        #expect(
            try transform(
                ##"{"target":"out","type":"dateFormat","source":"t","format":"yyyy-MM-dd h:mm a","timeZone":"-05:00"}"##,
                ##"{"t":"2026-01-01T03:30:00Z"}"##) == .string("2025-12-31 10:30 PM"))
        #expect(try transform(spec, ##"{"t":"yesterday"}"##) == .null)
    }

    @Test func regexReplaceAndLookup() throws {
        #expect(
            try transform(
                ##"{"target":"out","type":"regexReplace","source":"phone","pattern":"(\\d{3})-(\\d{4})","replacement":"$2/$1 $$"}"##,
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

    /// Offsets from the system's time zone database, daylight saving included, checked against
    /// Python's zoneinfo; the years after the files' last transition follow their POSIX rule.
    @Test(arguments: [
        ("Europe/Paris", 1_774_745_999, "2026-03-29 01:59:59"),
        ("Europe/Paris", 1_774_746_000, "2026-03-29 03:00:00"),
        ("America/New_York", 1_772_953_199, "2026-03-08 01:59:59"),
        ("America/New_York", 1_772_953_200, "2026-03-08 03:00:00"),
        ("Australia/Sydney", 1_775_318_399, "2026-04-05 02:59:59"),
        ("Australia/Sydney", 1_775_318_400, "2026-04-05 02:00:00"),
        ("Europe/Paris", 2_540_289_600, "2050-07-01 14:00:00"),
        ("America/New_York", 2_869_128_000, "2060-12-01 07:00:00"),
        ("Australia/Sydney", 2_683_152_000, "2055-01-10 11:00:00"),
        ("Asia/Kolkata", 1_780_272_000, "2026-06-01 05:30:00"),
        ("UTC", 1_780_272_000, "2026-06-01 00:00:00")
    ])
    func namedTimeZones(zone: String, seconds: Int, expected: String) throws {
        let spec = ##"{"target":"out","type":"dateFormat","source":"t","format":"yyyy-MM-dd HH:mm:ss","timeZone":"ZONE"}"##
        #expect(try transform(spec.replacing("ZONE", with: zone), ##"{"t":\##(seconds)}"##) == .string(expected))
    }

    @Test func posixRulesAfterTheLastTransition() throws {
        let paris = try #require(PosixRule("CET-1CEST,M3.5.0,M10.5.0/3"))
        #expect(paris.offset(at: 2_540_289_600) == 7200)
        #expect(paris.offset(at: 2_553_508_800) == 3600)
        let sydney = try #require(PosixRule("AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.offset(at: 2_683_152_000) == 39600)
        #expect(sydney.offset(at: 2_695_420_800) == 36000)
        #expect(PosixRule("<+0530>-5:30")?.offset(at: 0) == 19800)
        #expect(PosixRule("EST5EDT,M3.2.0/xx,M11.1.0") == nil)
    }

    @Test func repeatedTimesInOneMinuteFormatAlike() throws {
        let t = try Transform(
            try JSONParser.parse(##"{"target":"out","type":"dateFormat","source":"t","format":"HH:mm","timeZone":"Europe/Paris"}"##), field: "f")
        var memo = TransformMemo()
        var texts: [String] = []
        for seconds in stride(from: 1_774_745_940, to: 1_774_746_090, by: 30) {
            var record = JSONValue.object([("t", .int(Int64(seconds)))])
            t.apply(to: &record, memo: &memo, key: 1)
            texts.append(record["out"]?.stringValue ?? "")
        }
        #expect(texts == ["01:59", "01:59", "03:00", "03:00", "03:01"])
    }

    @Test func badTransformsNameFieldAndColumn() throws {
        for (spec, expected) in [
            (##"{"target":"out","type":"calculation","expr":"price * (qty"}"##, "expected ')' at column 13"),
            (##"{"target":"out","type":"calculation","expr":"system(1)"}"##, "unknown function 'system'"),
            (##"{"target":"out","type":"calculation","expr":"round()"}"##, "round takes 1 to 2 arguments"),
            (##"{"target":"out","type":"calculation","expr":"price $ 2"}"##, "unexpected '$' at column 7"),
            (##"{"target":"out","type":"regexReplace","source":"a","pattern":"(["}"##, "not a valid regular expression"),
            (##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy-QQ"}"##, "'Q' is not a pattern letter"),
            (
                ##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"Mars/Olympus_Mons"}"##,
                "'Mars/Olympus_Mons' is not a known time zone"
            ),
            (
                ##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"../../etc/passwd"}"##,
                "is not UTC, an offset like +02:00 or a zone name"
            ),
            (
                ##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"zone.tab"}"##,
                "is not UTC, an offset like +02:00 or a zone name"
            ),
            (
                ##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"iso3166.tab"}"##,
                "is not UTC, an offset like +02:00 or a zone name"
            ),
            (##"{"target":"out","type":"dateFormat","source":"a","format":"yyyy","timeZone":"+25:00"}"##, "is not an offset like +02:00"),
            (##"{"target":"out","type":"numberFormat","source":"a","decimals":40}"##, "decimals must be between 0 and 20"),
            (##"{"target":"out","type":"slugify","source":"a"}"##, "type 'slugify'"),
            (##"{"target":"out","type":"stringFormat","template":"{open"}"##, "without a closing")
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
