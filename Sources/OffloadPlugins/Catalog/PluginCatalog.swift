public import Offload
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The plugins under a folder (`./plugins` by default): each subfolder holding a `plugin.json`
/// and its module. Manifests are read when the catalog is made, and again when a job asks for a
/// plugin or version the catalog does not hold (at most once per `rescanInterval`), so a plugin
/// folder dropped in while the host runs is found without a restart; a module is parsed and
/// checked the first time a job asks for it, then kept (once per worker) while its manifest
/// stays the same.
public final class PluginCatalog: Sendable {
    public struct Entry: Sendable {
        /// The subfolder.
        public var folder: String
        public var manifest: PluginManifest?
        /// Why the folder is not a usable plugin, when it is not.
        public var problem: OffloadError?
    }

    public let directory: String
    /// Host functions granted to the plugins that ask for them (see ``HostImport``).
    public let grants: [HostImport]
    /// The least time between two readings of the folder prompted by a missing plugin.
    public let rescanInterval: Duration
    private let state: Mutex<State>

    private struct State {
        var entries: [Entry]
        /// Why the folder itself could not be read, when it could not (a missing folder holds no plugins).
        var folderProblem: String?
        var scanned: ContinuousClock.Instant
        /// Modules loaded, by folder, with the manifest and the module file they were loaded from.
        var loaded: [String: (manifest: PluginManifest, file: FileStamp?, module: PluginModule)] = [:]
    }

    /// The plugin folders as last read.
    public var entries: [Entry] { state.withLock { $0.entries } }
    /// Why the folder of plugins itself could not be read, when it exists and could not.
    public var folderProblem: String? { state.withLock { $0.folderProblem } }

    /// Reads the manifests of `directory`'s subfolders (a missing folder holds no plugins).
    public init(directory: String, grants: [HostImport] = [], rescanInterval: Duration = .seconds(1)) {
        self.directory = directory
        self.grants = grants
        self.rescanInterval = rescanInterval
        let (entries, problem) = Self.scan(directory)
        state = Mutex(State(entries: entries, folderProblem: problem, scanned: .now))
    }

    private static func scan(_ directory: String) -> ([Entry], String?) {
        let (folders, problem) = subfolders(of: directory)
        let entries = folders.map { folder in
            let path = directory + "/" + folder
            do throws(OffloadError) { return Entry(folder: path, manifest: try manifest(in: path)) } catch {
                return Entry(folder: path, problem: error)
            }
        }
        return (entries, problem)
    }

    /// Reads the folder again unless it was read within `rescanInterval`; whether it did.
    private func rescan() -> Bool {
        let due = state.withLock { state -> Bool in
            guard ContinuousClock.now - state.scanned >= rescanInterval else { return false }
            state.scanned = .now
            return true
        }
        guard due else { return false }
        let (entries, problem) = Self.scan(directory)
        state.withLock { state in
            state.entries = entries
            state.folderProblem = problem
        }
        return true
    }

    /// The plugin `id` of the highest version `requirement` matches, its module loaded.
    /// - Throws: ``OffloadError/Code/pluginNotFound``, or the reason its module is not usable.
    public func plugin(id: String, requirement: VersionRequirement) throws(OffloadError) -> PluginModule {
        do {
            return try plugin(id: id, requirement: requirement, in: entries)
        } catch  where error.code == .pluginNotFound || error.code == .invalidPlugin {
            // Perhaps added or mended since the folder was read.
            guard rescan() else { throw error }
            return try plugin(id: id, requirement: requirement, in: entries)
        }
    }

    private func plugin(id: String, requirement: VersionRequirement, in entries: [Entry]) throws(OffloadError) -> PluginModule {
        let candidates = entries.compactMap { entry in entry.manifest.map { (entry.folder, $0) } }.filter { $0.1.id == id }
        guard !candidates.isEmpty else {
            // A folder named like the plugin whose manifest is broken says why.
            if let problem = entries.first(where: { $0.manifest == nil && $0.folder.hasSuffix("/" + id) })?.problem { throw problem }
            let known = Set(entries.compactMap { $0.manifest?.id }).sorted()
            if let problem = state.withLock({ $0.folderProblem }) {
                throw .plugin(.pluginNotFound, "no plugin \(OffloadError.quote(id)): the plugin folder \(directory) cannot be read (\(problem))")
            }
            throw .plugin(
                .pluginNotFound,
                "no plugin \(OffloadError.quote(id)) in \(directory)"
                    + (known.isEmpty ? " (it holds none)" : " (it holds \(known.joined(separator: ", ")))"))
        }
        guard let (folder, manifest) = candidates.filter({ requirement.matches($0.1.version) }).max(by: { $0.1.version < $1.1.version }) else {
            throw .plugin(
                .pluginNotFound,
                "plugin '\(id)' has no version matching \(requirement) (it has \(candidates.map { "\($0.1.version)" }.sorted().joined(separator: ", ")))"
            )
        }
        let file = FileStamp(folder + "/" + manifest.module)
        if let kept = state.withLock({ $0.loaded[folder] }), kept.manifest == manifest, kept.file == file { return kept.module }
        let module = try Self.load(manifest, in: folder, grants: grants)
        state.withLock { $0.loaded[folder] = (manifest, file, module) }
        return module
    }

    /// Checks one plugin folder: its manifest, its module's checksum, imports, exports and start.
    public static func check(folder: String, grants: [HostImport] = []) throws(OffloadError) -> PluginModule {
        var folder = folder
        while folder.count > 1, folder.hasSuffix("/") { folder.removeLast() }
        return try load(try manifest(in: folder), in: folder, grants: grants)
    }

    static func manifest(in folder: String) throws(OffloadError) -> PluginManifest {
        let file = folder + "/plugin.json"
        return try PluginManifest(json: try readFile(file, maxBytes: 1 << 20), file: file)
    }

    static func load(_ manifest: PluginManifest, in folder: String, grants: [HostImport]) throws(OffloadError) -> PluginModule {
        let file = folder + "/" + manifest.module
        let bytes = try readFile(file, maxBytes: 64 << 20)
        return try PluginModule(manifest: manifest, bytes: bytes, isText: manifest.module.hasSuffix(".wat"), grants: grants)
    }

    /// The subfolders' names, and why the folder could not be read when it exists and cannot.
    private static func subfolders(of directory: String) -> ([String], String?) {
        guard let handle = opendir(directory) else {
            return ([], errno == ENOENT ? nil : String(cString: strerror(errno)))
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix(".") else { continue }
            var info = stat()
            if stat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { names.append(name) }
        }
        return (names.sorted(), nil)
    }

    /// A manifest or module: never blocks on a FIFO or a device in the folder, never reads more than `maxBytes`.
    private static func readFile(_ path: String, maxBytes: Int) throws(OffloadError) -> [UInt8] {
        do { return try RegularFile.read(path, maxBytes: maxBytes) } catch {
            throw .plugin(.invalidPlugin, "\(path) cannot be read: \(error)")
        }
    }
}

/// A file's size and modification time: a module file replaced in place is loaded again.
struct FileStamp: Equatable {
    let size: Int
    let modified: Int
    let nanoseconds: Int

    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        size = Int(info.st_size)
        modified = Int(info.st_mtim.tv_sec)
        nanoseconds = Int(info.st_mtim.tv_nsec)
    }
}
