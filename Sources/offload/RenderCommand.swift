import ArgumentParser
import Offload
import OffloadImage

#if canImport(Glibc)
import Glibc
#endif

/// `offload render`: one Open Graph card from flags, rendered by an `image` job in a pool.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render one Open Graph card (1200×630 by default) to a file.",
        discussion: """
            Examples:
              offload render --title "Hello 🚀" --description "From a worker" -o card.png
              offload render --params card.json --format webp --quality 80 --filter "sepia(0.6)" -o card.webp
            --params reads an image payload ({"params":{…},"background":…,"filters":[…]}) or bare params ({"title":…});
            flags override it. --filter takes CSS functions (blur(4px), brightness(1.2), contrast(0.9), saturate(1.5),
            hue-rotate(90deg), grayscale(1), sepia(0.8), invert(1), opacity(0.5)) or a filter object in JSON.
            """
    )

    @Option(name: .long, help: "The title.")
    var title: String?

    @Option(name: .long, help: "The description under the title.")
    var description: String?

    @Option(name: .long, help: "A JSON file: an image payload or bare params.", completion: .file())
    var params: String?

    @Option(name: .long, help: "png, jpeg or webp (default: from the output file's extension, else png).")
    var format: String?

    @Option(name: .long, help: "JPEG or WebP quality, 1–100 (default 85).")
    var quality: Int?

    @Option(name: .long, help: "A filter, applied in the order given (repeatable).")
    var filter: [String] = []

    @Option(name: .long, help: "Card width in pixels (default 1200).")
    var width: Int?

    @Option(name: .long, help: "Card height in pixels (default 630).")
    var height: Int?

    @Option(name: [.short, .customLong("output")], help: "The file to write.")
    var output: String = "card.png"

    @Option(name: .long, help: "Where the job runs: thread or process.")
    var isolation: String = "thread"

    func run() async throws {
        let payload: JSONValue
        do { payload = try makePayload() } catch {
            throw fail("offload render: \(error.message).")
        }
        guard let isolation = Isolation(named: isolation) else { throw fail("offload render: unknown isolation '\(self.isolation)'.") }
        let scratch = "\(folder(of: output))/.offload-render-\(getpid())"
        let roots = ["."] + (params.map { [folder(of: $0)] } ?? [])
        var configuration = PoolConfiguration(isolation: isolation, scaling: .fixed(1))
        configuration.workerProcess.environment = HandlerRegistry.workerEnvironment(outputDirectory: scratch, allowedRoots: roots)
        let outcome: JobOutcome
        do {
            outcome = try await WorkerPool.withPool(
                configuration: configuration, registry: .offloadCLI(outputDirectory: scratch, allowedRoots: roots)
            ) { pool in
                try await pool.process(Job(id: "card", kind: "image", payload: .json(payload)))
            }
        } catch let error as OffloadError {
            throw fail("offload render: \(error.message).")
        }
        defer { rmdir(scratch) }
        guard outcome.status == .completed, let result = try? outcome.value(as: ImageHandler.Output.self) else {
            throw fail("offload render: \(outcome.error?.description ?? "the job did not complete").")
        }
        guard let file = result.file else { throw fail("offload render writes a file: the payload may not ask for \"output\": \"inline\".") }
        guard rename(file, output) == 0 else {
            unlink(file)
            throw fail("offload render: cannot write \(output): \(String(cString: strerror(errno))).")
        }
        print(
            "\(output): \(result.format), \(result.width)×\(result.height), \(result.bytes) bytes, render \(milliseconds(result.renderMs)) ms, encode \(milliseconds(result.encodeMs)) ms"
        )
    }

    /// The payload: `--params` (an image payload or bare params), then the flags over it.
    private func makePayload() throws(OffloadError) -> JSONValue {
        var root: [(key: String, value: JSONValue)] = []
        var card: [(key: String, value: JSONValue)] = []
        if let params {
            let text: [UInt8]
            do { text = try readFile(params) } catch {
                throw OffloadError(
                    .invalidPayload, "cannot read --params \(params): \(error.code == EFBIG ? "over \(Self.maxParamsBytes >> 20) MiB" : error.reason)"
                )
            }
            let json: JSONValue
            do { json = try JSONParser.parse(text) } catch { throw OffloadError(.invalidPayload, "--params \(params) is not JSON: \(error)") }
            guard case .object(let members) = json else { throw OffloadError(.invalidPayload, "--params \(params) must hold a JSON object") }
            if case .object(let inner)? = json["params"] {
                root = members.filter { $0.key != "params" }
                card = inner
            } else {
                card = members
            }
        }
        func set(_ key: String, _ value: JSONValue?, in object: inout [(key: String, value: JSONValue)]) {
            guard let value else { return }
            object.removeAll { $0.key == key }
            object.append((key, value))
        }
        set("title", title.map(JSONValue.string), in: &card)
        set("description", description.map(JSONValue.string), in: &card)
        if !card.contains(where: { $0.key == "title" }) { throw OffloadError(.invalidPayload, "give --title (or a title in --params)") }
        set("params", .object(card), in: &root)
        let chosen = format ?? formatFromExtension
        set("outputFormat", chosen.map(JSONValue.string), in: &root)
        set("quality", quality.map { .int(Int64($0)) }, in: &root)
        if width != nil || height != nil {
            set("dimensions", .object([("width", .int(Int64(width ?? 1200))), ("height", .int(Int64(height ?? 630)))]), in: &root)
        }
        if !filter.isEmpty {
            var filters: [JSONValue] = []
            if case .array(let existing)? = root.first(where: { $0.key == "filters" })?.value { filters = existing }
            for text in filter { filters.append(try CSSFilterSyntax.parse(text)) }
            set("filters", .array(filters), in: &root)
        }
        return .object(root)
    }

    private var formatFromExtension: String? {
        guard let dot = output.lastIndex(of: "."), !output[dot...].contains("/") else { return nil }
        switch output[output.index(after: dot)...].lowercased() {
        case "png": return "png"
        case "jpg", "jpeg": return "jpeg"
        case "webp": return "webp"
        default: return nil
        }
    }

    private func milliseconds(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }

    /// The whole of `path` (a file or a pipe), at most ``maxParamsBytes``: `/dev/zero` is refused
    /// once past it, not read until memory runs out.
    private func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw SystemError(code: errno) }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            guard bytes.count <= Self.maxParamsBytes else { throw SystemError(code: EFBIG) }
        }
    }

    static let maxParamsBytes = 16 << 20

    private func fail(_ sentence: String) -> ExitCode {
        FileSink.standardError.write(Array((sentence + "\n").utf8))
        FileSink.standardError.flush()
        return ExitCode(1)
    }
}

