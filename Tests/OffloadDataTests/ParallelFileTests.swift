#if canImport(Glibc)
import Glibc
#endif
import Offload
import Testing
@testable import OffloadData

@Suite struct ParallelFileTests {
    /// A JSON Lines file with one bad line.
    private func makeFile(badLine: Int, lines: Int = 6_000) -> String {
        let path = "/tmp/offload-parallel-\(getpid())-\(badLine).jsonl"
        var text: [UInt8] = []
        for index in 1...lines {
            let line =
                index == badLine
                ? "{\"country\": oops}"
                : ##"{"id":\##(index),"country":"\##(["FR", "DE", "US"][index % 3])","amount":\##(Double(index % 100) / 4),"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"##
            text += Array(line.utf8) + [0x0A]
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    private func runner(_ onBadRecord: PipelineRunner.OnBadRecord) throws -> PipelineRunner {
        let step = try Step(
            try JSONParser.parse(
                ##"{"op":"group","by":["country"],"aggregates":[{"fn":"sum","field":"amount","as":"total"},{"fn":"count","as":"n"},{"fn":"variance","field":"amount","as":"var"},{"fn":"first","field":"id","as":"first"},{"fn":"last","field":"id","as":"last"}]}"##
            ), field: "p")
        return PipelineRunner(steps: [step], onBadRecord: onBadRecord)
    }

    @Test func partsMergeToTheSameGroupsAsOnePass() async throws {
        let path = makeFile(badLine: 4_500)
        defer { unlink(path) }
        let runner = try runner(.skip)
        let scanner = FieldScanner(paths: [try FieldPath("country", field: "f"), try FieldPath("amount", field: "f"), try FieldPath("id", field: "f")]
        )
        let parallel = try await ParallelFileRun.run(runner, path: path, name: "sales.jsonl", scanner: scanner, parts: 3, cancelled: { false })
        let source = try RecordSource(linesOf: path, from: 0, to: Int.max, name: "sales.jsonl")
        let serial = try runner.run(source, cancelled: { false })
        #expect(parallel.read == 6_000 && parallel.failed == 1)
        #expect(parallel.badRecords.map(\.line) == [4_500])
        #expect(parallel.badRecords[0].message.hasPrefix("sales.jsonl line 4500 is not valid JSON"))
        #expect(parallel.records.count == 3)
        for (a, b) in zip(parallel.records, serial.records) {
            #expect(a["country"] == b["country"] && a["n"] == b["n"] && a["first"] == b["first"] && a["last"] == b["last"])
            let (x, y) = (a["total"]!.doubleValue!, b["total"]!.doubleValue!)
            #expect(abs(x - y) <= 1e-9 * abs(y))
            let (v, w) = (a["var"]!.doubleValue!, b["var"]!.doubleValue!)
            #expect(abs(v - w) <= 1e-9 * abs(w))
        }
    }

    @Test func aBadLineInALaterPartNamesItsLine() async throws {
        let path = makeFile(badLine: 5_001)
        defer { unlink(path) }
        do {
            _ = try await ParallelFileRun.run(try runner(.fail), path: path, name: "sales.jsonl", scanner: nil, parts: 3, cancelled: { false })
            Issue.record("a bad line passed")
        } catch let error as OffloadError {
            #expect(error.message.contains("sales.jsonl line 5001 is not valid JSON"), "\(error.message)")
        }
    }

    private func streamingRunner(_ pipeline: String, output: String, onBadRecord: PipelineRunner.OnBadRecord = .fail) throws -> PipelineRunner {
        guard case .array(let steps) = try JSONParser.parse(pipeline) else { fatalError() }
        return try PipelineRunner(pipeline: steps, onBadRecord: onBadRecord, output: .init(directory: output, name: "out.jsonl", inlineLimit: 100))
    }

    private func lines(_ path: String) throws -> [JSONValue] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return try bytes.split(separator: 0x0A).map { try JSONParser.parse($0) }
    }

    /// Records of a streaming pipeline go to the output file as they come, part by part, in the
    /// file's order, and equal what the same steps give over records held in memory.
    @Test(arguments: [
        #"[{"op":"filter","where":{"field":"amount","cmp":"gt","value":10}},{"op":"transform","fields":[{"target":"label","type":"stringFormat","template":"{country}-{id}"},{"target":"day","type":"dateFormat","source":"id","format":"yyyy-MM-dd HH:mm","timeZone":"Europe/Paris"}]},{"op":"select","fields":["id","label","day","missing"]}]"#,
        #"[{"op":"transform","fields":[{"target":"amount","type":"calculation","expr":"amount * 2"}]},{"op":"select","fields":["amount","country"]}]"#,
        #"[{"op":"filter","where":{"field":"country","cmp":"eq","value":"DE"}},{"op":"select","fields":["pad","id"]}]"#
    ])
    func streamingOutputIsWrittenInFileOrder(pipeline: String) async throws {
        let path = makeFile(badLine: 100_000 + pipeline.count)  // beyond the last line: a name of its own, no bad line
        let output = "/tmp/offload-stream-out-\(getpid())-\(pipeline.count)"
        defer {
            unlink(path)
            unlink(output + "/out.jsonl")
            rmdir(output)
        }
        let runner = try streamingRunner(pipeline, output: output)
        let parallel = try await ParallelFileRun.run(
            runner, path: path, name: "sales.jsonl", scanner: Step.neededPaths(runner.steps).map(FieldScanner.init),
            parts: 3, cancelled: { false })
        let memory = try PipelineRunner(steps: runner.steps, onBadRecord: .fail)
            .run(try RecordSource(linesOf: path, from: 0, to: Int.max, name: "sales.jsonl"), cancelled: { false })
        let file = try #require(parallel.file)
        #expect(file == output + "/out.jsonl")
        #expect(parallel.records.isEmpty && parallel.count == memory.records.count && memory.records.count > 100)
        #expect(try lines(file) == memory.records)
    }

    @Test func aFailedStreamingRunLeavesNoFileBehind() async throws {
        let path = makeFile(badLine: 5_500)
        let output = "/tmp/offload-stream-fail-\(getpid())"
        defer {
            unlink(path)
            rmdir(output)
        }
        let runner = try streamingRunner(#"[{"op":"select","fields":["id"]}]"#, output: output)
        await #expect(throws: OffloadError.self) {
            _ = try await ParallelFileRun.run(
                runner, path: path, name: "sales.jsonl", scanner: Step.neededPaths(runner.steps).map(FieldScanner.init),
                parts: 3, cancelled: { false })
        }
        var directory = opendir(output)
        var names: [String] = []
        while let directory, let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        if let open = directory { closedir(open) }
        directory = nil
        #expect(names.isEmpty, "\(names)")
    }
}
