import ArgumentParser
import Foundation
import Offload
import OffloadPostgres

/// `offload kinds`: limits per kind across a queue's hosts.
struct KindsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds",
        abstract: "Show and set the limits of a PostgreSQL queue's kinds: jobs running at once, a rate, paused.",
        subcommands: [List.self, Limit.self, Pause.self, Resume.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the kinds that have limits.")
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws {
            let limits = try await queueOptions.withQueue { try await $0.kindLimits() }
            if limits.isEmpty { print("No kind has limits.") }
            for (kind, limit) in limits.sorted(by: { $0.key < $1.key }) { print("\(kind)  \(Self.describe(limit))") }
        }

        static func describe(_ limits: KindLimits) -> String {
            var parts: [String] = []
            if let maxConcurrent = limits.maxConcurrent { parts.append("at most \(maxConcurrent) running") }
            if let rate = limits.rate { parts.append("\(rate.jobs) \(RateText.interval(rate.per))") }
            if limits.isPaused { parts.append("paused") }
            return parts.isEmpty ? "no limits" : parts.joined(separator: ", ")
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a kind's limits on every host (what is not given has no limit; a pause is kept).")
        @Argument(help: "The kind.") var kind: String
        @Option(name: .long, help: "Jobs of the kind running at once on all hosts, at most.") var maxConcurrent: Int?
        @Option(name: .long, help: "Starts of the kind on all hosts, evenly spread: N/s, N/min, N/h or N/DURATION (50/s, 10/500ms).")
        var rate: String?
        @OptionGroup var queueOptions: QueueOptions

        func validate() throws {
            var limits = KindLimits(maxConcurrent: maxConcurrent)
            if let rate { limits.rate = try RateText.parse(rate) }
            do { try limits.validate() } catch { throw ValidationError(error.message) }
        }

        func run() async throws {
            let kind = self.kind
            let given = KindLimits(maxConcurrent: maxConcurrent, rate: try rate.map(RateText.parse))
            let set = try await queueOptions.withQueue { queue -> KindLimits in
                var limits = given
                limits.isPaused = try await queue.kindLimits()[kind]?.isPaused ?? false
                try await queue.setLimits(limits, for: kind)
                return try await queue.kindLimits()[kind] ?? KindLimits()
            }
            print("\(kind)  \(List.describe(set))")
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hold a kind's waiting jobs back on every host (running ones go on).")
        @Argument(help: "The kind.") var kind: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws { try await KindsCommand.setPaused(true, kind, queueOptions) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a paused kind's jobs start again.")
        @Argument(help: "The kind.") var kind: String
        @OptionGroup var queueOptions: QueueOptions

        func run() async throws { try await KindsCommand.setPaused(false, kind, queueOptions) }
    }

    static func setPaused(_ paused: Bool, _ kind: String, _ queueOptions: QueueOptions) async throws {
        try await queueOptions.withQueue { try await $0.setPaused(paused, kind: kind) }
        print("\(kind)  \(paused ? "paused" : "resumed")")
    }
}

/// A rate as the command line writes it: `50/s`, `100/min`, `5/h`, `10/500ms`, `3/2s`.
enum RateText {
    static func parse(_ text: String) throws -> KindLimits.Rate {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let jobs = Int(parts[0]), jobs > 0, let per = interval(String(parts[1])) else {
            throw ValidationError("--rate '\(text)' is not N/s, N/min, N/h or N/DURATION (such as 50/s or 10/500ms)")
        }
        return KindLimits.Rate(jobs: jobs, per: per)
    }

    private static func interval(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("min", 60_000), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard let count = number.isEmpty ? 1 : Int64(number), count > 0, count <= 86_400_000 else { return nil }
            return .milliseconds(count * unit.milliseconds)
        }
        return nil
    }

    /// "a second", "per 500 ms": how a rate's interval reads after its count.
    static func interval(_ duration: Duration) -> String {
        let ms = Int64(duration.milliseconds)
        for (unit, name, size) in [("h", "an hour", Int64(3_600_000)), ("min", "a minute", 60_000), ("s", "a second", 1_000)] where ms % size == 0 {
            return ms == size ? name : "per \(ms / size) \(unit)"
        }
        return "per \(ms) ms"
    }
}
