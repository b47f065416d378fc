#if canImport(Glibc)
import Glibc
#endif
import Offload
import OffloadImage

/// `image` (Offload's side): CPU time per card (render + encode, PNG and JPEG q85), images/s
/// through 2 worker processes ÷ 1, and a rendering worker's peak RSS. `benchmarks/image/run`
/// runs the Pillow and resvg peers on the same card and prints the ratios.
struct ImageSuite {
    let card: String
    let images: Int
    let output: String

    func run() async throws {
        let payload = try loadPayload()
        var png: [Double] = []
        var jpeg: [Double] = []
        var jpegPayload = payload
        jpegPayload.outputFormat = "jpeg"
        jpegPayload.quality = 85
        let (pngSpec, jpegSpec) = (try CardSpec(payload), try CardSpec(jpegPayload))
        _ = try CardImage.make(pngSpec)
        for _ in 0..<images {
            png.append(try cpuMilliseconds { _ = try CardImage.make(pngSpec) })
            jpeg.append(try cpuMilliseconds { _ = try CardImage.make(jpegSpec) })
        }
        let one = try await throughput(workers: 1, payload: payload)
        let two = try await throughput(workers: 2, payload: payload)
        Report.line([
            ("suite", .string("image")), ("side", .string("offload")),
            ("pngMsP50", .number(Report.median(png))), ("jpegMsP50", .number(Report.median(jpeg))),
            ("imagesPerSecond1", .number(one.rate)), ("imagesPerSecond2", .number(two.rate)),
            ("workerPeakRssMB", .number(Double(max(one.peak, two.peak)) / 1e6))
        ])
    }

    private func loadPayload() throws -> ImagePayload {
        let json = try JSONValue(parsing: ProcFS.lines(card).joined(separator: "\n"))
        return try JSONValueDecoder().decode(ImagePayload.self, from: json)
    }

    private func cpuMilliseconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return Double(end.tv_sec - start.tv_sec) * 1e3 + Double(end.tv_nsec - start.tv_nsec) / 1e6
    }

    /// Cards a second through `workers` worker processes (this executable re-run), and the
    /// largest peak RSS among them.
    private func throughput(workers: Int, payload: ImagePayload) async throws -> (rate: Double, peak: Int) {
        var configuration = PoolConfiguration(isolation: .process, scaling: .fixed(workers), preemption: false)
        configuration.workerProcess.environment["OFFLOAD_OUTPUT_DIR"] = output
        var registry = HandlerRegistry.diagnostics
        try registry.registerImage(outputDirectory: output)
        return try await WorkerPool.withPool(configuration: configuration, registry: registry) { pool in
            // Warm every worker (fontconfig) before timing.
            for index in 0..<(workers * 2) { _ = try await pool.process(job(payload, "warm\(index)")) }
            let count = images * 2
            let start = ContinuousClock.now
            var handles: [JobHandle<JSONValue>] = []
            for index in 0..<count { handles.append(try await pool.submit(job(payload, "card\(index)"))) }
            var pids: Set<Int32> = []
            for handle in handles {
                let outcome = await handle.outcome
                precondition(outcome.status == .completed, "\(outcome.error?.description ?? "")")
                if let pid = outcome.workerPID { pids.insert(pid) }
            }
            let elapsed = ContinuousClock.now - start
            let peak =
                pids.map { pid in
                    ProcFS.lines("/proc/\(pid)/status").first { $0.hasPrefix("VmHWM:") }
                        .map { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0 } ?? 0
                }.max() ?? 0
            return (Double(count) / elapsed.secondsValue, peak * 1024)
        }
    }

    private func job(_ payload: ImagePayload, _ id: String) throws -> Job {
        Job(id: JobID(id), kind: "image", payload: .value(payload))
    }
}
