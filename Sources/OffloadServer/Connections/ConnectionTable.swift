import NIOCore
import Synchronization

/// Every open connection of the service, by client address, and which are idle (waiting for a
/// request): the connection idle the longest is closed to make room for a new one when a
/// limit is reached, as nginx reuses its keep-alive connections.
///
/// Lock: `state`, a leaf; channels are closed after it is released.
final class ConnectionTable: Sendable {
    let limits: ConnectionLimits

    private struct Entry {
        let channel: any Channel
        let client: String
        /// When it became idle (a number that grows), `nil` while a request is under way.
        var idleSince: UInt64?
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perClient: [String: Int] = [:]
        var tick: UInt64 = 0

        mutating func remove(_ id: ObjectIdentifier) {
            guard let entry = entries.removeValue(forKey: id) else { return }
            perClient[entry.client, default: 1] -= 1
            if perClient[entry.client] == 0 { perClient[entry.client] = nil }
        }

        /// The connection idle the longest, of `client` or of all.
        func oldestIdle(of client: String?) -> ObjectIdentifier? {
            var oldest: (id: ObjectIdentifier, since: UInt64)?
            for (id, entry) in entries {
                guard let since = entry.idleSince, client == nil || entry.client == client else { continue }
                if oldest == nil || since < oldest!.since { oldest = (id, since) }
            }
            return oldest?.id
        }
    }

    private let state = Mutex(State())

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers a new connection, idle. Makes room past a limit by closing the connections idle
    /// the longest; `false` when there is none to close (the new one is then refused).
    func open(_ channel: any Channel, client: String) -> Bool {
        let id = ObjectIdentifier(channel)
        var victims: [any Channel] = []
        let accepted = state.withLock { state -> Bool in
            if limits.maxConnectionsPerClient > 0, state.perClient[client, default: 0] >= limits.maxConnectionsPerClient {
                guard let victim = state.oldestIdle(of: client) else { return false }
                victims.append(state.entries[victim]!.channel)
                state.remove(victim)
            }
            if state.entries.count >= limits.maxConnections {
                guard let victim = state.oldestIdle(of: nil) else { return false }
                victims.append(state.entries[victim]!.channel)
                state.remove(victim)
            }
            state.tick += 1
            state.entries[id] = Entry(channel: channel, client: client, idleSince: state.tick)
            state.perClient[client, default: 0] += 1
            return true
        }
        for victim in victims { victim.close(promise: nil) }
        return accepted
    }

    func close(_ channel: any Channel) {
        state.withLock { $0.remove(ObjectIdentifier(channel)) }
    }

    /// Marks a connection idle (waiting for a request) or busy.
    func setIdle(_ channel: any Channel, _ idle: Bool) {
        state.withLock { state in
            let id = ObjectIdentifier(channel)
            guard state.entries[id] != nil else { return }
            if idle {
                state.tick += 1
                state.entries[id]!.idleSince = state.tick
            } else {
                state.entries[id]!.idleSince = nil
            }
        }
    }
}
