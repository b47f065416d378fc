import Foundation
import Testing
@testable import Offload
@testable import OffloadServer

/// What `offload serve` keeps of its jobs without a queue: bounded in bytes, the oldest finished
/// first out, unfinished and waited-for jobs never dropped.
@Suite struct JobRecordsTests {
    func job(_ id: String, runAt: ContinuousClock.Instant? = nil) -> Job {
        var job = Job(id: JobID(id), kind: "debug.echo", payload: .none)
        job.runAt = runAt
        return job
    }

    func completed(_ id: String) -> JobEvent {
        JobEvent(job: JobID(id), at: .now, step: .completed, attempt: 1)
    }

    @Test func theOldestFinishedJobsGoFirstOnceOverTheBytes() throws {
        var records = JobRecords(maxBytes: 100_000, maxJobs: 1_000)
        let payload = Array("\"\(String(repeating: "a", count: 10_000))\"".utf8)
        for index in 0..<20 {
            _ = records.add(job("j\(index)"), payload: payload, at: .now)
            records.end(completed("j\(index)"), result: payload)
        }
        #expect(records.bytes <= 100_000)
        #expect(records.view(JobID("j0")) == nil)
        #expect(records.view(JobID("j19"))?.state == .completed)
        #expect(records.view(JobID("j19"))?.result != nil)
        // Newest first, and only what is kept.
        let page = try records.page(JobQuery(limit: 500))
        #expect(page.jobs.first?.id == JobID("j19"))
        #expect(page.jobs.count == records.count)
    }

    @Test func unfinishedJobsAreNeverDroppedAndMoreAreRefused() throws {
        var records = JobRecords(maxBytes: 50_000, maxJobs: 1_000)
        let payload = [UInt8](repeating: 0x62, count: 10_000)
        var added = 0
        while true {
            let next = job("d\(added)", runAt: .now + .seconds(600))
            do throws(OffloadError) { try records.admit([next], sizes: [payload.count]) } catch {
                #expect(error.code == .queueFull)
                break
            }
            _ = records.add(next, payload: payload, at: .now, runAt: Timestamp.now.adding(.seconds(600)))
            added += 1
        }
        #expect(added >= 3)
        #expect(records.count == added)
        #expect(records.heldBytes <= 50_000)
        #expect(records.view(JobID("d0"))?.state == .scheduled)
    }

    @Test func aPinnedJobStaysUntilUnpinned() {
        var records = JobRecords(maxBytes: 30_000, maxJobs: 1_000)
        let payload = Array("\"\(String(repeating: "c", count: 10_000))\"".utf8)
        _ = records.add(job("waited"), payload: payload, at: .now)
        let pinned = records.pin(JobID("waited"))
        #expect(pinned)
        records.end(completed("waited"), result: payload)
        for index in 0..<5 {
            _ = records.add(job("n\(index)"), payload: payload, at: .now)
            records.end(completed("n\(index)"), result: nil)
        }
        #expect(records.view(JobID("waited"))?.state == .completed)
        records.unpin(JobID("waited"))
        // Unpinned, it is the oldest finished job again: the next to go.
        _ = records.add(job("last"), payload: payload, at: .now)
        records.end(completed("last"), result: nil)
        #expect(records.view(JobID("waited")) == nil)
        #expect(records.view(JobID("last")) != nil)
        #expect(records.bytes <= 30_000)
    }

    @Test func aStreamOfAJobIsBoundedAndItsReaderForgottenPastTheBound() {
        var records = JobRecords(maxBytes: 1 << 20, maxJobs: 100)
        _ = records.add(job("s"), payload: [], at: .now)
        let watched = records.watch(JobID("s"), maxCount: 3, maxBytes: 1 << 20, token: 1)
        guard let (stream, watching) = watched else {
            Issue.record("no stream for a kept job")
            return
        }
        #expect(watching)
        for fraction in stride(from: 0.1, through: 0.5, by: 0.1) {
            records.record(JobEvent(job: JobID("s"), at: .now, step: .progress(fraction: fraction, message: nil), attempt: 1))
        }
        #expect(stream.isEnded)
        // The overflowed watcher is forgotten: the job's later events go nowhere.
        #expect(records.entries[JobID("s")]?.watchers.isEmpty == true)
    }
}
