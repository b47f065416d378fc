import Testing
import Offload
@testable import OffloadImage

@Suite struct CSSColorTests {
    @Test func parsesTheCSSForms() throws {
        #expect(CSSColor.parse("#fff") == CSSColor(red: 1, green: 1, blue: 1))
        #expect(CSSColor.parse("#0F172A")?.description == "#0f172a")
        #expect(CSSColor.parse("#ff000080")?.alpha == Double(0x80) / 255)
        #expect(CSSColor.parse("rgb(255, 0, 0)") == CSSColor(red: 1, green: 0, blue: 0))
        #expect(CSSColor.parse("rgba(0 0 255 / 50%)") == CSSColor(red: 0, green: 0, blue: 1, alpha: 0.5))
        #expect(CSSColor.parse("hsl(120, 100%, 50%)") == CSSColor(red: 0, green: 1, blue: 0))
        #expect(CSSColor.parse("RebeccaPurple")?.description == "#663399")
        #expect(CSSColor.parse("transparent")?.alpha == 0)
    }

    @Test func refusesWhatIsNotAColour() {
        for text in ["", "#ggg", "#12345", "rgb(300, 0, 0)", "rgb(1, 2)", "hsl(1, 2, 3)", "blurple", "rgba(0,0,0,2)"] {
            #expect(CSSColor.parse(text) == nil, "\(text)")
        }
        #expect(throws: Offload.OffloadError.self) { try CSSColor(parsing: "blurple", field: "payload.params.textColor") }
    }
}
