/// One step of a job's life: the one vocabulary that a pool's events, the durable queue's
/// history, the HTTP service's streams, `offload jobs show`, `--events` and the dashboard speak.
///
/// ```swift
/// switch event.step {
/// case .started: print("attempt \(event.attempt ?? 0) on \(event.worker?.rawValue ?? "?")")
/// case .retryScheduled(let at, let error): print("\(error.code); again at \(String(describing: at))")
/// case .completed: print("done")
/// default: break
/// }
/// ```
///
/// Its JSON form (``json``) is `{"type":"started","job":…,"at":…,"attempt":1,"state":"running",…}`
/// with the step's own fields; ``init(json:)`` reads it back, and refuses a type it does not know.
public struct JobEvent: Sendable, Hashable {
    /// What happened.
    public enum Step: Sendable, Hashable {
        /// Submitted with dependencies (``Job/dependsOn``): it waits for them to end, then is
        /// `queued`.
        case waiting
        /// Submitted, ready to run (or its dependencies ended).
        case queued
        /// Submitted with a delay: it waits for `runAt`.
        case scheduled(runAt: Timestamp?)
        /// An attempt started (on ``JobEvent/worker``, of ``JobEvent/host`` on the durable queue).
        case started
        /// The handler said how far it has come, 0…1.
        case progress(fraction: Double, message: String?)
        /// The pool asked the running attempt to stop: a timeout, a cancel, a preemption or a
        /// shutdown, as `reason` says.
        case stopRequested(reason: String)
        /// Someone asked to cancel the running job (on the durable queue, its host learns of it
        /// within a heartbeat).
        case cancelRequested
        /// The attempt gave way to critical work; the job is queued again, its attempt given back.
        case preempted
        /// The attempt failed with `error`; the job runs again at `at` (after its back-off).
        case retryScheduled(at: Timestamp?, error: OffloadError)
        /// The handler snoozed the job (``OffloadError/snooze(for:_:)``): it runs again at
        /// `until`, without using a retry.
        case snoozed(until: Timestamp?, reason: String)
        /// A host handed the job back before it started (it was shutting down).
        case released
        /// The host running the job stopped renewing its lease; the job is queued again.
        case rescued(message: String)
        /// An attempt ended after its host had lost its lease: its end was not recorded.
        case leaseLost(message: String)
        /// A failed or cancelled job was queued again by hand.
        case retried
        /// The job completed (final).
        case completed
        /// The job failed for good (final).
        case failed(OffloadError)
        /// The job was cancelled (final).
        case cancelled(OffloadError)
    }

    public var job: JobID
    public var at: Timestamp
    public var step: Step
    /// The attempt the step concerns (1 for the first), when one did.
    public var attempt: Int?
    /// The durable queue's host, when the job is on one.
    public var host: String?
    public var worker: WorkerID?
    /// The process of that worker (the host's own for a thread worker).
    public var pid: Int32?
    /// 1, 2, 3… within the job, as its store numbers its events: an event stream's id, which a
    /// reader that reconnects gives back (`Last-Event-ID`) to get only what came after.
    public var sequence: Int?

    public init(
        job: JobID, at: Timestamp, step: Step, attempt: Int? = nil, host: String? = nil, worker: WorkerID? = nil, pid: Int32? = nil,
        sequence: Int? = nil
    ) {
        self.job = job
        self.at = at
        self.step = step
        self.attempt = attempt
        self.host = host
        self.worker = worker
        self.pid = pid
        self.sequence = sequence
    }

    /// The step's name, as the JSON form's `type`, the queue's history and the streams' event
    /// names write it.
    public var name: String { step.name }

    /// Whether this is the job's last event.
    public var isFinal: Bool { step.finalState != nil }

    /// The job's state after the step; `nil` for a step that changes none (`leaseLost`: a late
    /// word from a host that no longer holds the job).
    public var state: JobState? {
        switch step {
        case .waiting: .waiting
        case .queued, .preempted, .released, .rescued, .retried: .queued
        case .scheduled, .retryScheduled, .snoozed: .scheduled
        case .started, .progress, .stopRequested, .cancelRequested: .running
        case .leaseLost: nil
        case .completed: .completed
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }

    /// The error the step carries, if any.
    public var error: OffloadError? { step.error }
}

extension JobEvent.Step {
    /// Every step's name, in the order of a job's life.
    public static let names = [
        "waiting", "queued", "scheduled", "started", "progress", "stopRequested", "cancelRequested", "preempted",
        "retryScheduled", "snoozed", "released", "rescued", "leaseLost", "retried", "completed", "failed", "cancelled"
    ]

