import Offload
import Testing
@testable import OffloadImage

@Suite struct AnimationTests {
    private func spec(_ json: String) throws -> CardSpec {
        try CardSpec(try JSONValueDecoder().decode(ImagePayload.self, from: try JSONParser.parse(json)))
    }

    private func animation(_ json: String) throws -> AnimationSpec {
        try AnimationSpec(try JSONParser.parse(json), field: "a", cardWidth: 1200, cardHeight: 630)
    }

    @Test func progressFollowsCSSTimingDirectionAndFill() throws {
        let linear = try animation(##"{"type":"fadeIn","durationMs":1000,"delayMs":500}"##)
        #expect(linear.progress(at: 0) == 0)  // fill backwards (default both): the start state
        #expect(linear.progress(at: 1.0) == 0.5)
        #expect(linear.progress(at: 3) == 1)  // fill forwards: the end state
        let none = try animation(##"{"type":"fadeIn","durationMs":1000,"delayMs":500,"fillMode":"none"}"##)
        #expect(none.progress(at: 0) == nil && none.progress(at: 3) == nil)
        let alternate = try animation(##"{"type":"fadeIn","durationMs":1000,"iterationCount":2,"direction":"alternate"}"##)
        #expect(alternate.progress(at: 0.25) == 0.25)
        #expect(alternate.progress(at: 1.25) == 0.75)  // the second run goes backwards
        #expect(alternate.progress(at: 5) == 0)  // and ends where it started
        let eased = try animation(##"{"type":"fadeIn","durationMs":1000,"easing":"easeOut"}"##)
        #expect(abs(eased.progress(at: 0)!) < 1e-9 && abs(eased.progress(at: 1)! - 1) < 1e-9)
        #expect(eased.progress(at: 0.5)! > 0.6)  // ease-out is ahead at half time
        let bezier = try animation(##"{"type":"fadeIn","easing":{"cubicBezier":[0.25,0.1,0.25,1]}}"##)
        #expect(bezier.progress(at: 0.4)! > 0.5)
    }

    @Test func animatedFormatsHaveEveryFrame() throws {
        let base =
            ##"{"params":{"title":"Moving"},"dimensions":{"width":160,"height":90},"frameRate":10,"animations":[{"type":"slideIn","from":"up","durationMs":500},{"type":"fadeIn","durationMs":500}],"outputFormat":"FORMAT"}"##
        let gif = try CardImage.make(try spec(base.replacing("FORMAT", with: "gif")))
        #expect(gif.frames == 6)
        #expect(Array(gif.bytes.prefix(6)) == Array("GIF89a".utf8))
        #expect(gif.bytes.count > 1000)
        let webp = try CardImage.make(try spec(base.replacing("FORMAT", with: "webp")))
        #expect(Array(webp.bytes[8..<16]) == Array("WEBPVP8X".utf8))
        #expect(String(decoding: webp.bytes, as: UTF8.self).contains("ANIM"))
        let apng = try CardImage.make(try spec(base.replacing("FORMAT", with: "apng")))
        let text = apng.bytes
        // acTL with 6 frames, and as many fcTL chunks.
        let acTL = Array("acTL".utf8)
        let index = (0..<(text.count - 8)).first { Array(text[$0..<($0 + 4)]) == acTL }!
        #expect(Array(text[(index + 4)..<(index + 8)]) == [0, 0, 0, 6])
        let fcTL = Array("fcTL".utf8)
        #expect((0..<(text.count - 4)).filter { Array(text[$0..<($0 + 4)]) == fcTL }.count == 6)
        // The frames still decode as a PNG (its first frame).
        #expect(try RasterDecoder.decode(apng.bytes, field: "apng").width == 160)
    }

    @Test func badAnimationsNameTheirField() throws {
        let cases: [(String, String)] = [
            (##"{"params":{"title":"x"},"animations":[{"type":"fadeIn"}]}"##, "need an animated payload.outputFormat"),
            (##"{"params":{"title":"x"},"outputFormat":"gif","animations":[{"type":"spin"}]}"##, "payload.animations[0].type 'spin'"),
            (##"{"params":{"title":"x"},"outputFormat":"gif","animations":[{"type":"slideIn","from":"north"}]}"##, "payload.animations[0].from"),
            (##"{"params":{"title":"x"},"outputFormat":"gif","animations":[{"type":"fadeIn","easing":"bouncy"}]}"##, "payload.animations[0].easing"),
            (##"{"params":{"title":"x"},"outputFormat":"gif","animations":[{"type":"fadeIn","durationMs":20000}]}"##, "over the limit of 150"),
            (##"{"params":{"title":"x"},"outputFormat":"gif","frameRate":100,"animations":[{"type":"fadeIn"}]}"##, "payload.frameRate")
        ]
        for (json, expected) in cases {
            do {
                _ = try spec(json)
                Issue.record("accepted: \(json)")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }
}
