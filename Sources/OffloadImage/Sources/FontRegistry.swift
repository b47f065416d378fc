#if canImport(Glibc)
import Glibc
#endif
import CPangoCairo
import Offload
import Synchronization

/// Fonts that payloads bring (`params.fontUrls`), added to fontconfig once per process: each
/// distinct file is written to a cache folder under its content hash, checked to be a font of
/// the family it is named for, and added; Pango's font maps (one per thread) are told when
/// the set of fonts changed.
enum FontRegistry {
    private struct State {
        var added: [UInt64: [String]] = [:]
        var generation = 0
        /// Font maps by address, and the generation each has seen.
        var seenByMap: [UInt: Int] = [:]
    }

    private static let state = Mutex(State())

    /// Makes `bytes` available as family `family`.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming `field` when the bytes are not a font
    ///   or not one of that family.
    static func register(_ bytes: [UInt8], family: String, field: String) throws(OffloadError) {
        let hash = fnv1a(bytes)
        let known = state.withLock { $0.added[hash] }
        let families: [String]
        if let known { families = known } else { families = try add(bytes, hash: hash, field: field) }
        guard families.contains(where: { $0.lowercased() == family.lowercased() }) else {
            throw OffloadError(
                .invalidPayload, "\(field): the font's family is \(families.map { "'\($0)'" }.joined(separator: " or ")), not '\(family)'")
        }
    }

    private static func add(_ bytes: [UInt8], hash: UInt64, field: String) throws(OffloadError) -> [String] {
        let folder: String
        do { folder = try PrivateFolder.temporary("fonts") } catch {
            throw OffloadError(.handlerFailed, "\(field): cannot cache the font: \(error.message)")
        }
        let path = "\(folder)/\(String(hash, radix: 16)).font"
        do { try OutputFile.write(bytes, to: folder, name: "\(String(hash, radix: 16)).font") } catch {
            throw OffloadError(.handlerFailed, "\(field): cannot cache the font: \(error.message)")
        }
        var count: Int32 = 0
        guard let pattern = FcFreeTypeQuery(path, 0, nil, &count) else {
            unlink(path)
            throw OffloadError(.invalidPayload, "\(field): not a font file (TrueType, OpenType or WOFF)")
        }
        defer { FcPatternDestroy(pattern) }
        var families: [String] = []
        var index: Int32 = 0
        var value: UnsafeMutablePointer<FcChar8>?
        while FcPatternGetString(pattern, FC_FAMILY, index, &value) == FcResultMatch, let value {
            families.append(String(cString: value))
            index += 1
        }
        guard FcConfigAppFontAddFile(FcConfigGetCurrent(), path) != 0 else {
            throw OffloadError(.invalidPayload, "\(field): fontconfig refused the font")
        }
        state.withLock { state in
            state.added[hash] = families
            state.generation += 1
        }
        return families
    }

    /// Before drawing on this thread: tells its font map about fonts added since it last looked.
    static func refreshThisThread() {
        guard let map = offload_thread_font_map() else { return }
        let key = UInt(bitPattern: UnsafeMutableRawPointer(map))
        let stale = state.withLock { state -> Bool in
            guard state.seenByMap[key, default: 0] < state.generation else { return false }
            state.seenByMap[key] = state.generation
            return true
        }
        if stale { pango_fc_font_map_config_changed(map) }
    }

    private static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
