/// What a job does when a job it depends on (``Job/dependsOn``) fails or is cancelled.
public enum DependencyFailurePolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// It is cancelled (``OffloadError/Code/dependencyFailed``, naming the job that failed), and
    /// so are the jobs that depend on it in turn: a failure cancels exactly its descendants.
    case cancel
    /// It runs once all its dependencies have ended, however they ended.
    case run
}
