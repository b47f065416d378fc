#if canImport(Glibc)
import Glibc
#endif
import Offload

/// A card drawn in a pool of this process: the image job runs, its file is read, handed back
/// and removed (a card is served from memory and the cache, never kept as a file).
enum CardDrawing {
    /// Runs `job` in `pool` and returns the file it wrote under `outputFolder`.
    /// - Throws: ``OffloadError``: the job's error when it did not complete; `timedOut` when it
    ///   did not end within `timeout`, queued and drawn (the job is then cancelled).
    static func draw(
        _ job: Job, in pool: WorkerPool, outputFolder: String, timeout: Duration
    ) async throws(OffloadError)
        -> (bytes: [UInt8], contentType: String)
    {
        let handle = try await pool.submit(job)
        let start = ContinuousClock.now
        let outcome = await withTaskGroup(of: JobOutcome?.self) { group in
            group.addTask { await handle.outcome }
            group.addTask {
                // Past the timeout the job is cancelled; its outcome then comes at once.
                do { try await Task.sleep(for: timeout) } catch { return nil }
                handle.cancel()
                return nil
            }
            var ended: JobOutcome?
            for await next in group where next != nil {
                ended = next
                group.cancelAll()
            }
            return ended!
        }
        let file = Artifact.file(of: outcome, under: outputFolder)
        defer { if let file { unlink(file.path) } }
        guard outcome.status == .completed else {
            if outcome.status == .cancelled && ContinuousClock.now - start >= timeout {
                throw OffloadError(.timedOut, "the card was not drawn within \(timeout)")
            }
            throw outcome.error ?? OffloadError(.cancelled, "the card's job was cancelled")
        }
        guard let file else { throw OffloadError(.handlerFailed, "the card's job wrote no file") }
        do {
            return (try RegularFile.read(file.path, maxBytes: ArtifactFolder.maxFileBytes), Artifact.contentType(of: file.name))
        } catch {
            throw OffloadError(.handlerFailed, "the drawn file could not be read: \(error)")
        }
    }
}
