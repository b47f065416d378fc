import Offload
import OffloadJobFiles

/// The entries of a job file, line by line, as `offload run` and `offload submit` take them:
/// blank lines skipped, a line too long or not a valid job refused as that job's failed outcome,
/// a line that cannot be read reported with its number (the file's end is not where it stopped).
struct JobFileReader {
    enum Entry {
        /// A job, from line `line` of `bytes` bytes.
        case job(Job, line: Int, bytes: Int)
        /// A line that is not a job: its failed outcome.
        case refused(JobOutcome)
        /// Line `line` could not be read (`errno`); nothing after it is read.
        case unreadable(line: Int, code: Int32)
    }

    let lines: LineReader
    let kinds: Set<String>
    let maxDelay: Duration
    private var number = 0
    private var stopped = false

    init(lines: LineReader, kinds: Set<String>, maxDelay: Duration) {
        self.lines = lines
        self.kinds = kinds
        self.maxDelay = maxDelay
    }

    mutating func next() -> Entry? {
        while !stopped, let next = lines.next() {
            number += 1
            switch next {
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                switch JobLine.parse(bytes, number: number, knownKinds: kinds, maxDelay: maxDelay) {
                case .success(let job): return .job(job, line: number, bytes: bytes.count)
                case .failure(let failure):
                    return .refused(JobOutcome(id: failure.id, kind: failure.kind ?? "", status: .failed, error: failure.error))
                }
            case .tooLong(let length):
                let error = OffloadError.overBudget(
                    "line length", limit: lines.maxLineBytes,
                    "line \(number) is \(OffloadError.grouped(length)) bytes (--max-line-bytes)")
                return .refused(JobOutcome(id: JobID(String(number)), kind: "", status: .failed, error: error))
            case .failed(let code):
                stopped = true
                return .unreadable(line: number, code: code)
            }
        }
        return nil
    }
}
