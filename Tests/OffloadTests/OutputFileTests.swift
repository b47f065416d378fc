#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// Output files: the temporary files of writers that died are swept; live or recent ones are not.
@Suite struct OutputFileTests {
    @Test func temporaryFilesOfDeadWritersAreSwept() throws {
        var template = Array("/tmp/offload-parts-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { removeAll(directory) }
        let dead = try #require((1...100_000).lazy.map { pid_t(4_000_000 - $0) }.first { kill($0, 0) != 0 && errno == ESRCH })
        let now = time(nil)
        let files: [(String, time_t)] = [
            ("out.jsonl.part-\(dead)", now - 120), ("out.jsonl.part-\(dead).2", now - 120),  // dead and old: swept
            ("fresh.jsonl.part-\(dead)", now),  // dead but recent
            ("mine.jsonl.part-\(getpid())", now - 120),  // this process's
            ("init.jsonl.part-1", now - 120),  // a live process's
            ("notes.part-x", now - 120), ("out.jsonl", now - 120)  // not temporary files
        ]
        for (name, modified) in files {
            let path = directory + "/" + name
            close(open(path, O_WRONLY | O_CREAT, 0o644))
            var times = [timeval(tv_sec: modified, tv_usec: 0), timeval(tv_sec: modified, tv_usec: 0)]
            utimes(path, &times)
        }
        let removed = AbandonedParts.sweep(directory, now: now).sorted()
        #expect(removed == ["out.jsonl.part-\(dead)", "out.jsonl.part-\(dead).2"])
        #expect(AbandonedParts.writerPID("a.part-12.3") == 12)
        #expect(AbandonedParts.writerPID("a.part-12x") == nil)
    }

    private func removeAll(_ directory: String) {
        guard let handle = opendir(directory) else { return }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { unlink(directory + "/" + name) }
        }
        closedir(handle)
        rmdir(directory)
    }

    @Test func distinctIdsNeverShareAFileAndNoneReachesOutOfTheFolder() {
        var random = SeededRandom(seed: 0xF11E)
        var ids = [
            "a/b", "a_b", #"a\b"#, "..", ".", "...", "results", "", "%2F", "a%2Fb", "%~", String(repeating: "x", count: 300),
            String(repeating: "x", count: 299) + "y", String(repeating: "é", count: 200), "con", "a\u{0}b", " ", "-"
        ]
        for _ in 0..<5_000 {
            ids.append(String((0..<Int.random(in: 0...12, using: &random)).map { _ in "ab./\\%~_-.é\u{0}".randomElement(using: &random)! }))
        }
        var names: [String: String] = [:]
        for id in Set(ids) {
            let name = OutputFile.name(for: JobID(id), extension: "png")
            #expect(names[name] == nil, "'\(id)' and '\(names[name] ?? "")' share \(name)")
            names[name] = id
            #expect(!name.contains("/") && !name.contains("\u{0}") && !name.hasPrefix(".") && name.utf8.count <= 255, "\(name)")
        }
        #expect(OutputFile.name(for: "a/b", extension: "png") == "a%2Fb.png")
        #expect(OutputFile.name(for: "..", extension: "png") == "%2E..png")
    }

    @Test func thePrivateFolderIsRefusedWhenSomeoneElseCouldReachIt() throws {
        var template = Array("/tmp/offload-private-XXXXXX".utf8CString)
        let base = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { removeTree(base) }
        let root = "\(base)/offload-\(getuid())"
        // Made on first use, mode 0700, and used again after.
        let folder = try PrivateFolder.temporary("fonts", under: base)
        #expect(folder == root + "/fonts")
        var info = stat()
        #expect(lstat(root, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(try PrivateFolder.temporary("fonts", under: base) == folder)
        // Opened to others: refused.
        chmod(root, 0o777)
        #expect(throws: OffloadError.self) { try PrivateFolder.temporary("fonts", under: base) }
        // A symlink planted in its place: refused, not followed.
        rmdir(folder)
        rmdir(root)
        mkdir("\(base)/elsewhere", 0o700)
        symlink("\(base)/elsewhere", root)
        do {
            _ = try PrivateFolder.temporary("fonts", under: base)
            Issue.record("a symlink was used as the private folder")
        } catch {
            #expect(error.message.contains("not a folder"), "\(error)")
        }
        unlink(root)
        // Owned by another user: refused.
        if getuid() == 0 {
            mkdir(root, 0o700)
            chown(root, 65_534, 65_534)
            do {
                _ = try PrivateFolder.temporary("fonts", under: base)
                Issue.record("another user's folder was used")
            } catch {
                #expect(error.message.contains("belongs to another user"), "\(error)")
            }
        }
    }
}
