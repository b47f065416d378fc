import Offload

/// A card drawn in a pool of this process: the image job runs with `"output": "inline"` and
/// hands the encoded card back in its result (no file is written, whatever folder the kind has).
enum CardDrawing {
    /// Runs `job` in `pool` and returns the card it drew.
    /// - Throws: ``OffloadError``: the job's error when it did not complete; `timedOut` when it
    ///   did not end within `timeout`, queued and drawn (the job is then cancelled).
    static func draw(
        _ job: Job, in pool: WorkerPool, timeout: Duration
    ) async throws(OffloadError)
        -> (bytes: [UInt8], contentType: String)
    {
        var inline = job
        if let payload = try? job.payload.json() { inline.payload = .json(payload.setting(["output"], to: "inline")) }
        let handle = try await pool.submit(inline)
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
        guard outcome.status == .completed else {
            if outcome.status == .cancelled && ContinuousClock.now - start >= timeout {
                throw OffloadError(.timedOut, "the card was not drawn within \(timeout)")
            }
            throw outcome.error ?? OffloadError(.cancelled, "the card's job was cancelled")
        }
        let result = try? outcome.result?.json()
        guard case .string(let base64)? = result?["base64"], let bytes = Base64.decode(Substring(base64)), !bytes.isEmpty,
            case .string(let format)? = result?["format"]
        else {
            throw OffloadError(.handlerFailed, "the card's job returned no image")
        }
        return (bytes, Artifact.contentType(of: "card." + (format == "jpeg" ? "jpg" : format)))
    }
}
