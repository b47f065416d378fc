/// A batch written in one statement, whose refusal must not hold back the good items with the
/// bad: when `write` refuses the batch for a value of one item (``OffloadError/Code/unstorable``,
/// or ``OffloadError/Code/invalidDependency``: a job it depends on is not in the queue), it is
/// split in halves until each refused item is alone, and only those fail. (Halves keep the
/// order: an item after the items it depends on still finds them.)
///
/// Used for a host's batched ends and for `offload submit`'s batches of job lines.
/// - Parameters:
///   - items: what one call of `write` takes.
///   - write: writes a batch and returns one output per item; any other error ends the whole
///     call.
/// - Returns: one result per item, in order: its output, or the refusal of that item alone.
package func splittingRefusals<Item, Output>(
    _ items: ArraySlice<Item>, _ write: (ArraySlice<Item>) async throws -> [Output]
) async throws -> [Result<Output, OffloadError>] {
    guard !items.isEmpty else { return [] }
    do {
        return try await write(items).map { .success($0) }
    } catch let refusal as OffloadError where refusal.code == .unstorable || refusal.code == .invalidDependency {
        guard items.count > 1 else { return [.failure(refusal)] }
        let middle = items.startIndex + items.count / 2
        let first = try await splittingRefusals(items[..<middle], write)
        return try await first + splittingRefusals(items[middle...], write)
    }
}
