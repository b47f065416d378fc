import CImageCodecs
import Offload

/// How an image job stops when the pool asks (a timeout, a cancel, a preemption): drawing,
/// filters and encoders look at the running task's cancellation every few rows — the render
/// runs on the task of the job, from start to end — and give up within milliseconds, so a
/// timed-out render never keeps a core busy after its result was given.
enum RenderStop {
    /// Whether the job was asked to stop.
    static var requested: Bool { Task.isCancelled }

    /// Throws ``OffloadError/Code/cancelled`` when the job was asked to stop.
    static func check() throws(OffloadError) {
        if requested { throw stopped }
    }

    static let stopped = OffloadError(.cancelled, "stopped at the host's request")

    /// The encoders in C ask the same question through this function.
    static let installed: Void = {
        offload_codec_set_stop_check { Task.isCancelled ? 1 : 0 }
    }()
}
