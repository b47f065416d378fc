/// The most intervals that overlap at one instant (an end at the instant another starts does not
/// overlap it).
public func mostAtOnce(_ intervals: [(start: Double, end: Double)]) -> Int {
    var edges: [(at: Double, step: Int)] = []
    for interval in intervals {
        edges.append((interval.start, 1))
        edges.append((interval.end, -1))
    }
    edges.sort { a, b in a.at != b.at ? a.at < b.at : a.step < b.step }
    var now = 0
    var most = 0
    for edge in edges {
        now += edge.step
        most = max(most, now)
    }
    return most
}
