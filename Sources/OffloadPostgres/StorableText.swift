import Offload

/// Text as PostgreSQL's `text` holds it: any UTF-8 but U+0000.
///
/// Values a job's submitter names (kind, capabilities, unique key) are refused when they hold
/// one, naming the field; messages people read (an error's, an event's note) have it replaced
/// by U+FFFD, so that no message a handler writes can keep its job's end from being recorded.
enum StorableText {
    /// Refuses `text` with ``OffloadError/Code/invalidPayload`` naming `field` when it holds U+0000.
    static func check(_ text: String, field: String) throws(OffloadError) {
        guard text.utf8.contains(0) else { return }
        throw OffloadError(.invalidPayload, "\(field) holds the character U+0000, which the queue's database cannot store")
    }

    /// `text` with every U+0000 replaced by U+FFFD.
    static func sanitized(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : $0 }))
    }
}
