#if canImport(Glibc)
import Glibc
#endif
import Offload
import OffloadData
import Testing
@testable import OffloadAnalytics

@Suite struct AnalyticsTests {
    static let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    static let iphone =
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"

    static let events = ##"""
        [{"eventType":"page_view","timestamp":"2026-11-29T10:05:00Z","durationMs":120,"userId":"u1","sessionId":"a","ip":"203.0.113.7","userAgent":"CHROME"},
         {"eventType":"page_view","timestamp":"2026-11-29T10:40:00Z","durationMs":80,"userId":"u2","sessionId":"b","ip":"198.51.100.9","userAgent":"IPHONE"},
         {"eventType":"click","timestamp":1795946400,"durationMs":5,"userId":"u1","sessionId":"a"},
         {"eventType":"page_view","timestamp":"2026-11-29T11:10:00Z","durationMs":200,"userId":"u1","sessionId":"c"},
         {"eventType":"heartbeat","timestamp":"2026-11-29T11:20:00Z","userId":"u2"}]
        """##.replacing("CHROME", with: chrome).replacing("IPHONE", with: iphone)

    private func analyze(_ extra: String, events: String = events) async throws -> AnalyticsHandler.Output {
        let json = try JSONParser.parse(##"{"events":EVENTS,"##.replacing("EVENTS", with: events) + extra + "}")
        var registry = HandlerRegistry()
        try registry.registerAnalytics(folders: AllowedFolders(["/tmp"]))
        return try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            let outcome = try await pool.process(Job(kind: "analytics", payload: .json(json)))
            if let error = outcome.error { throw error }
            return try outcome.value(as: JSONValue.self).decodedOutput()
        }
    }

    @Test func bucketsPerHourAndEventType() async throws {
        let output = try await analyze(
            ##""filter":{"field":"eventType","cmp":"ne","value":"heartbeat"},"aggregate":{"groupBy":["eventType"],"granularity":"hour","metrics":[{"fn":"count","as":"events"},{"fn":"percentile","field":"durationMs","p":95,"as":"p95"},{"fn":"unique","field":"sessionId","as":"sessions"}]}"##
        )
        #expect(output.read == 5 && output.filteredOut == 1 && output.rejected == 0)
        // 1795946400 is 2026-11-29T10:00:00Z.
        #expect(output.series.map { $0["bucket"]?.stringValue ?? "" } == ["2026-11-29T10:00:00Z", "2026-11-29T10:00:00Z", "2026-11-29T11:00:00Z"])
        #expect(
            output.series[0]["eventType"] == .string("page_view") && output.series[0]["events"] == .int(2) && output.series[0]["sessions"] == .int(2))
        #expect(output.series[1]["eventType"] == .string("click") && output.series[1]["events"] == .int(1))
        #expect(abs((output.series[0]["p95"]?.doubleValue ?? 0) - 118) < 1e-9)
    }

    @Test func deviceEnrichmentGroupsByBrowserAndDevice() async throws {
        let output = try await analyze(
            ##""enrich":["device"],"aggregate":{"groupBy":["device.browser","device.type"],"granularity":"day","metrics":[{"fn":"count","as":"n"}]}"##
        )
        let groups: [String] = output.series.map { row in
            let browser = row["device"]?["browser"]?.stringValue ?? "-"
            let type = row["device"]?["type"]?.stringValue ?? "-"
            return browser + "/" + type
        }
        #expect(groups == ["Chrome/desktop", "Safari/mobile", "-/-"])
    }

    @Test func privacyHashesAndAnonymizes() async throws {
        let output = try await analyze(
            ##""privacy":"anonymized","salt":"pepper","aggregate":{"groupBy":["userId","ip"],"granularity":"year","metrics":[{"fn":"count","as":"n"}]}"##
        )
        let hashed = output.series.compactMap { $0["userId"]?.stringValue }
        #expect(hashed.contains(SHA256.hex("pepperu1")))
        #expect(!hashed.contains("u1"))
        let addresses: [String] = output.series.compactMap { $0["ip"]?.stringValue }
        #expect(addresses.contains("203.0.113.0"))
        #expect(output.series.allSatisfy { $0["bucket"] == .string("2026-01-01T00:00:00Z") })
    }

    @Test func sessionsAreDerivedFromInactivity() async throws {
        let events = ##"""
            [{"eventType":"v","timestamp":0,"userId":"u"},{"eventType":"v","timestamp":600,"userId":"u"},
             {"eventType":"v","timestamp":4000,"userId":"u"},{"eventType":"v","timestamp":100,"userId":"w"}]
            """##
        let output = try await analyze(
            ##""enrich":["session"],"aggregate":{"granularity":"day","metrics":[{"fn":"unique","field":"sessionId","as":"sessions"},{"fn":"count","as":"n"}]}"##,
            events: events)
        // u: 0 and 600 s are one session, 4000 s (over 30 minutes later) a second; w: one.
        #expect(output.series == [.object([("bucket", .string("1970-01-01T00:00:00Z")), ("sessions", .int(3)), ("n", .int(4))])])
    }

    @Test func granularitiesStartWhereTheyShould() {
        let t = ISO8601.parse("2026-11-29T10:41:17.5Z")!  // a Sunday
        func iso(_ g: Granularity) -> String { AnalyticsRun.iso(g.bucketStart(t)) }
        #expect(iso(.second) == "2026-11-29T10:41:17Z")
        #expect(iso(.minute) == "2026-11-29T10:41:00Z")
        #expect(iso(.hour) == "2026-11-29T10:00:00Z")
        #expect(iso(.day) == "2026-11-29T00:00:00Z")
        #expect(iso(.week) == "2026-11-23T00:00:00Z")
        #expect(iso(.month) == "2026-11-01T00:00:00Z")
        #expect(iso(.quarter) == "2026-10-01T00:00:00Z")
        #expect(iso(.year) == "2026-01-01T00:00:00Z")
    }

    @Test func sha256MatchesKnownDigests() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func userAgents() {
        #expect(UserAgent(Self.chrome) == UserAgent(browser: "Chrome", os: "Windows", deviceType: "desktop"))
        #expect(UserAgent(Self.iphone) == UserAgent(browser: "Safari", os: "iOS", deviceType: "mobile"))
        #expect(UserAgent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").deviceType == "bot")
        #expect(UserAgent("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/119.0 Safari/537.36").deviceType == "tablet")
        #expect(IPAddress.anonymized("2001:db8:85a3:8d3:1319:8a2e:370:7348") == "2001:db8:85a3::")
    }

    @Test func badEventsAndPayloadsAreTypedErrors() async throws {
        let events =
            ##"[{"eventType":"v","timestamp":"soon"},{"timestamp":1},{"eventType":"v","timestamp":5,"durationMs":"x"},{"eventType":"v","timestamp":6,"durationMs":3}]"##
        let skipped = try await analyze(
            ##""onBadRecord":"skip","aggregate":{"granularity":"day","metrics":[{"fn":"sum","field":"durationMs","as":"total"}]}"##, events: events)
        #expect(skipped.rejected == 3 && skipped.badEvents.map(\.line) == [1, 2, 3])
        #expect(skipped.series.first?["total"] == .int(3))
        let cases: [(payload: String, events: String, expected: String)] = [
            (##""aggregate":{"granularity":"fortnight","metrics":[{"fn":"count"}]}"##, Self.events, "payload.aggregate.granularity"),
            (##""enrich":["geo"],"aggregate":{"granularity":"day","metrics":[{"fn":"count"}]}"##, Self.events, "payload.enrich[0] 'geo'"),
            (
                ##""enrich":["hashIdentifiers"],"aggregate":{"granularity":"day","metrics":[{"fn":"count"}]}"##, Self.events,
                "payload.salt is required"
            ),
            (##""privacy":"secret","aggregate":{"granularity":"day","metrics":[{"fn":"count"}]}"##, Self.events, "payload.privacy"),
            (##""aggregate":{"granularity":"day","metrics":[{"fn":"mode","field":"x"}]}"##, Self.events, "payload.aggregate.metrics[0].fn 'mode'"),
            (##""aggregate":{"granularity":"day","metrics":[{"fn":"count"}]}"##, events, "timestamp must be epoch seconds")
        ]
        for item in cases {
            do {
                _ = try await analyze(item.payload, events: item.events)
                Issue.record("accepted \(item.payload)")
            } catch let error as OffloadError {
                #expect(error.code == .invalidPayload)
                #expect(error.message.contains(item.expected), "\(error.message)")
            }
        }
    }
}

extension UserAgent {
    init(browser: String, os: String, deviceType: String) {
        self.init("")
        self.browser = browser
        self.os = os
        self.deviceType = deviceType
    }
}

extension JSONValue {
    func decodedOutput() throws -> AnalyticsHandler.Output {
        guard case .array(let series)? = self["series"] else { throw OffloadError(.invalidPayload, "no series") }
        var bad: [AnalyticsHandler.BadEvent] = []
        if case .array(let items)? = self["badEvents"] {
            for item in items {
                let line = Int(item["line"]?.doubleValue ?? 0)
                let message = item["message"]?.stringValue ?? ""
                bad.append(AnalyticsHandler.BadEvent(line: line, message: message))
            }
        }
        func count(_ key: String) -> Int { Int(self[key]?.doubleValue ?? -1) }
        return AnalyticsHandler.Output(
            series: series, read: count("read"), filteredOut: count("filteredOut"), rejected: count("rejected"), badEvents: bad)
    }
}

@Suite struct AnalyticsFileTests {
    @Test func aLargeFileIsReadInPartsWithExactLineNumbers() async throws {
        let path = "/tmp/offload-events-\(getpid()).jsonl"
        var text: [UInt8] = []
        let count = 46_000  // over 4 MB: read in parts
        for index in 1...count {
            let line =
                index == 40_000
                ? "{not json"
                : ##"{"eventType":"\##(index % 2 == 0 ? "a" : "b")","timestamp":\##(1795946400 + index),"durationMs":\##(index % 100),"sessionId":"s\##(index % 50)","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"##
            text += Array(line.utf8) + [0x0A]
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        let json = try JSONParser.parse(
            ##"{"events":{"path":"PATH"},"onBadRecord":"skip","aggregate":{"groupBy":["eventType"],"granularity":"day","metrics":[{"fn":"count","as":"n"},{"fn":"unique","field":"sessionId","as":"s"}]}}"##
                .replacing("PATH", with: path))
        var registry = HandlerRegistry()
        try registry.registerAnalytics(folders: AllowedFolders(["/tmp"]))
        let output = try await WorkerPool.withPool(configuration: PoolConfiguration(scaling: .fixed(1)), registry: registry) { pool in
            try await pool.process(Job(kind: "analytics", payload: .json(json))).value(as: JSONValue.self).decodedOutput()
        }
        #expect(output.read == count && output.rejected == 1)
        #expect(output.badEvents.map(\.line) == [40_000])
        #expect(output.badEvents.first?.message.contains("line 40000 is not valid JSON") == true)
        let total = output.series.reduce(0) { $0 + Int($1["n"]?.doubleValue ?? 0) }
        #expect(total == count - 1)
        #expect(output.series.allSatisfy { $0["s"] == .int(25) })
    }
}

@Suite struct AnalyticsFieldPathTests {
    /// Events aggregated straight from the fields read give what whole events give.
    @Test(arguments: [
        ##""filter":{"all":[{"field":"properties.plan","cmp":"eq","value":"pro"},{"field":"durationMs","cmp":"gt","value":10}]},"aggregate":{"groupBy":["eventType"],"granularity":"hour","metrics":[{"fn":"count","as":"n"},{"fn":"median","field":"durationMs","as":"m"}]}"##,
        ##""aggregate":{"groupBy":["properties.plan","pageId"],"granularity":"minute","metrics":[{"fn":"min","field":"timestamp","as":"first"},{"fn":"unique","field":"userId","as":"users"},{"fn":"sum","field":"durationMs","as":"total"}]}"##,
        ##""aggregate":{"granularity":"day","metrics":[{"fn":"count","as":"n"},{"fn":"sum","field":"durationMs","as":"total"}]}"##
    ])
    func fieldsAloneGiveWhatWholeEventsGive(extra: String) throws {
        var lines: [String] = []
        for index in 0..<400 {
            let type = ["page_view", "click", "scroll"][index % 3]
            let time = index % 7 == 0 ? "\"2026-11-29T10:\(10 + index % 40):00Z\"" : String(1_795_946_400 + index * 37)
            let duration = index % 11 == 0 ? "\"slow\"" : String(index % 50)
            lines.append(
                ##"{"eventType":"\##(type)","timestamp":\##(time),"durationMs":\##(duration),"userId":"u\##(index % 13)","pageId":"p\##(index % 4)","properties":{"plan":"\##(index % 3 == 0 ? "pro" : "free")"}}"##
            )
        }
        lines[5] = #"{"timestamp":1795946400}"#
        let json = try JSONParser.parse(#"{"events":["# + lines.joined(separator: ",") + "]," + extra + #","onBadRecord":"skip"}"#)
        let plan = try AnalyticsPlan(try JSONValueDecoder().decode(AnalyticsHandler.Payload.self, from: json, root: "payload"))
        func run(scanning: Bool) throws -> AnalyticsRun {
            let source = try RecordSource(json["events"]!, folders: AllowedFolders(["/tmp"]))
            if scanning { source.scanner = FieldScanner(paths: plan.neededPaths) }
            var run = AnalyticsRun(plan: plan)
            #expect((source.scanner.flatMap { run.slots(in: $0) } != nil) == scanning)
            try AnalyticsHandler.consume(source, into: &run, limits: ResourceLimits(), cancelled: { false })
            return run
        }
        let (fields, whole) = (try run(scanning: true), try run(scanning: false))
        #expect(fields.series() == whole.series())
        #expect(!fields.series().isEmpty)
        #expect((fields.read, fields.filteredOut, fields.rejected) == (whole.read, whole.filteredOut, whole.rejected))
        #expect(fields.badEvents.map(\.message) == whole.badEvents.map(\.message))
    }
}
