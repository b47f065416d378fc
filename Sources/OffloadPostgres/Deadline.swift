import Logging
import Offload
import PostgresNIO
import Synchronization

extension PostgresQueue {
    /// `client.query`, given up on after the configuration's `statementTimeout`: a statement the
    /// database never answers (a connection lost in a way the driver did not notice, as after a
    /// server restart) must not hold a host, or a waiting submitter, forever. The caller sees
    /// `timedOut` and tries again as after any failed statement.
    ///
    /// A value the database refuses to hold (a data exception: a character its encoding lacks, a
    /// number out of range, a value too large) is thrown as ``OffloadError/Code/unstorable``,
    /// so that callers tell "this statement can never succeed" from "the database is away".
    @discardableResult
    func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        let client = self.client
        do {
            return try await withDeadline(configuration.statementTimeout) { try await client.query(query, logger: logger) }
        } catch let error as PSQLError {
            throw Self.mapped(error)
        }
    }

    /// A prepared statement (parsed and planned once per connection: the queue's hot
    /// statements, whose planning cost as much as their work), its rows read, given up on and
    /// its errors mapped as ``query(_:logger:)``'s are.
    func execute<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        let client = self.client, logger = self.logger
        do {
            return try await withDeadline(configuration.statementTimeout) {
                var rows: [Statement.Row] = []
                for try await row in try await client.execute(statement, logger: logger) { rows.append(row) }
                return rows
            }
        } catch let error as PSQLError {
            throw Self.mapped(error)
        }
    }

    /// `client.withTransaction`, given up on as ``query(_:logger:)`` is; what the body threw (an
    /// ``OffloadError`` of its own, a statement's error mapped) is thrown as it is, not wrapped.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = self.client, logger = self.logger
        do {
            return try await withDeadline(configuration.statementTimeout) {
                try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch let error as PSQLError {
            throw Self.mapped(error)
        } catch let error as PostgresTransactionError {
            switch error.closureError {
            case let inner as PSQLError: throw Self.mapped(inner)
            case let inner?: throw inner
            case nil: throw error
            }
        }
    }

    /// A refusal or a lost connection as an ``OffloadError`` (see below); any other error as it is.
    static func mapped(_ error: PSQLError) -> any Error {
        if let refusal = refusal(error) { return refusal }
        if let unreachable = unreachable(error) { return unreachable }
        return error
    }

    /// A connection that failed (no server answer in it) as ``OffloadError/Code/queueUnavailable``,
    /// saying why in a sentence; `nil` for an error the server sent.
    static func unreachable(_ error: PSQLError) -> OffloadError? {
        guard error.serverInfo == nil else { return nil }
        return OffloadError(.queueUnavailable, "the queue's database is unreachable: \(describe(error))")
    }

    /// The database's refusal of a value as ``OffloadError/Code/unstorable``: SQLSTATE classes
    /// 22 (data exception) and 54 (program limit exceeded). `nil` for any other error.
    static func refusal(_ error: PSQLError) -> OffloadError? {
        guard let state = error.serverInfo?[.sqlState], state.hasPrefix("22") || state.hasPrefix("54") else { return nil }
        let message = error.serverInfo?[.message] ?? "a value was refused"
        let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
        return OffloadError(.unstorable, "the queue's database cannot hold a value of this job: \(message)\(detail)")
    }
}

/// Runs `operation` in a task of its own and returns its result, or throws `timedOut` after
/// `limit` and leaves the task behind (cancelled): what it waits for may never answer.
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let gate = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            gate.set(continuation)
            let work = Task {
                do { gate.resume(.success(try await operation())) } catch { gate.resume(.failure(error)) }
            }
            let timer = Task {
                try await Task.sleep(for: limit)
                if gate.resume(.failure(OffloadError(.timedOut, "the database did not answer within \(limit)"))) { work.cancel() }
            }
            gate.onResume { timer.cancel() }
            gate.onCancel { work.cancel() }
        }
    } onCancel: {
        gate.cancel()
    }
}

/// A continuation resumed once, by whichever comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var resumed = false
        var cancelled = false
        var onResume: (@Sendable () -> Void)?
        var onCancel: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Stores the continuation, or resumes it at once when the result came first (a caller
    /// already cancelled resumes with CancellationError before it has handed its continuation).
    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onResume(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.resumed { return true }
            state.onResume = action
            return false
        }
        if now { action() }
    }

    func onCancel(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.onCancel = action
            return false
        }
        if now { action() }
    }

    /// - Returns: whether this call resumed it.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        let (won, continuation, action) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard !state.resumed else { return (false, nil, nil) }
            state.resumed = true
            if state.continuation == nil { state.result = result }
            defer { state.continuation = nil }
            return (true, state.continuation, state.onResume)
        }
        continuation?.resume(with: result)
        if won { action?() }
        return won
    }

    func cancel() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            return state.onCancel
        }
        action?()
        resume(.failure(CancellationError()))
    }
}

/// A database error in one sentence: the server's message, or what went wrong underneath (never
/// the password: PostgresNIO's own description hides everything).
package func describe(_ error: any Error) -> String {
    guard let error = error as? PSQLError else { return "\(error)" }
    if let message = error.serverInfo?[.message] { return message }
    if let underlying = error.underlying { return "\(underlying)" }
    return "\(error.code)"
}
