// swift-format-ignore-file
// (The docs show these lines as they are written here.)
import Offload

struct Resize: JobHandler {
    struct Payload: Codable, Sendable { var path: String; var width: Int }
    struct Output: Codable, Sendable { var written: String }
    static let kind = "resize"

    func run(_ payload: Payload, context: JobContext) async throws -> Output {
        try context.checkCancellation()
        context.reportProgress(0.5)
        return Output(written: "\(payload.path)@\(payload.width)")
    }
}
