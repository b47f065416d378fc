package import Offload

/// Where the records of a pipeline that streams to its end go: the first ones in memory, and once
/// there are more than a result holds inline, all of them to a JSON Lines file, written as they
/// come (the output is never held whole).
package final class RecordSink {
    package let inlineLimit: Int
    let directory: String
    let name: String
    /// Tells apart the files of several sinks writing parts of one output at once.
    let tag: String
    /// The records while there are at most `inlineLimit` of them (then empty: they are in the file).
    package private(set) var records: [JSONValue] = []
    package private(set) var count = 0
    private var writer: OutputFile.Writer?
    private var pending: [UInt8] = []

    package init(inlineLimit: Int, directory: String, name: String, tag: String = "") {
        self.inlineLimit = inlineLimit
        self.directory = directory
        self.name = name
        self.tag = tag
    }

    /// Whether the records went to the file.
    var spilled: Bool { writer != nil }

    package func append(_ record: JSONValue) throws(OffloadError) {
        count += 1
        if writer == nil {
            if records.count < inlineLimit {
                records.append(record)
                return
            }
            writer = try OutputFile.Writer(directory: directory, name: name, tag: tag)
            for kept in records { encode(kept) }
            records = []
        }
        encode(record)
        if pending.count >= 1 << 20 { try flush() }
    }

    /// Appends a record that `write` writes as JSON straight from where its values are, without
    /// building it; `build` makes it while records are kept in memory.
    func append(build: () -> JSONValue, write: (inout [UInt8]) -> Void) throws(OffloadError) {
        guard writer != nil else { return try append(build()) }
        count += 1
        write(&pending)
        pending.append(0x0A)
        if pending.count >= 1 << 20 { try flush() }
    }

    private func encode(_ record: JSONValue) {
        JSONWriter.write(record, into: &pending)
        pending.append(0x0A)
    }

    private func flush() throws(OffloadError) {
        try writer?.append(pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Names the file with all the records (`directory/name`); `nil` when they fit inline.
    package func finish() throws(OffloadError) -> String? {
        guard let writer else { return nil }
        try flush()
        try writer.commit()
        return writer.path
    }

    /// One sink holding, in order, the records of sinks that each took a part of the input.
    static func joining(_ parts: [RecordSink], inlineLimit: Int, directory: String, name: String) throws(OffloadError) -> RecordSink {
        let joined = RecordSink(inlineLimit: inlineLimit, directory: directory, name: name)
        for part in parts {
            if part.spilled {
                if joined.writer == nil {
                    joined.writer = try OutputFile.Writer(directory: directory, name: name)
                    for kept in joined.records { joined.encode(kept) }
                    joined.records = []
                }
                try joined.flush()
                try part.flush()
                try joined.writer!.appendFile(part.writer!.temporaryPath)
                part.writer!.discard()
                joined.count += part.count
            } else {
                for record in part.records { try joined.append(record) }
            }
        }
        return joined
    }
}
