import Foundation
public import Offload
public import PostgresNIO

/// A queue's address as users write it: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, with
/// `?sslmode=disable|prefer|require` (default `prefer`), `?host=/socket/folder` for a Unix socket,
/// and `?schema=NAME` for the queue's schema.
public struct QueueURL: Sendable {
    /// The connection settings of the queue's pool of connections.
    public var client: PostgresClient.Configuration
    /// The same, for the one connection the queue listens on (outside the pool: a connection
    /// held for listening must never be one the pool's waiting statements count on).
    public var listener: PostgresConnection.Configuration
    /// The schema the URL names, if it names one.
    public var schema: String?

    /// - Throws: ``OffloadError/Code/invalidConfiguration`` naming the part that is wrong (the
    ///   password is never repeated).
    public init(_ text: String) throws(OffloadError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw OffloadError(.invalidConfiguration, "a queue URL starts postgres:// (as postgres://user@localhost:5432/app)")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        var database = String(components.path.drop(while: { $0 == "/" }))
        if database.isEmpty { database = user }
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            let port = components.port ?? 5432
            client = PostgresClient.Configuration(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user,
                password: password, database: database)
            listener = PostgresConnection.Configuration(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user,
                password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw OffloadError(.invalidConfiguration, "the queue URL names no host (as postgres://user@localhost/app)")
            }
            let tls: PostgresClient.Configuration.TLS
            let listenerTLS: PostgresConnection.Configuration.TLS
            do {
                switch query["sslmode"] ?? "prefer" {
                case "disable":
                    (tls, listenerTLS) = (.disable, .disable)
                case "prefer", "allow":
                    (tls, listenerTLS) = (.prefer(.makeClientConfiguration()), .prefer(try NIOSSLContext(configuration: .makeClientConfiguration())))
                case "require", "verify-ca", "verify-full":
                    (tls, listenerTLS) = (
                        .require(.makeClientConfiguration()), .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                    )
                case let mode:
                    throw OffloadError(.invalidConfiguration, "sslmode '\(mode)' is not one of disable, prefer, require")
                }
            } catch let error as OffloadError {
                throw error
            } catch {
                throw OffloadError(.invalidConfiguration, "TLS could not be set up: \(error)")
            }
            client = PostgresClient.Configuration(
                host: host, port: components.port ?? 5432, username: user,
                password: password, database: database, tls: tls)
            listener = PostgresConnection.Configuration(
                host: host, port: components.port ?? 5432, username: user,
                password: password, database: database, tls: listenerTLS)
        }
        schema = query["schema"]
    }
}
