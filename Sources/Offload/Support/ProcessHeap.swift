import COffloadSystem

/// The process's heap.
package enum ProcessHeap {
    /// Gives the allocator's free pages back to the system (glibc keeps them otherwise, among the
    /// blocks still in use).
    package static func trim() { offload_trim_heap() }
}
