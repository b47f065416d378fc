public import Foundation
public import Offload

extension Timestamp {
    /// The moment `date` is.
    public init(_ date: Date) {
        self.init(secondsSince1970: date.timeIntervalSince1970)
    }

    /// This moment as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }
}
