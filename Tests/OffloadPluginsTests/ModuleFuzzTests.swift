import Offload
import OffloadTestSupport
import Testing
@_spi(Benchmarks) @testable import OffloadPlugins

/// Random and hostile module texts through the WAT loader (the nesting check, WasmKit's text
/// parser, the module checks): each loads or is refused `invalidPlugin`, never a crash.
@Suite struct ModuleFuzzTests {
    private let manifest = try! PluginManifest(
        json: Array(#"{"id":"fuzz","version":"1.0.0","module":"module.wat","operations":["transform"]}"#.utf8), file: "plugin.json")

    private func load(_ text: String) -> OffloadError? {
        do throws(OffloadError) {
            _ = try PluginModule(manifest: manifest, bytes: Array(text.utf8), isText: true)
            return nil
        } catch {
            return error
        }
    }

    @Test func deepModulesAreRefusedBeforeParsing() {
        let body =
            #"(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) i32.const 0) (func (export "transform") (param i32 i32) (result i64) "#
        for (open, close) in [("(block ", ")"), ("block ", "end "), ("(loop ", ")"), ("(if (i32.const 1) (then ", "))")] {
            let deep = body + String(repeating: open, count: 10_000) + String(repeating: close, count: 10_000) + " i64.const 0))"
            let error = load(deep)
            #expect(
                error?.code == .invalidPlugin && error?.message.contains("nests deeper than 256") == true, "\(open): \(String(describing: error))")
        }
        // Just within the limit, it loads.
        let within = body + String(repeating: "(block ", count: 200) + String(repeating: ")", count: 200) + " i64.const 0))"
        #expect(load(within) == nil, "\(String(describing: load(within)))")
        // Parentheses in strings and comments do not count.
        let commented = body + ";; " + String(repeating: "(", count: 1_000) + "\n(; " + String(repeating: "(", count: 1_000) + " ;) i64.const 0))"
        #expect(load(commented) == nil, "\(String(describing: load(commented)))")
    }

    @Test func randomModuleTextsLoadOrAreRefused() async {
        let (refused, wrong) = await onOwnThread { Self.fuzzModules() }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        #expect(refused > 2_000)
    }

    private static func fuzzModules() -> (Int, [String]) {
        let manifest = try! PluginManifest(
            json: Array(#"{"id":"fuzz","version":"1.0.0","module":"module.wat","operations":["transform"]}"#.utf8), file: "plugin.json")
        var wrong: [String] = []
        var random = SeededRandom(seed: 0x3A5)
        let tokens = [
            "(", ")", "module", "func", "(export \"transform\")", "(param i32 i32)", "(result i64)", "block", "loop", "end",
            "i32.const 1", "i64.const 0", "drop", "br 0", "if", "then", "else", ";;", "(;", ";)", "\"", "\\", "memory", "1",
            "$x", "local.get 0", "unreachable", "call 0", "(type 0)", "\n", " "
        ]
        var refused = 0
        for _ in 0..<3_000 {
            let text = (0..<Int.random(in: 0...80, using: &random)).map { _ in tokens.randomElement(using: &random)! }.joined(separator: " ")
            do throws(OffloadError) {
                _ = try PluginModule(manifest: manifest, bytes: Array(text.utf8), isText: true)
            } catch {
                if error.code != .invalidPlugin && error.code != .permissionDenied { wrong.append("\(error)") }
                refused += 1
            }
        }
        return (refused, wrong)
    }
}
