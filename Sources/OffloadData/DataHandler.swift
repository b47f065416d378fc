#if canImport(Glibc)
import Glibc
#endif
public import Offload

/// The `data` job kind: runs a pipeline of steps (filter, group, aggregate, sort, limit, select)
/// over records given inline or read from a JSON Lines or JSON file under the allowed folders.
///
/// ```json
/// {"input":{"path":"sales.jsonl"},"pipeline":[
///   {"op":"filter","where":{"field":"amount","cmp":"gt","value":0}},
///   {"op":"group","by":["country"],"aggregates":[{"fn":"sum","field":"amount","as":"total"},{"fn":"count","as":"orders"}]},
///   {"op":"sort","by":[{"field":"total","order":"desc"}]}],"onBadRecord":"skip"}
/// ```
public struct DataHandler: JobHandler {
    public struct Payload: Codable, Sendable {
        /// The records, inline (`[…]`) or a JSON Lines or JSON file (`{"path": "sales.jsonl"}`).
        public var input: JSONValue
        /// The steps, each `{"op": …}` (see the type's documentation).
        public var pipeline: [JSONValue]
        /// `fail` (default): a malformed record fails the job; `skip`: it is counted and reported.
        public var onBadRecord: String?

        public init(input: JSONValue, pipeline: [JSONValue], onBadRecord: String? = nil) {
            self.input = input
            self.pipeline = pipeline
            self.onBadRecord = onBadRecord
        }
    }

    public struct BadRecord: Codable, Sendable, Hashable {
        public var line: Int
        public var message: String
    }

    /// What a `data` job returns: the output records inline when there are at most
    /// ``DataHandler/inlineLimit``, else in a JSON Lines file named by `file`.
    public struct Output: Codable, Sendable {
        public var records: [JSONValue]?
        public var file: String?
        public var count: Int
        public var read: Int
        public var dropped: Int
        public var failed: Int
        public var badRecords: [BadRecord]
    }

    public static let inlineLimit = 1_000

    public let outputDirectory: String
    public let folders: AllowedFolders

    public static let kind = "data"

    public init(outputDirectory: String, folders: AllowedFolders = AllowedFolders(["."])) {
        self.outputDirectory = outputDirectory
        self.folders = folders
    }

    public func run(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let onBadRecord = PipelineRunner.OnBadRecord(rawValue: payload.onBadRecord ?? "fail") else {
            throw OffloadError(.invalidPayload, "payload.onBadRecord must be fail or skip")
        }
        let name = Self.fileName(for: context.jobID)
        let runner = try PipelineRunner(
            pipeline: payload.pipeline, onBadRecord: onBadRecord,
            output: .init(directory: outputDirectory, name: name, inlineLimit: Self.inlineLimit),
            limits: context.limits)
        let source = try RecordSource(payload.input, folders: folders)
        source.scanner = Step.neededPaths(runner.steps).map(FieldScanner.init)
        let outcome = try await context.withCancellationCheck { cancelled throws -> PipelineRunner.Outcome in
            do {
                if runner.isSplittable, let path = source.linesPath, Self.fileSize(path) >= ParallelFileRun.minimumBytes {
                    return try await ParallelFileRun.run(runner, path: path, name: source.name, scanner: source.scanner, cancelled: cancelled)
                }
                return try runner.run(source, cancelled: cancelled)
            } catch let error as OffloadError {
                // Stopped because the pool asked: said the way the pool understands (a preempted
                // job then goes back to the queue instead of failing).
                if error.code == .cancelled && cancelled() { throw CancellationError() }
                throw error
            }
        }
        var output = Output(
            records: nil, file: outcome.file, count: outcome.count, read: outcome.read, dropped: outcome.dropped,
            failed: outcome.failed, badRecords: outcome.badRecords.map { BadRecord(line: $0.line, message: $0.message) })
        if outcome.file == nil {
            // The output of a group, aggregate or sort: inline when small, else a file like a streamed one.
            let sink = RecordSink(inlineLimit: Self.inlineLimit, directory: outputDirectory, name: name)
            for record in outcome.records { try sink.append(record) }
            output.file = try sink.finish()
            if output.file == nil { output.records = sink.records }
        }
        return output
    }

    private static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    static func fileName(for job: JobID) -> String { OutputFile.name(for: job, extension: "jsonl") }
}

extension HandlerRegistry {
    /// Adds the `data` kind, reading inputs under `folders` and writing large outputs to `outputDirectory`.
    public mutating func registerData(outputDirectory: String, folders: AllowedFolders = AllowedFolders(["."])) throws(OffloadError) {
        try register(DataHandler(outputDirectory: outputDirectory, folders: folders), writingTo: outputDirectory)
    }
}
