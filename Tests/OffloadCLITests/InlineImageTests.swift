import Foundation
import OffloadTestSupport
import Testing
@testable import Offload

/// `"output": "inline"`: the `image` kind hands the encoded card back in its result and writes
/// no file, in a thread and in a real worker process, within the message budget.
@Suite struct InlineImageTests {
    @Test(arguments: ["thread", "process"])
    func anInlineCardIsInItsResultAndNoFileIsWritten(isolation: String) async throws {
        let folder = temporaryFolder("inline-\(isolation)")
        defer { removeTree(folder) }
        writeFile(
            "\(folder)/cards.jsonl",
            """
            {"id":"inline","kind":"image","payload":{"params":{"title":"In memory"},"output":"inline"}}
            {"id":"jpeg","kind":"image","payload":{"params":{"title":"In memory"},"outputFormat":"jpeg","output":"inline"}}
            {"id":"file","kind":"image","payload":{"params":{"title":"On disk"}}}
            {"id":"unknown","kind":"image","payload":{"params":{"title":"Where?"},"output":"s3"}}
            {"id":"too-big","kind":"image","payload":{"params":{"title":"Too big"},"dimensions":{"width":2400,"height":2400},"output":"inline"}}

            """)
        let out = "\(folder)/out"
        let run = try await runCommand(
            builtExecutable("offload"),
            ["run", "cards.jsonl", "--isolation", isolation, "--workers", "1", "--out", out, "--quiet", "--limit", "messageBytes=65536"],
            directory: folder, timeout: .seconds(120))
        #expect(run.status == 0, "\(run.output.suffix(2_000))")
        let results = try resultLines(in: out)

        let inline = try #require(results["inline"]?["result"])
        #expect(inline["file"] == nil || inline["file"] == .null)
        let png = try #require(inline["base64"]?.stringValue.flatMap { Base64.decode(Substring($0)) })
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(inline["bytes"] == .int(Int64(png.count)))
        let jpeg = try #require(results["jpeg"]?["result"]?["base64"]?.stringValue.flatMap { Base64.decode(Substring($0)) })
        #expect(jpeg.starts(with: [0xFF, 0xD8, 0xFF]))
        // Only the file card wrote a file.
        let written = try FileManager.default.contentsOfDirectory(atPath: out + "/files").filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }
        #expect(written == ["file.png"], "\(written)")

        #expect(results["unknown"]?["error"]?["code"] == "invalidPayload")
        #expect(results["unknown"]?["error"]?["message"]?.stringValue?.contains("not one of file, inline") == true)
        // A card larger than the message budget is refused by its worker, whatever the isolation.
        #expect(results["too-big"]?["status"] == "failed")
        #expect(results["too-big"]?["error"]?["code"] == "resourceLimitExceeded", "\(results["too-big"].map(JSONWriter.string) ?? "")")
    }
}