    public var name: String {
        switch self {
        case .waiting: "waiting"
        case .queued: "queued"
        case .scheduled: "scheduled"
        case .started: "started"
        case .progress: "progress"
        case .stopRequested: "stopRequested"
        case .cancelRequested: "cancelRequested"
        case .preempted: "preempted"
        case .retryScheduled: "retryScheduled"
        case .snoozed: "snoozed"
        case .released: "released"
        case .rescued: "rescued"
        case .leaseLost: "leaseLost"
        case .retried: "retried"
        case .completed: "completed"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }

    /// Whether this is a progress report (the fine grain a store may keep less of).
    public var isProgress: Bool { if case .progress = self { true } else { false } }

    /// The state a final step ends the job in; `nil` for the others.
    public var finalState: JobState? {
        switch self {
        case .completed: .completed
        case .failed: .failed
        case .cancelled: .cancelled
        default: nil
        }
    }

    /// The final step of a job that ended as `outcome` says; an end without its error (which
    /// stores need) gets one naming its status.
    package static func ending(_ outcome: JobOutcome) -> Self {
        switch outcome.status {
        case .completed: .completed
        case .failed: .failed(outcome.error ?? OffloadError(.handlerFailed, "the job failed"))
        case .cancelled: .cancelled(outcome.error ?? OffloadError(.cancelled, "the job was cancelled"))
        }
    }

    /// The step named `name` with its fields, as a store keeps them: a message (the reason, the
    /// note, the progress's own), a fraction, a time and an error.
    /// - Throws: ``OffloadError/Code/invalidPayload`` naming a name it does not know, or a
    ///   final step without the error it needs.
    public init(
        name: String, message: String? = nil, fraction: Double? = nil, time: Timestamp? = nil,
        error: OffloadError? = nil
    ) throws(OffloadError) {
        func needed(_ error: OffloadError?) throws(OffloadError) -> OffloadError {
            guard let error else { throw OffloadError(.invalidPayload, "a \(name) event carries no error") }
            return error
        }
        switch name {
        case "waiting": self = .waiting
        case "queued": self = .queued
        case "scheduled": self = .scheduled(runAt: time)
        case "started": self = .started
        case "progress": self = .progress(fraction: fraction ?? 0, message: message)
        case "stopRequested": self = .stopRequested(reason: message ?? "")
        case "cancelRequested": self = .cancelRequested
        case "preempted": self = .preempted
        case "retryScheduled": self = .retryScheduled(at: time, error: try needed(error))
        case "snoozed": self = .snoozed(until: time, reason: message ?? "")
        case "released": self = .released
        case "rescued": self = .rescued(message: message ?? "")
        case "leaseLost": self = .leaseLost(message: message ?? "")
        case "retried": self = .retried
        case "completed": self = .completed
        case "failed": self = .failed(try needed(error))
        case "cancelled": self = .cancelled(try needed(error))
        default:
            throw OffloadError(.invalidPayload, "unknown job event \(OffloadError.quote(name)) (known: \(Self.names.joined(separator: ", ")))")
        }
    }

    /// The step's message: a reason, a note, a progress message.
    public var message: String? {
        switch self {
        case .progress(_, let message): message
        case .stopRequested(let reason): reason
        case .rescued(let message), .leaseLost(let message): message
        case .snoozed(_, let reason): reason.isEmpty ? nil : reason
        default: nil
        }
    }

    /// The error the step carries, if any.
    public var error: OffloadError? {
        switch self {
        case .retryScheduled(_, let error), .failed(let error), .cancelled(let error): error
        default: nil
        }
    }

    /// The step's time: when a scheduled job or a retry is due.
    public var time: Timestamp? {
        switch self {
        case .scheduled(let runAt): runAt
        case .retryScheduled(let at, _), .snoozed(let at, _): at
        default: nil
        }
    }
}
