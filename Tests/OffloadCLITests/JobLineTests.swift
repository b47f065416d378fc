import OffloadTestSupport
import Testing
@testable import Offload
@testable import OffloadJobFiles

@Suite struct JobLineTests {
    let kinds: Set<String> = Set(HandlerRegistry.diagnostics.kinds)

    func parseFailure(_ line: String) -> JobLine.Failure? {
        if case .failure(let failure) = JobLine.parse(Array(line.utf8), number: 7, knownKinds: kinds) { return failure }
        return nil
    }

    @Test func aFullLine() throws {
        let line =
            #"{"id":"a1","kind":"debug.sleep","priority":"high","delayMs":300,"timeoutMs":5000,"maxRetries":2,"retryBackoff":{"initialMs":50,"multiplier":3,"maxMs":1000,"jitter":0},"capabilities":["x"],"payload":{"ms":5}}"#
        let now = ContinuousClock.now
        let job = try JobLine.parse(Array(line.utf8), number: 1, knownKinds: kinds, now: now).get()
        #expect(job.id == "a1")
        #expect(job.priority == .high)
        #expect(job.runAt == now + .milliseconds(300))
        #expect(job.timeout == .seconds(5))
        #expect(job.maxRetries == 2)
        #expect(job.retryPolicy.initialDelay == .milliseconds(50))
        #expect(job.requiredCapabilities == ["x"])
    }

    @Test func theIdDefaultsToTheLineNumber() throws {
        let job = try JobLine.parse(Array(#"{"kind":"debug.echo"}"#.utf8), number: 12, knownKinds: kinds).get()
        #expect(job.id == "12")
    }

    @Test(arguments: [
        (#"{"kind":"debug.sleep","payload":{"ms":1}"#, "invalidPayload", "malformed JSON"),
        (#"{"kind":"wat"}"#, "unknownKind", "unknown kind 'wat'"),
        (#"{"kind":"debug.sleep","priority":"urgent"}"#, "invalidPayload", "priority 'urgent'"),
        (#"{"kind":"debug.sleep","timeoutMs":-1}"#, "invalidPayload", "timeoutMs must be positive"),
        (#"{"kind":"debug.sleep","timeout":100}"#, "invalidPayload", "unknown key 'timeout'"),
        (#"{"kind":"debug.sleep","maxRetries":1.5}"#, "invalidPayload", "maxRetries"),
        (#"{"payload":{}}"#, "invalidPayload", "kind is required"),
        (#"[1,2]"#, "invalidPayload", "must be a JSON object"),
        (#"{"kind":"debug.sleep","runAt":"tomorrow"}"#, "invalidPayload", "runAt")
    ])
    func badLinesNameTheProblem(line: String, code: String, fragment: String) throws {
        let failure = try #require(parseFailure(line))
        #expect(failure.error.code.rawValue == code)
        #expect(failure.error.message.hasPrefix("line 7: "))
        #expect(failure.error.message.contains(fragment), "\(failure.error.message)")
    }

    @Test func strictPayloadDecodingNamesTheUnknownKey() {
        struct Payload: Decodable {
            var ms: Double
            var label: String?
        }
        #expect(throws: OffloadError.self) {
            try JobPayload.json(try JSONParser.parse(#"{"ms":1,"lable":"x"}"#)).decode(Payload.self)
        }
        let value = try! JSONParser.parse(#"{"ms":"fast"}"#)
        do throws(OffloadError) {
            _ = try JobPayload.json(value).decode(Payload.self)
            Issue.record("a string for a number must fail")
        } catch {
            #expect(error.code == .invalidPayload)
            #expect(error.message.contains("payload.ms"))
        }
    }

    @Test func jsonRoundTrip() throws {
        let text = #"{"a":[1,2.5,-3e2,true,null],"b":{"c":"é\n\"x\"\u0001😀"}}"#
        let value = try JSONParser.parse(text)
        #expect(try JSONParser.parse(JSONWriter.string(value)) == value)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(String(repeating: "[", count: 10_000)) }
    }
}
