import ArgumentParser
import Foundation
import Offload
import OffloadPostgres

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a PostgreSQL queue: jobs by state and priority, the oldest wait, hosts and running jobs."
    )

    @OptionGroup var queueOptions: QueueOptions

    func run() async throws {
        let status = try await queueOptions.withQueue { try await $0.status() }
        let priorities = Priority.allCases.sorted(by: >)
        print("queue \(queueOptions.place)")
        print(pad("state", 12) + priorities.map { pad($0.description, 10) }.joined() + "total")
        for state in JobState.allCases {
            let row = status.counts[state] ?? [:]
            print(pad(state.rawValue, 12) + priorities.map { pad(String(row[$0] ?? 0), 10) }.joined() + String(row.values.reduce(0, +)))
        }
        if let oldest = status.oldestWaiting { print("oldest ready job has waited \(format(oldest.seconds, digits: 1)) s") }
        print("hosts (heard from in the last minute): \(status.hosts.count)")
        let now = Date()
        for host in status.hosts {
            print("  \(host.id)  \(host.running) running  last heartbeat \(format(now.timeIntervalSince(host.lastHeartbeat), digits: 1)) s ago")
        }
        if !status.running.isEmpty { print("running:") }
        for job in status.running {
            let since = job.startedAt.map { format(now.timeIntervalSince($0), digits: 1) + " s" } ?? "?"
            print("  \(job.id)  \(job.kind)  attempt \(job.attempt)/\(job.maxAttempts)  on \(job.leaseOwner ?? "?") for \(since)")
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Show, cancel or re-run one job of a PostgreSQL queue.",
        subcommands: [Show.self, Cancel.self, Retry.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job and its history as JSON.")
        @Argument(help: "The job's id (a UUID).") var id: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let id = JobID(self.id)
            let found = try await queueOptions.withQueue { queue -> (StoredJob, [StoredJobEvent])? in
                guard let job = try await queue.job(id) else { return nil }
                return (job, try await queue.events(of: id))
            }
            guard let (job, events) = found else { throw fail("offload: the queue at \(queueOptions.place) holds no job \(id).") }
            func date(_ value: Date?) -> JSONValue { value.map { .string(Timestamp(secondsSince1970: $0.timeIntervalSince1970).iso8601) } ?? .null }
            // The history in the one vocabulary of job events (an entry it does not know is an error naming it).
            let history: [JSONValue]
            do {
                history = try events.enumerated().map { index, event throws(OffloadError) in try event.event(of: id, sequence: index + 1).json }
            } catch {
                throw fail("offload: job \(id)'s history holds what this Offload does not know: \(error.message).")
            }
            print(
                JSONWriter.string(
                    .object([
                        ("id", .string(job.id.rawValue)), ("kind", .string(job.kind)), ("priority", .string(job.priority.description)),
                        ("state", .string(job.state.rawValue)), ("attempt", .int(Int64(job.attempt))), ("maxAttempts", .int(Int64(job.maxAttempts))),
                        ("createdAt", date(job.createdAt)), ("runAt", date(job.runAt)), ("startedAt", date(job.startedAt)),
                        ("finishedAt", date(job.finishedAt)), ("leaseOwner", job.leaseOwner.map(JSONValue.string) ?? .null),
                        ("payload", job.payload), ("result", job.result ?? .null),
                        ("error", job.error?.json ?? .null),
                        ("events", .array(history))
                    ])))
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job: a queued one at once, a running one by asking its host.")
        @Argument(help: "The job's id (a UUID).") var id: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let id = JobID(self.id)
            let result = try await queueOptions.withQueue { try await $0.cancel(id) }
            switch result {
            case .cancelled: print("offload: job \(id) cancelled.")
            case .requested: print("offload: job \(id) is running; its host was asked to stop it.")
            case .alreadyFinished: print("offload: job \(id) had already finished.")
            case .notFound: throw fail("offload: the queue at \(queueOptions.place) holds no job \(id).")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a failed or cancelled job again.")
        @Argument(help: "The job's id (a UUID).") var id: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let id = JobID(self.id)
            guard try await queueOptions.withQueue({ try await $0.retry(id) }) else {
                throw fail("offload: job \(id) is not failed or cancelled (or does not exist).")
            }
            print("offload: job \(id) queued again.")
        }
    }
}
