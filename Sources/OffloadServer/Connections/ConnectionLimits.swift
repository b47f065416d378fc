/// Timeouts and limits of the service's client connections, so that idle or slow clients
/// cannot take it off the air (the defaults are of the order nginx uses).
public struct ConnectionLimits: Sendable, Hashable {
    /// How long a client may take to send a request's head, from its first byte (and a new
    /// connection to send its first byte). nginx's `client_header_timeout`.
    public var headerTimeout: Duration
    /// The longest pause between two parts of a request's body. nginx's `client_body_timeout`.
    public var bodyTimeout: Duration
    /// How long a connection may wait for its next request once an answer is sent. nginx's
    /// `keepalive_timeout`.
    public var idleTimeout: Duration
    /// How long an answer may wait for a client that does not read it. nginx's `send_timeout`.
    public var sendTimeout: Duration
    /// Connections open at once. Past it, the connection idle the longest is closed to make room;
    /// when none is idle, the new one is.
    public var maxConnections: Int
    /// Connections open at once from one address (0: no limit), made room for as above.
    public var maxConnectionsPerClient: Int

    public init(
        headerTimeout: Duration = .seconds(60), bodyTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(75),
        sendTimeout: Duration = .seconds(60), maxConnections: Int = 4_096, maxConnectionsPerClient: Int = 256
    ) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.sendTimeout = sendTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
    }
}
