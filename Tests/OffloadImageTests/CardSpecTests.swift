import Offload
import Testing
@testable import OffloadImage

@Suite struct CardSpecTests {
    private func payload(_ json: String) throws -> ImagePayload {
        try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json))
    }

    private func failure(_ json: String) throws -> OffloadError? {
        do {
            _ = try CardSpec(try payload(json))
            return nil
        } catch let error as OffloadError {
            return error
        }
    }

    @Test func defaultsToA1200By630PNG() throws {
        let spec = try CardSpec(try payload(##"{"params":{"title":"Hello"}}"##))
        #expect(spec.width == 1200 && spec.height == 630)
        #expect(spec.format == .png)
        #expect(spec.textColor == .white)
    }

    @Test func everyBadInputNamesItsField() throws {
        let cases: [(String, String)] = [
            (##"{"params":{"title":""}}"##, "payload.params.title"),
            (##"{"params":{"title":"x","width":0}}"##, "payload.params.width"),
            (##"{"params":{"title":"x"},"dimensions":{"width":1200,"height":5000}}"##, "payload.dimensions.height"),
            (##"{"params":{"title":"x"},"dimensions":{"width":4096,"height":4096}}"##, "pixels, over the budget"),
            (##"{"params":{"title":"x","backgroundColor":"#12"}}"##, "payload.params.backgroundColor"),
            (##"{"params":{"title":"x"},"quality":0,"outputFormat":"jpeg"}"##, "payload.quality"),
            (##"{"params":{"title":"x"},"outputFormat":"bmp"}"##, "payload.outputFormat"),
            (##"{"params":{"title":"x","textShadow":{"color":"nope","blur":1,"offsetX":0,"offsetY":0}}}"##, "payload.params.textShadow.color"),
            (##"{"params":{"title":"x"},"background":{"type":"linear","colors":["red"]}}"##, "payload.background.colors"),
            (##"{"params":{"title":"x"},"background":{"type":"conic","colors":["red","blue"]}}"##, "payload.background"),
            (##"{"params":{"title":"x","titleFontSize":2}}"##, "payload.params.titleFontSize")
        ]
        for (json, field) in cases {
            let error = try failure(json)
            #expect(error?.code == .invalidPayload, "\(json)")
            #expect(error?.message.contains(field) == true, "\(json): \(error?.message ?? "no error")")
        }
    }
}
