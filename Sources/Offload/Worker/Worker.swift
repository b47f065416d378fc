/// A job handed to a worker: the job, its attempt number and the handler that runs it.
struct Assignment: Sendable {
    var job: Job
    /// 1 for the first attempt.
    var attempt: Int
    var handler: AnyJobHandler
}

/// A worker as the pool drives it. The pool calls these methods outside its lock; the worker
/// reports back through its ``WorkerHost``.
protocol Worker: AnyObject, Sendable {
    var id: WorkerID { get }
    /// The process that runs the worker's jobs.
    var pid: Int32 { get }
    /// Begins the worker; it calls ``WorkerHost/workerReady(_:)`` when it can take jobs.
    func start()
    /// Hands the worker a job. The pool never hands a worker more jobs than it has free slots.
    func deliver(_ assignment: Assignment)
    /// Asks the worker to stop `job` cooperatively, if it is still running it.
    func cancel(_ job: JobID)
    /// Ends the worker once it has no job; it calls ``WorkerHost/workerExited(_:)``.
    func stop()
    /// Forgets a worker whose job does not end: it must not report to the pool again.
    func abandon()
}

/// What a worker reports to its pool.
protocol WorkerHost: AnyObject, Sendable {
    func workerReady(_ worker: any Worker)
    func progress(of job: JobID, attempt: Int, fraction: Double, message: String?)
    /// The worker ended an attempt. The returned assignment, if any, is the worker's next job.
    func finish(_ assignment: Assignment, result: Result<JobResult, any Error>, on worker: any Worker, takeNext: Bool) -> Assignment?
    func workerExited(_ worker: any Worker)
}
