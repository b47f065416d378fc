import Testing
@testable import Offload

/// The rules of a job's tags, checked where a job is submitted.
@Suite struct JobTagsTests {
    @Test func tagsAreShortWordsAndAtMostSixteen() async throws {
        try Job.validate(tags: ["customer:42", "nightly", "region=eu-west/1", "a@b.c_d"])
        try Job.validate(tags: (1...16).map { "t\($0)" })
        try Job.validate(tags: [String(repeating: "x", count: 64)])
        for bad in [["has space"], [""], ["comma,"], ["é"], [String(repeating: "x", count: 65)], (1...17).map { "t\($0)" }] {
            #expect(throws: OffloadError.self, "\(bad)") { try Job.validate(tags: bad) }
        }
        try await withTestPool { (pool: WorkerPool) async throws in
            var job = Job(kind: "debug.echo")
            job.tags = ["nightly"]
            let outcome = try await pool.process(job)
            #expect(outcome.status == .completed)
            job = Job(kind: "debug.echo")
            job.tags = ["not a tag"]
            await #expect(throws: OffloadError.self) { try await pool.submit(job) }
        }
    }
}
