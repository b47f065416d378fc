#if canImport(Glibc)
import Glibc
#endif
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
            ("out.jsonl.part-\(dead)", now - 120), ("out.jsonl.part-\(dead).2", now - 120),   // dead and old: swept
            ("fresh.jsonl.part-\(dead)", now),                                              // dead but recent
            ("mine.jsonl.part-\(getpid())", now - 120),                                     // this process's
            ("init.jsonl.part-1", now - 120),                                               // a live process's
            ("notes.part-x", now - 120), ("out.jsonl", now - 120),                          // not temporary files
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
}
