#if canImport(Glibc)
import Glibc
#endif
package import Offload

/// Streams a JSON Lines file in as many parts as there are CPUs, each part on its own thread into
/// its own groups or records, then merges them in file order (sums stay compensated, variances
/// merge exactly, records keep the file's order). Used when no limit needs the records before.
package enum ParallelFileRun {
    /// Below this size one pass is cheaper than starting tasks.
    package static let minimumBytes = 4 << 20

    /// - Parameter parts: how many parts (default: one per CPU, and at most one per MiB).
    static func run(
        _ runner: PipelineRunner, path: String, name: String, scanner: FieldScanner?, parts requested: Int? = nil,
        cancelled: @escaping @Sendable () -> Bool
    ) async throws(OffloadError) -> PipelineRunner.Outcome {
        var info = stat()
        guard stat(path, &info) == 0 else { throw OffloadError(.invalidPayload, "payload.input.path: cannot read \(name)") }
        let size = Int(info.st_size)
        let parts = requested ?? max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), size / (1 << 20)))
        let bounds = try lineStarts(path, size: size, parts: parts)
        // Parts run on threads of their own: CPU-bound work must not occupy the cooperative pool.
        let shared = GroupBudget.SharedBytes()
        let results = await DedicatedThreads.map(parts, name: "offload-data") { part -> (Int, PartResult, Int) in
            do {
                let source = try RecordSource(linesOf: path, from: bounds[part], to: bounds[part + 1], name: name)
                // A scanner of its own: objects shared between threads make every retain contend.
                source.scanner = scanner.map { FieldScanner(paths: $0.paths) }
                let own = runner.forAnotherThread(sharing: shared)
                let sink = own.makeSink(tag: ".\(part)")
                return (part, PartResult(result: .success(try own.stream(source, into: sink, cancelled: cancelled))), source.linesRead)
            } catch {
                return (part, PartResult(result: .failure(error)), 0)
            }
        }
        var merged: PipelineRunner.Partial?
        var sinks: [RecordSink] = []
        var lineOffset = 0
        for (_, outcome, linesRead) in results {
            switch outcome.result {
            case .success(var partial):
                for index in partial.rejections.indices { partial.rejections[index].line += lineOffset }
                if let sink = partial.sink { sinks.append(sink) }
                if merged == nil {
                    merged = partial
                } else {
                    if partial.grouper != nil {
                        do { try merged!.grouper!.merge(partial.grouper!) } catch {
                            throw error.overBudget ?? OffloadError(.handlerFailed, error.message)
                        }
                    } else {
                        merged!.collected += partial.collected
                        guard merged!.collected.count <= runner.limits.maxHeldRecords else {
                            throw OffloadError.overBudget(
                                "heldRecords", limit: runner.limits.maxHeldRecords,
                                "the pipeline holds more records than the job may")
                        }
                    }
                    merged!.read += partial.read
                    merged!.dropped += partial.dropped
                    merged!.failed += partial.failed
                    merged!.rejections += partial.rejections
                }
                // A part that succeeded read all its lines.
                lineOffset += linesRead
            case .failure(let rejection as PipelineRunner.Rejection):
                throw runner.failure(rejection, input: name, lineOffset: lineOffset)
            case .failure(let error as OffloadError):
                throw error
            case .failure(let error):
                throw OffloadError(.handlerFailed, "\(error)")
            }
        }
        if let output = runner.output, !sinks.isEmpty {
            merged!.sink = try RecordSink.joining(sinks, inlineLimit: output.inlineLimit, directory: output.directory, name: output.name)
        }
        return try runner.finish(merged!, input: name, cancelled: cancelled)
    }

    /// Part boundaries: `parts` + 1 offsets, each at the start of a line.
    package static func lineStarts(_ path: String, size: Int, parts: Int) throws(OffloadError) -> [Int] {
        guard let fd = try? RegularFile.open(path) else { throw OffloadError(.invalidPayload, "payload.input.path: cannot open the input file") }
        defer { close(fd) }
        var bounds = [0]
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        for part in 1..<parts {
            var position = max(size * part / parts, bounds.last!)
            var found = size
            searching: while position < size {
                let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(position)) }
                guard count > 0 else { break }
                if let newline = chunk[0..<count].firstIndex(of: 0x0A) {
                    found = position + newline + 1
                    break searching
                }
                position += count
            }
            bounds.append(found)
        }
        bounds.append(size)
        return bounds
    }

    /// The number of lines between two offsets (for the line numbers of later parts).
    package static func lines(_ path: String, from start: Int, to end: Int) throws(OffloadError) -> Int {
        guard let fd = try? RegularFile.open(path) else { return 0 }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var position = start
        var count = 0
        while position < end {
            let read = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, min($0.count, end - position), off_t(position)) }
            guard read > 0 else { break }
            chunk.withUnsafeBytes { raw in
                var pointer = raw.baseAddress!
                var left = read
                while left > 0, let hit = memchr(pointer, 0x0A, left) {
                    count += 1
                    let next = hit + 1
                    left -= pointer.distance(to: next)
                    pointer = UnsafeRawPointer(next)
                }
            }
            position += read
        }
        return count
    }
}

/// A part's result, carried across threads (the error inside is a ``PipelineRunner/Rejection``
/// or an ``OffloadError``, both values).
struct PartResult: @unchecked Sendable {
    var result: Result<PipelineRunner.Partial, any Error>
}
