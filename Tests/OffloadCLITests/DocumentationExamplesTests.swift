#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload
@testable import offload_examples

/// Every Swift example of the docs — README, docs/, the DocC catalog, and the doc comments of
/// the sources — is found word for word in `Tests/DocumentationExamples`, which the build
/// compiles: an example that no longer compiles fails the build, one that drifts from the code
/// fails this test. And the README's program runs, in process isolation.
@Suite struct DocumentationExamplesTests {
    static let root = PluginJobFileTests.root

    /// The files under `folder` (recursively) whose names end with `suffix`.
    static func files(under folder: String, ending suffix: String) -> [String] {
        guard let handle = opendir(folder) else { return [] }
        defer { closedir(handle) }
        var found: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix(".") else { continue }
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR { found += files(under: path, ending: suffix) } else if name.hasSuffix(suffix) { found.append(path) }
        }
        return found.sorted()
    }

    /// The ```swift blocks of a text, each as its lines; `prefix` is stripped from every line first
    /// (`///` for doc comments).
    static func swiftBlocks(in text: String, prefix: String? = nil) -> [[String]] {
        var blocks: [[String]] = []
        var current: [String]?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(raw)
            if let prefix {
                let trimmed = line.drop { $0 == " " }
                guard trimmed.hasPrefix(prefix) else {
                    if current != nil { current = nil }
                    continue
                }
                line = trimmed.dropFirst(prefix.count)
            }
            let stripped = line.trimmingSpaces()
            if current == nil {
                if stripped == "```swift" { current = [] }
            } else if stripped == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current!.append(stripped)
            }
        }
        // A package manifest is checked by building a package with it (`scripts/check-consumer`).
        return blocks.map { $0.filter { !$0.isEmpty } }.filter { !$0.isEmpty && !$0[0].hasPrefix("// swift-tools-version") }
    }

    @Test func everyExampleOfTheDocsIsCompiledAsItIsWritten() throws {
        var examples: [String] = []
        for file in Self.files(under: "\(Self.root)/Tests/DocumentationExamples", ending: ".swift") {
            examples += String(decoding: readFile(file), as: UTF8.self).split(separator: "\n").map { Substring($0).trimmingSpaces() }
        }
        examples = examples.filter { !$0.isEmpty }
        var documents = ["\(Self.root)/README.md"] + Self.files(under: "\(Self.root)/docs", ending: ".md")
        documents += Self.files(under: "\(Self.root)/Sources", ending: ".md")
        var checked = 0
        var missing: [String] = []
        func check(_ block: [String], from place: String) {
            checked += 1
            let found = examples.indices.contains { start in
                start + block.count <= examples.count && Array(examples[start..<(start + block.count)]) == block
            }
            if !found { missing.append("\(place):\n" + block.joined(separator: "\n")) }
        }
        for document in documents {
            for block in Self.swiftBlocks(in: String(decoding: readFile(document), as: UTF8.self)) { check(block, from: document) }
        }
        for source in Self.files(under: "\(Self.root)/Sources", ending: ".swift") {
            for block in Self.swiftBlocks(in: String(decoding: readFile(source), as: UTF8.self), prefix: "///") { check(block, from: source) }
        }
        #expect(missing.isEmpty, "not in Tests/DocumentationExamples, word for word:\n\n\(missing.joined(separator: "\n\n"))")
        #expect(checked >= 30, "only \(checked) examples found")
    }

    /// Every public type of the core is in the DocC catalog's topics: the public surface is the
    /// library, and each part of it has its place.
    @Test func everyPublicTypeOfTheCoreIsListedByTopic() throws {
        let catalog = String(decoding: readFile("\(Self.root)/Sources/Offload/Offload.docc/Offload.md"), as: UTF8.self)
        var types: [String] = []
        for file in Self.files(under: "\(Self.root)/Sources/Offload", ending: ".swift") {
            for line in String(decoding: readFile(file), as: UTF8.self).split(separator: "\n") where line.hasPrefix("public ") {
                let words = line.split(separator: " ")
                guard let kind = words.firstIndex(where: { ["struct", "class", "enum", "protocol", "actor", "typealias"].contains($0) }),
                    kind + 1 < words.count
                else { continue }
                types.append(String(words[kind + 1].prefix { $0.isLetter || $0.isNumber || $0 == "_" }))
            }
        }
        #expect(types.count > 40)
        let unlisted = types.filter { !catalog.contains("- ``\($0)``") }
        #expect(unlisted.isEmpty, "public types the catalog's topics do not list: \(unlisted.sorted())")
    }

    @Test func theReadmesProgramRunsInWorkerProcesses() async throws {
        let folder = temporaryFolder("examples")
        defer { removeTree(folder) }
        let run = try await runCommand(builtExecutable("offload-examples"), [], directory: folder, timeout: .seconds(120))
        #expect(run.status == 0, "\(run.output.suffix(2_000))")
        #expect(run.output.contains("a.png@600 out/"), "\(run.output.suffix(2_000))")
        #expect(run.output.contains(#"[{"country":"FR","total":19.5},{"country":"DE","total":3}]"#), "\(run.output.suffix(2_000))")
    }

    @Test func theOtherExamplesRun() async throws {
        let folder = temporaryFolder("snippets")
        defer { removeTree(folder) }
        try await DocumentationExamples.runAll(outputDirectory: folder)
    }
}

private extension Substring {
    func trimmingSpaces() -> String {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
