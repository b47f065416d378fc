import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Writing what a server's jobs did: ends in batches, refused ones split off, the steps only the
// host sees, and the files a job wrote stored in the queue.
extension QueueServer {
    /// Writes ends and steps as they come, one batch at a time: ends that arrive while a batch
    /// is written are written together, in one statement.
    func writeLoop() async {
        while !Task.isCancelled {
            await writeOut()
            await toWrite.wait(timeout: .seconds(1))
        }
    }

    func writeOut() async {
        var blockedSince: ContinuousClock.Instant?
        while true {
            // A job's steps are written before its end: the pool sends them before its final
            // event. Its observer sees that event before the job's handle answers, so an end
            // rarely waits; should it, it waits a second at most.
            let force = blockedSince.map { ContinuousClock.now - $0 >= .seconds(1) } ?? false
            guard let write = state.withLock({ $0.nextWrite(force: force) }) else {
                guard state.withLock({ $0.hasUnwrittenEnds }) else { return }
                blockedSince = blockedSince ?? .now
                await toWrite.wait(timeout: .milliseconds(50))
                continue
            }
            blockedSince = nil
            if !write.steps.isEmpty { await writeSteps(write.steps) }
            guard !write.ends.isEmpty else { continue }
            let results = await recordEnds(write.ends)
            for (end, result) in zip(write.ends, results) where result == .leaseLost {
                configuration.logger.warning(
                    "a job's lease was lost before it ended; its end was not recorded",
                    metadata: ["job": "\(end.claimed.job.id)", "attempt": "\(end.claimed.attempt)"])
            }
            state.withLock { $0.written(write.ends) }
            wakeup.signal()
        }
    }

    /// Writes steps; they are a job's history, not its state: given up on after a few tries.
    func writeSteps(_ steps: [JobEvent]) async {
        let host = configuration.host
        if case .failure(let refusal)? = await retrying(
            "recording \(steps.count) steps of jobs", attempts: 3,
            {
                try await self.queue.record(steps, host: host)
            })
        {
            configuration.logger.warning("the queue refused steps of jobs; they are not in their history", metadata: ["error": "\(refusal)"])
        }
    }

    /// Records `batch`, one result per end (`nil`: given up on, its lease left to expire). A
    /// batch the queue refuses (``OffloadError/Code/unstorable``: a value its database cannot
    /// hold) is split until the end it refuses is alone; that end is recorded as a failure of its
    /// own, so one bad end never holds back the others.
    func recordEnds(_ batch: [JobEnd]) async -> [FinishResult?] {
        let written: [Result<FinishResult, OffloadError>]
        do { written = try await splittingRefusals(batch[...]) { try await self.finishing(Array($0)) } } catch {
            return batch.map { _ in nil }
        }
        var results: [FinishResult?] = []
        for (end, result) in zip(batch, written) {
            switch result {
            case .success(let recorded):
                results.append(recorded)
            case .failure(let refusal) where end.outcome.error?.code == .unstorable:
                // Even its failure was refused: nothing more can be written for it.
                configuration.logger.error(
                    "the queue refused the end of a job and its failure; its lease is left to expire",
                    metadata: ["job": "\(end.claimed.job.id)", "error": "\(refusal)"])
                results.append(nil)
            case .failure(let refusal):
                var failed = end
                let ran = end.outcome.status == .completed ? "completed" : "ended \(end.outcome.status.rawValue)"
                failed.outcome.status = .failed
                failed.outcome.result = nil
                failed.outcome.error = OffloadError(
                    .unstorable, "the job \(ran) on \(configuration.host), but its end could not be stored: \(refusal.message)")
                configuration.logger.warning(
                    "a job's end was refused by the queue; it is recorded as failed",
                    metadata: ["job": "\(end.claimed.job.id)", "error": "\(refusal)"])
                results += await recordEnds([failed])
            }
        }
        return results
    }

    /// ``DurableQueue/finish(_:)`` tried until it answers: a refusal is thrown, giving up throws
    /// `CancellationError`.
    func finishing(_ batch: [JobEnd]) async throws -> [FinishResult] {
        switch await retrying("recording the end of \(batch.count) jobs", { try await self.queue.finish(batch) }) {
        case .success(let results)?: return results
        case .failure(let refusal)?: throw refusal
        case nil: throw CancellationError()
        }
    }

    /// The outcome with the file its result names stored in the queue (or failed, when the file
    /// cannot be read or is over the queue's cap).
    func storingArtifact(of claimed: ClaimedJob, _ outcome: JobOutcome) async -> JobOutcome {
        guard let folder = configuration.artifactFolder, let file = Artifact.file(of: outcome, under: folder) else { return outcome }
        var members = file.members
        let (path, name) = (file.path, file.name)
        var failed = outcome
        failed.status = .failed
        failed.result = nil
        let bytes: [UInt8]
        // Never more than the queue keeps: a huge output is refused without being read whole.
        let limit = queue.maxArtifactBytes
        do { bytes = try RegularFile.read(path, maxBytes: limit) } catch {
            if case .tooLarge = error {
                failed.error = OffloadError(
                    .resourceLimitExceeded,
                    "\(name) is over the queue's artifact cap of \(OffloadError.grouped(limit)) bytes")
            } else {
                failed.error = OffloadError(.handlerFailed, "the job's file \(name) could not be read to store it: \(error)")
            }
            return failed
        }
        let stored = await retrying("storing the file of \(claimed.job.id)") { () async throws -> Result<Artifact, OffloadError> in
            do {
                return .success(try await self.queue.storeArtifact(bytes, contentType: Artifact.contentType(of: name), name: name, job: claimed))
            } catch let error as OffloadError where ![.unstorable, .queueUnavailable, .timedOut].contains(error.code) { return .failure(error) }
        }
        switch stored {
        case .success(.success(let artifact))?:
            // The host's own path is not for the queue's readers: the artifact names the file.
            members.removeAll { $0.key == "file" }
            members.append(("artifact", artifact.json))
            if configuration.removesStoredFiles { unlink(path) }
            var done = outcome
            done.result = .json(.object(members))
            return done
        case .success(.failure(let error))?, .failure(let error)?:
            failed.error = error
            return failed
        case nil:
            failed.error = OffloadError(.handlerFailed, "the job's file \(name) could not be stored in the queue")
            return failed
        }
    }
}
