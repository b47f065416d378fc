#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadData

@Suite struct PipelineTests {
    static let records: JSONValue = try! JSONParser.parse(
        ##"""
        [{"id":1,"country":"FR","amount":10.5,"user":{"tier":"pro"},"tags":["a","b"],"name":"Ana"},
         {"id":2,"country":"DE","amount":3,"user":{"tier":"free"},"tags":["b"],"name":"Ben"},
         {"id":3,"country":"FR","amount":-2,"user":{"tier":"free"},"tags":[],"name":"Cleo"},
         {"id":4,"country":"US","amount":7.25,"user":{"tier":"pro"},"tags":["c"],"name":"Dan"},
         {"id":5,"country":"DE","amount":null,"user":{"tier":"pro"},"tags":["a"],"name":"Eve"},
         {"id":6,"country":"FR","amount":4,"name":"Finn"}]
        """##)

    private func run(_ pipeline: String, input: JSONValue = records, onBadRecord: PipelineRunner.OnBadRecord = .fail) throws -> PipelineRunner.Outcome
    {
        guard case .array(let steps) = try JSONParser.parse(pipeline) else { fatalError() }
        var parsed: [Step] = []
        for (index, step) in steps.enumerated() { parsed.append(try Step(step, field: "payload.pipeline[\(index)]")) }
        return try PipelineRunner(steps: parsed, onBadRecord: onBadRecord)
            .run(try RecordSource(input, folders: AllowedFolders(["/tmp"])), cancelled: { false })
    }

    private func ids(_ outcome: PipelineRunner.Outcome) -> [Int64] {
        outcome.records.compactMap { if case .int(let id)? = $0["id"] { id } else { nil } }
    }

    private func where_(_ condition: String) throws -> [Int64] {
        ids(try run(##"[{"op":"filter","where":"## + condition + "}]"))
    }

    @Test func everyComparison() throws {
        #expect(try where_(##"{"field":"country","cmp":"eq","value":"FR"}"##) == [1, 3, 6])
        #expect(try where_(##"{"field":"country","cmp":"ne","value":"FR"}"##) == [2, 4, 5])
        #expect(try where_(##"{"field":"amount","cmp":"gt","value":4}"##) == [1, 4])
        #expect(try where_(##"{"field":"amount","cmp":"gte","value":4}"##) == [1, 4, 6])
        #expect(try where_(##"{"field":"amount","cmp":"lt","value":4}"##) == [2, 3])
        #expect(try where_(##"{"field":"amount","cmp":"lte","value":4}"##) == [2, 3, 6])
        #expect(try where_(##"{"field":"name","cmp":"contains","value":"e"}"##) == [2, 3, 5])
        #expect(try where_(##"{"field":"tags","cmp":"contains","value":"a"}"##) == [1, 5])
        #expect(try where_(##"{"field":"name","cmp":"startsWith","value":"D"}"##) == [4])
        #expect(try where_(##"{"field":"name","cmp":"endsWith","value":"n"}"##) == [2, 4, 6])
        #expect(try where_(##"{"field":"name","cmp":"regex","value":"^[A-C]"}"##) == [1, 2, 3])
        #expect(try where_(##"{"field":"country","cmp":"in","value":["DE","US"]}"##) == [2, 4, 5])
        #expect(try where_(##"{"field":"user.tier","cmp":"exists"}"##) == [1, 2, 3, 4, 5])
        #expect(try where_(##"{"field":"user","cmp":"exists","value":false}"##) == [6])
        #expect(try where_(##"{"field":"user.tier","cmp":"eq","value":"pro"}"##) == [1, 4, 5])
        // Numbers compare as numbers whether written as integers or not.
        #expect(try where_(##"{"field":"amount","cmp":"eq","value":3.0}"##) == [2])
    }

    @Test func allAnyAndNotCombine() throws {
        #expect(try where_(##"{"all":[{"field":"country","cmp":"eq","value":"FR"},{"field":"amount","cmp":"gt","value":0}]}"##) == [1, 6])
        #expect(try where_(##"{"any":[{"field":"country","cmp":"eq","value":"US"},{"field":"amount","cmp":"lt","value":0}]}"##) == [3, 4])
        #expect(try where_(##"{"not":{"field":"country","cmp":"eq","value":"FR"}}"##) == [2, 4, 5])
    }

    @Test func groupWithEveryAggregate() throws {
        let outcome = try run(
            ##"""
            [{"op":"group","by":["country"],"aggregates":[
              {"fn":"count","as":"n"},{"fn":"count","field":"amount","as":"withAmount"},{"fn":"sum","field":"amount","as":"sum"},
              {"fn":"avg","field":"amount","as":"avg"},{"fn":"min","field":"amount","as":"min"},{"fn":"max","field":"name","as":"maxName"},
              {"fn":"median","field":"amount","as":"median"},{"fn":"percentile","field":"amount","p":50,"as":"p50"},
              {"fn":"stddev","field":"amount","as":"sd"},{"fn":"variance","field":"amount","as":"var"},
              {"fn":"unique","field":"user.tier","as":"tiers"},{"fn":"first","field":"name","as":"first"},{"fn":"last","field":"name","as":"last"}]}]
            """##)
        #expect(outcome.records.count == 3)
        let fr = outcome.records[0]
        #expect(fr["country"] == .string("FR"))
        #expect(fr["n"] == .int(3) && fr["withAmount"] == .int(3))
        #expect(fr["sum"] == .double(12.5))
        #expect(abs((fr["avg"]?.doubleValue ?? 0) - 12.5 / 3) < 1e-12)
        #expect(fr["min"] == .int(-2))
        #expect(fr["maxName"] == .string("Finn"))
        #expect(fr["median"] == .double(4) && fr["p50"] == .double(4))
        // Sample variance of 10.5, -2, 4: mean 25/6; squared deviations 40.1111 + 38.0278 + 0.0278 = 78.1667 → /2 = 39.0833.
        let variance = 469.0 / 12
        #expect(abs((fr["var"]?.doubleValue ?? 0) - variance) < 1e-9)
        #expect(abs((fr["sd"]?.doubleValue ?? 0) - variance.squareRoot()) < 1e-9)
        #expect(fr["tiers"] == .int(2))
        #expect(fr["first"] == .string("Ana") && fr["last"] == .string("Finn"))
        // DE: the null amount is left out of the sum and the count of amounts.
        let de = outcome.records[1]
        #expect(de["n"] == .int(2) && de["withAmount"] == .int(1) && de["sum"] == .int(3))
    }

    @Test func aggregateSortLimitAndSelect() throws {
        let total = try run(##"[{"op":"aggregate","aggregates":[{"fn":"sum","field":"amount","as":"total"},{"fn":"count","as":"n"}]}]"##)
        #expect(total.records == [.object([("total", .double(22.75)), ("n", .int(6))])])
        let sorted = try run(##"[{"op":"sort","by":[{"field":"amount","order":"desc"}]}]"##)
        #expect(ids(sorted) == [1, 4, 6, 2, 3, 5])  // null last
        let ascending = try run(##"[{"op":"sort","by":[{"field":"country"},{"field":"amount","order":"desc"}]}]"##)
        #expect(ids(ascending) == [2, 5, 1, 6, 3, 4])
        let limited = try run(##"[{"op":"limit","n":2}]"##)
        #expect(ids(limited) == [1, 2] && limited.read == 2)  // a leading limit stops reading
        let selected = try run(##"[{"op":"select","fields":["id","user.tier"]},{"op":"limit","n":1}]"##)
        #expect(selected.records == [.object([("id", .int(1)), ("user", .object([("tier", .string("pro"))]))])])
    }

    @Test func transformsFeedLaterSteps() throws {
        let outcome = try run(
            ##"""
            [{"op":"transform","fields":[{"target":"value","type":"calculation","expr":"amount * 2"},
                                         {"target":"label","type":"stringFormat","template":"{country}-{id}"}]},
             {"op":"filter","where":{"field":"value","cmp":"gt","value":10}},
             {"op":"select","fields":["label","value"]}]
            """##)
        #expect(
            outcome.records == [
                .object([("label", .string("FR-1")), ("value", .double(21))]),
                .object([("label", .string("US-4")), ("value", .double(14.5))])
            ])
    }

    @Test func sumsAreCompensated() throws {
        // 0.1 added 10,000 times plus one large value: a naive sum drifts, a compensated one does not.
        var items: [JSONValue] = [.object([("v", .double(1e16))])]
        items += Array(repeating: .object([("v", .double(0.1))]), count: 10_000)
        items.append(.object([("v", .double(-1e16))]))
        let outcome = try run(##"[{"op":"aggregate","aggregates":[{"fn":"sum","field":"v","as":"s"}]}]"##, input: .array(items))
        #expect(abs((outcome.records[0]["s"]?.doubleValue ?? 0) - 1000) < 1e-6)
    }

    @Test func badRecordsFailOrAreCountedAndReported() throws {
        let path = "/tmp/offload-data-\(getpid()).jsonl"
        let text = ##"{"amount":1}"## + "\n" + ##"{"amount":"x"}"## + "\n" + "not json\n" + ##"{"amount":2}"## + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        defer { unlink(path) }
        let pipeline = ##"[{"op":"aggregate","aggregates":[{"fn":"sum","field":"amount","as":"s"}]}]"##
        let input = JSONValue.object([("path", .string(path))])
        do {
            _ = try run(pipeline, input: input)
            Issue.record("a bad record passed with onBadRecord fail")
        } catch let error as OffloadError {
            #expect(error.code == .invalidPayload)
            #expect(error.message.contains("line 2") && error.message.contains("sum needs numbers"))
        }
        let skipped = try run(pipeline, input: input, onBadRecord: .skip)
        #expect(skipped.records[0]["s"] == .int(3))
        #expect(skipped.read == 4 && skipped.failed == 2)
        #expect(skipped.badRecords.map(\.line) == [2, 3])
        #expect(skipped.badRecords[1].message.contains("not valid JSON"))
    }

    @Test func badStepsNameWhatAndWhere() throws {
        let cases: [(String, String)] = [
            (##"[{"op":"grup"}]"##, "payload.pipeline[0].op 'grup'"),
            (##"[{"op":"Sort","by":[]}]"##, "did you mean 'sort'?"),
            (##"[{"op":"group","by":["a"],"aggregates":[{"fn":"mode","field":"a"}]}]"##, "payload.pipeline[0].aggregates[0].fn 'mode'"),
            (##"[{"op":"group","by":["a"],"aggregates":[{"fn":"sum"}]}]"##, "field is required"),
            (##"[{"op":"aggregate","aggregates":[{"fn":"percentile","field":"a","p":101}]}]"##, ".p must be between 0 and 100"),
            (##"[{"op":"filter","where":{"field":"a","cmp":"like","value":1}}]"##, "payload.pipeline[0].where.cmp"),
            (##"[{"op":"filter","where":{"field":"a","cmp":"regex","value":"(["}}]"##, "not a valid regular expression"),
            (##"[{"op":"filter","where":{"field":"a..b","cmp":"eq","value":1}}]"##, "not a field path"),
            (##"[{"op":"sort","by":[{"field":"a","order":"up"}]}]"##, "order must be asc or desc"),
            (##"[{"op":"limit","n":-1}]"##, "must not be negative"),
            (##"[{"op":"limit","n":1,"m":2}]"##, "'m'")
        ]
        for (pipeline, expected) in cases {
            do {
                _ = try run(pipeline)
                Issue.record("accepted \(pipeline)")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
        let outside = Result { () throws(OffloadError) in
            try AllowedFolders(["/tmp"]).resolve("/etc/hostname", field: "payload.input.path")
        }
        #expect(throws: OffloadError.self) { try outside.get() }
    }
}

@Suite struct QuantileTests {
    @Test func selectionFindsEveryRankAsSortingDoes() {
        for size in [1, 2, 3, 10, 101, 1_000] {
            let values = (0..<size).map { _ in Double(Int.random(in: 0..<(size / 3 + 1))) }
            let sorted = values.sorted()
            for k in 0..<size {
                var work = values
                #expect(Accumulator.select(k, in: &work) == sorted[k])
                if k + 1 < size { #expect(work[(k + 1)...].min() == sorted[k + 1]) }
            }
        }
    }

    @Test func ordersThatDefeatMiddlePivotsStayFast() {
        // Sorted, reversed and all-equal inputs of a million values.
        for values in [(0..<1_000_000).map(Double.init), (0..<1_000_000).reversed().map(Double.init), Array(repeating: 7.0, count: 1_000_000)] {
            var work = values
            #expect(Accumulator.select(500_000, in: &work) == values.sorted()[500_000])
        }
    }
}
