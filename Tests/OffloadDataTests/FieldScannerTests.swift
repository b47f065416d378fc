#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadData

@Suite struct FieldScannerTests {
    private func paths(_ names: String...) throws -> [FieldPath] { try names.map { try FieldPath($0, field: "f") } }

    private func scan(_ line: String, _ scanner: FieldScanner) throws(JSONParser.SyntaxError) -> [JSONValue?] {
        var slots = [JSONValue?](repeating: .bool(false), count: scanner.paths.count)
        let bytes = Array(line.utf8)
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in try scanner.scan(buffer, into: &slots) }
        return slots
    }

    @Test func wantedFieldsLandInTheirSlotsAndTheRestIsOnlyChecked() throws {
        let scanner = FieldScanner(paths: try paths("country", "amount", "user.tier", "missing", "country"))
        #expect(scanner.paths.map(\.description) == ["country", "amount", "user.tier", "missing"])
        let slots = try scan(#"{"skip":{"a":[1,{"b":null}],"c":"\u00e9"},"country":"FR","amount":-1.5e2,"user":{"id":7,"tier":"pro"}}"#, scanner)
        #expect(slots == [.string("FR"), .double(-150), .string("pro"), nil])
    }

    @Test func anEscapedKeyStillNamesItsField() throws {
        let scanner = FieldScanner(paths: try paths("country"))
        #expect(try scan(#"{"co\u0075ntry":"F\u0052"}"#, scanner) == [.string("FR")])
    }

    @Test func aFieldInsideAWantedObjectIsFilledFromIt() throws {
        let scanner = FieldScanner(paths: try paths("user", "user.tier", "user.geo.city"))
        let slots = try scan(#"{"user":{"tier":"pro","geo":{"city":"Oslo"}}}"#, scanner)
        #expect(slots[1] == .string("pro"))
        #expect(slots[2] == .string("Oslo"))
        #expect(slots[0]?["tier"] == .string("pro"))
    }

    @Test func aLineThatIsNotAnObjectHasNoFields() throws {
        let scanner = FieldScanner(paths: try paths("a"))
        #expect(try scan("[1,2,3]", scanner) == [nil])
        #expect(try scan(#"{"a":{"b":1}}"#, FieldScanner(paths: try paths("a.b", "a.c"))) == [.int(1), nil])
        #expect(try scan(#"{"a":5}"#, FieldScanner(paths: try paths("a.b"))) == [nil])
    }

    @Test(arguments: [
        (#"{"a":01}"#, "leading zero", 6),
        (#"{"a":1,}"#, "expected a key", 7),
        (#"{"a":"\#u{01}"}"#, "control character", 6),
        (#"{"skip":"bad \x"}"#, "bad escape", 14),
        (#"{"a":1} x"#, "unexpected bytes", 8),
        (#"{"a":[1,2}"#, "expected ','", 9),
        (#"{"a":1e999}"#, "out of range", 5),
        (#"{"a":tru}"#, "expected true", 5)
    ])
    func malformedLinesAreErrorsWithTheirPosition(line: String, message: String, offset: Int) throws {
        let scanner = FieldScanner(paths: try paths("a"))
        let error = #expect(throws: JSONParser.SyntaxError.self) { try scan(line, scanner) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.offset == offset, "\(line)")
    }

    @Test func invalidUTF8InASkippedFieldIsAnError() throws {
        let scanner = FieldScanner(paths: try paths("a"))
        var bytes = Array(#"{"skip":"ab","a":1}"#.utf8)
        bytes[10] = 0xC0
        var slots: [JSONValue?] = [nil]
        #expect(throws: JSONParser.SyntaxError.self) {
            try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in try scanner.scan(buffer, into: &slots) }
        }
    }

    /// Lines mutated at random are valid for the scanner exactly when they are for the strict
    /// parser, and give the same values: strings of every length put each byte at each position
    /// of the eight-byte steps.
    @Test func theScannerAgreesWithTheParserOnMutatedLines() throws {
        let scanner = FieldScanner(paths: try paths("a", "b.c"))
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = ["\"", "\\", "\\u00e9", "\\n", "\\x", "é", "😀", "\u{01}", "a", " ", "{", "}", ",", ":", "0", "-", "e"].map {
            Array($0.utf8)
        }
        var agreed = 0
        for round in 0..<20_000 {
            let text = String(repeating: "xyz", count: round % 9) + ["plain", "é", "q\\\"q", ""][round % 4]
            var line = Array(#"{"s":"TEXT","a":"TEXT","b":{"c":[1.5,-2e3,"TEXT"],"d":null},"n":true}"#.replacing("TEXT", with: text).utf8)
            for _ in 0..<Int.random(in: 0...2, using: &generator) {
                let position = Int.random(in: 0..<line.count, using: &generator)
                switch Int.random(in: 0...2, using: &generator) {
                case 0: line.insert(contentsOf: pieces.randomElement(using: &generator)!, at: position)
                case 1: line.remove(at: position)
                default: line[position] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let parsed = Result { try JSONParser.parse(line) }
            if case .failure(let error as JSONParser.SyntaxError) = parsed, error.message.contains("duplicate key") { continue }
            var slots: [JSONValue?] = [nil, nil]
            let scanned = Result {
                try line.withUnsafeBufferPointer { buffer throws(JSONParser.SyntaxError) in try scanner.scan(buffer, into: &slots) }
            }
            switch (parsed, scanned) {
            case (.success(let value), .success):
                #expect(slots[0] == value["a"] && slots[1] == value["b"]?["c"], "\(String(decoding: line, as: UTF8.self))")
            case (.failure, .failure):
                break
            default:
                Issue.record("parser and scanner disagree on \(String(decoding: line, as: UTF8.self)): \(parsed) / \(scanned)")
            }
            agreed += 1
        }
        #expect(agreed > 19_000)
    }

    /// The pipeline reading only the fields it needs gives what it gives over whole records.
    @Test(arguments: [
        #"[{"op":"filter","where":{"any":[{"field":"user.tier","cmp":"eq","value":"pro"},{"field":"amount","cmp":"lt","value":0}]}},{"op":"group","by":["country"],"aggregates":[{"fn":"sum","field":"amount","as":"t"},{"fn":"count","as":"n"},{"fn":"max","field":"name","as":"m"}]}]"#,
        #"[{"op":"transform","fields":[{"target":"double","type":"calculation","expr":"amount * 2"}]},{"op":"aggregate","aggregates":[{"fn":"sum","field":"double","as":"s"},{"fn":"unique","field":"country","as":"u"}]}]"#,
        #"[{"op":"filter","where":{"field":"amount","cmp":"exists","value":true}},{"op":"select","fields":["name","user.tier"]},{"op":"limit","n":3}]"#,
        #"[{"op":"group","by":["user.tier","country"],"aggregates":[{"fn":"avg","field":"amount","as":"a"}]},{"op":"sort","by":[{"field":"a","order":"desc"}]}]"#,
        // Transforms writing into slots: read by a filter, a group and a select; one overwrites its source.
        #"[{"op":"transform","fields":[{"target":"code","type":"regexReplace","source":"country","pattern":"^(.)(.)$","replacement":"$2$1"},{"target":"amount","type":"calculation","expr":"amount * 10"}]},{"op":"filter","where":{"field":"amount","cmp":"gt","value":30}},{"op":"group","by":["code"],"aggregates":[{"fn":"sum","field":"amount","as":"t"}]}]"#,
        #"[{"op":"transform","fields":[{"target":"label","type":"stringFormat","template":"{name} ({country})"},{"target":"meta.big","type":"calculation","expr":"amount > 5"}]},{"op":"select","fields":["label","meta.big","id"]}]"#,
        // A target inside a field read whole: records are built for the transforms.
        #"[{"op":"transform","fields":[{"target":"user.rank","type":"lookup","source":"user.tier","table":{"pro":1},"default":0}]},{"op":"select","fields":["user","id"]}]"#
    ])
    func scanningGivesWhatWholeRecordsGive(pipeline: String) throws {
        guard case .array(let raw) = try JSONParser.parse(pipeline) else { fatalError() }
        var steps: [Step] = []
        for (index, step) in raw.enumerated() { steps.append(try Step(step, field: "p[\(index)]")) }
        let runner = PipelineRunner(steps: steps, onBadRecord: .fail)
        let whole = try runner.run(try RecordSource(PipelineTests.records, folders: AllowedFolders(["/tmp"])), cancelled: { false })
        let source = try RecordSource(PipelineTests.records, folders: AllowedFolders(["/tmp"]))
        let needed = try #require(Step.neededPaths(steps))
        source.scanner = FieldScanner(paths: needed)
        let scanned = try runner.run(source, cancelled: { false })
        #expect(scanned.records == whole.records)
        #expect((scanned.read, scanned.dropped) == (whole.read, whole.dropped))
    }
}

@Suite struct JSONArrayFileTests {
    private func write(_ text: String, _ name: String) -> String {
        let path = "/tmp/offload-array-\(getpid())-\(name).json"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    private func source(_ path: String) throws -> RecordSource {
        try RecordSource(.object([("path", .string(path))]), folders: AllowedFolders(["/tmp"]))
    }

    @Test func elementsAreReadOneByOneWithOrWithoutAScanner() throws {
        let path = write(
            " [\n"
                + (1...50).map { #"  {"id":\#($0),"country":"\#(["FR", "DE"][$0 % 2])","amount":\#(Double($0) / 4),"x":{"y":[1,2]}}"# }.joined(
                    separator: ",\n") + "\n] \n", "good")
        defer { unlink(path) }
        let step = try Step(
            try JSONParser.parse(#"{"op":"group","by":["country"],"aggregates":[{"fn":"sum","field":"amount","as":"t"},{"fn":"count","as":"n"}]}"#),
            field: "p")
        let runner = PipelineRunner(steps: [step], onBadRecord: .fail)
        let whole = try runner.run(try source(path), cancelled: { false })
        let scanning = try source(path)
        scanning.scanner = FieldScanner(paths: Step.neededPaths([step])!)
        let fields = try runner.run(scanning, cancelled: { false })
        #expect(whole.read == 50 && fields.read == 50)
        #expect(whole.records == fields.records)
        #expect(whole.records.first?["n"] == .int(25))
        let empty = write("[ ]", "empty")
        defer { unlink(empty) }
        #expect(try runner.run(try source(empty), cancelled: { false }).read == 0)
    }

    @Test(arguments: [
        (#"{"id":1}"#, "expected '['", 1),
        (#"[{"id":1},]"#, "expected a value", 11),
        (#"[{"id":1} {"id":2}]"#, "',' or ']'", 11),
        (#"[{"id":1}] x"#, "unexpected bytes after the array", 12),
        (#"[{"id":"\#u{01}"}]"#, "control character", 9)
    ])
    func aMalformedArrayFileFailsWithTheBytePosition(text: String, message: String, byte: Int) throws {
        let path = write(text, "bad-\(byte)-\(message.count)")
        defer { unlink(path) }
        let error = #expect(throws: OffloadError.self) { try source(path) }
        #expect(error?.code == .invalidPayload)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.message.hasSuffix("at byte \(byte)") == true, "\(error?.message ?? "")")
    }

    @Test func aBadElementIsOneFailedRecord() throws {
        let path = write(#"[{"amount":1},{"amount":1e999},{"amount":2}]"#, "element")
        defer { unlink(path) }
        let step = try Step(try JSONParser.parse(#"{"op":"aggregate","aggregates":[{"fn":"sum","field":"amount","as":"t"}]}"#), field: "p")
        let source = try source(path)
        source.scanner = FieldScanner(paths: Step.neededPaths([step])!)
        let outcome = try PipelineRunner(steps: [step], onBadRecord: .skip).run(source, cancelled: { false })
        #expect(outcome.failed == 1 && outcome.records == [.object([("t", .int(3))])])
        #expect(outcome.badRecords.first?.line == 2)
    }
}
