import ArgumentParser

@main
struct OffloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offload",
        abstract: "Run heavy jobs in a pool of background workers.",
        discussion: """
            Jobs are JSON Lines, one job a line: {"id":"a1","kind":"debug.sleep","priority":"high","payload":{"ms":50}}.
            Every job's result goes to OUT/results.jsonl as it ends.
            """,
        subcommands: [RunCommand.self]
    )
}
