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
            let line = index == badLine ? "{\"country\": oops}" : ##"{"id":\##(index),"country":"\##(["FR", "DE", "US"][index % 3])","amount":\##(Double(index % 100) / 4),"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"##
            text += Array(line.utf8) + [0x0A]
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    private func runner(_ onBadRecord: PipelineRunner.OnBadRecord) throws -> PipelineRunner {
        let step = try Step(try JSONParser.parse(##"{"op":"group","by":["country"],"aggregates":[{"fn":"sum","field":"amount","as":"total"},{"fn":"count","as":"n"},{"fn":"variance","field":"amount","as":"var"},{"fn":"first","field":"id","as":"first"},{"fn":"last","field":"id","as":"last"}]}"##), field: "p")
        return PipelineRunner(steps: [step], onBadRecord: onBadRecord)
    }

    @Test func partsMergeToTheSameGroupsAsOnePass() async throws {
        let path = makeFile(badLine: 4_500)
        defer { unlink(path) }
        let runner = try runner(.skip)
        let scanner = FieldScanner(paths: [try FieldPath("country", field: "f"), try FieldPath("amount", field: "f"), try FieldPath("id", field: "f")])
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
}
