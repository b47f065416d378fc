import Foundation
import Offload
import OffloadServer
import OffloadTestSupport
import Testing

/// The store of `offload serve` and of a program that embeds it makes its folders, or says
/// which one it cannot make.
@Suite struct StoreFolderTests {
    func pool() throws -> WorkerPool {
        try WorkerPool(configuration: PoolConfiguration(isolation: .thread, scaling: .fixed(1)), registry: .diagnostics)
    }

    @Test func aMissingOutputFolderIsMadeWithTheFoldersAboveIt() throws {
        let root = temporaryFolder("store-folders")
        defer { removeTree(root) }
        let output = root + "/not/there/yet"
        _ = try MemoryBackend(pool: pool(), outputFolder: output)
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: output + "/artifacts", isDirectory: &isFolder) && isFolder.boolValue)
    }

    @Test func aFolderThatCannotBeMadeIsNamed() throws {
        let root = temporaryFolder("store-folders")
        defer { removeTree(root) }
        // A file where a folder should be.
        #expect(FileManager.default.createFile(atPath: root + "/file", contents: Data("x".utf8)))
        let error = #expect(throws: OffloadError.self) { try MemoryBackend(pool: pool(), outputFolder: root + "/file/out") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(root + "/file/out") == true, "\(error?.message ?? "")")
    }
}
