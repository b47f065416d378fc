import Foundation
import Logging
import Offload

/// swift-log's lines on standard error, as `StreamLogHandler` writes them, with every control
/// character written as `\xNN`: a value a job brings (its id, a message it threw) never drives
/// the terminal the log is read on.
struct TerminalLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let shown = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date().formatted(.iso8601)
        let line = "\(time) \(event.level) \(label):\(shown) \(event.message)"
        FileSink.standardError.write(VisibleText.escaped(Array(line.utf8)) + [0x0A])
        FileSink.standardError.flush()
    }
}