/// CSS filter functions (`blur(4px)`, `hue-rotate(90deg)`, `brightness(1.2)`…) as filter objects.
enum CSSFilterSyntax {
    static func parse(_ text: String) throws(OffloadError) -> JSONValue {
        let trimmed = String(text.drop(while: \.isWhitespace))
        if trimmed.hasPrefix("{") {
            do { return try JSONParser.parse(trimmed) } catch { throw OffloadError(.invalidPayload, "--filter \(text) is not JSON: \(error)") }
        }
        guard let open = trimmed.firstIndex(of: "("), trimmed.hasSuffix(")") else {
            throw OffloadError(.invalidPayload, "--filter '\(text)' is neither a CSS filter function like blur(4px) nor a JSON object")
        }
        let name = String(trimmed[..<open])
        var argument = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        var percent = false
        for unit in ["px", "deg", "%"] where argument.hasSuffix(unit) {
            percent = unit == "%"
            argument.removeLast(unit.count)
        }
        guard var value = Double(argument) else { throw OffloadError(.invalidPayload, "--filter '\(text)': '\(argument)' is not a number") }
        if percent { value /= 100 }
        func filter(_ type: String, _ key: String, _ number: Double) -> JSONValue {
            .object([("type", .string(type)), (key, .double(number))])
        }
        switch name {
        case "blur": return filter("blur", "radius", value)
        case "brightness": return filter("brightness", "value", value - 1)
        case "contrast": return filter("contrast", "value", value - 1)
        case "saturate": return filter("saturation", "value", value - 1)
        case "hue-rotate": return filter("hueRotate", "degrees", value)
        case "grayscale", "sepia", "invert", "opacity": return filter(name, "amount", value)
        default:
            throw OffloadError(
                .invalidPayload, "--filter '\(text)': \(name) is not a CSS filter function (use a JSON object for dropShadow, glow, emboss, sharpen)")
        }
    }
}
