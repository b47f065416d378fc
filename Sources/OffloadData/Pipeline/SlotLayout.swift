import Offload

/// The fields a streamed record is made of while it is only its fields (see ``FieldScanner``):
/// the scanner's paths, then the targets of the transforms, which write into slots of their own
/// instead of into a record built for them. A record is built only where a step needs one.
final class SlotLayout: Sendable {
    /// One path per slot.
    let paths: [FieldPath]
    /// For the streaming step at each index: the slot of each of its transforms' targets.
    let targets: [[Int]]
    /// For the streaming step at each index: the slots of a `select`'s fields (`nil`: not read).
    let selected: [[Int?]]
    /// Whether transforms write into slots. Not when a transform's target and a field read
    /// elsewhere overlap without being the same (`user` and `user.tier`): slots could not stand
    /// for the record, so a record is built for the transforms.
    let transformsInSlots: Bool

    /// No fields (for records read whole).
    static let empty = SlotLayout(scanner: FieldScanner(paths: []), streaming: [], readPaths: [])

    init(scanner: FieldScanner, streaming: [Step], readPaths: [FieldPath]) {
        var paths = scanner.paths
        var targets: [[Int]] = []
        var selected: [[Int?]] = []
        var written: [FieldPath] = []
        for step in streaming {
            var stepTargets: [Int] = []
            var stepSelected: [Int?] = []
            switch step {
            case .transform(let transforms):
                for transform in transforms {
                    let target = transform.target
                    written.append(target)
                    if let slot = paths.firstIndex(where: { $0.description == target.description }) {
                        stepTargets.append(slot)
                    } else {
                        paths.append(target)
                        stepTargets.append(paths.count - 1)
                    }
                }
            case .select(let fields):
                for field in fields { stepSelected.append(paths.firstIndex { $0.description == field.description }) }
            default:
                break
            }
            targets.append(stepTargets)
            selected.append(stepSelected)
        }
        transformsInSlots = !written.contains { target in
            (readPaths + written).contains { other in
                other.description != target.description && (other.parts.starts(with: target.parts) || target.parts.starts(with: other.parts))
            }
        }
        self.paths = transformsInSlots ? paths : scanner.paths
        self.targets = targets
        self.selected = selected
    }

    /// Writes as JSON the record that the `select` at streaming step `step` keeps, for a select
    /// of top-level fields (see ``selectsTopLevelFields(_:)``): what ``selection(_:from:)``
    /// builds, written without being built.
    func writeSelection(_ step: Int, from slots: [JSONValue?], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for slot in selected[step] {
            guard let slot, let value = slots[slot] else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.writeString(paths[slot].description, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Whether the `select` at streaming step `step` keeps only top-level fields, each once, so
    /// that ``writeSelection(_:from:into:)`` writes what ``selection(_:from:)`` builds.
    func selectsTopLevelFields(_ step: Int) -> Bool {
        let slots = selected[step].compactMap { $0 }
        return Set(slots).count == slots.count && slots.allSatisfy { paths[$0].parts.count == 1 }
    }

    func slot(of path: FieldPath) -> Int? {
        paths.firstIndex { $0.description == path.description }
    }

    /// An object holding the values of `slots` at their paths.
    func record(from slots: [JSONValue?]) -> JSONValue {
        var record = JSONValue.object([])
        for (path, value) in zip(paths, slots) {
            if let value { path.set(value, in: &record) }
        }
        return record
    }

    /// An object holding the values of the slots that a `select` at streaming step `step` keeps.
    func selection(_ step: Int, from slots: [JSONValue?]) -> JSONValue {
        var record = JSONValue.object([])
        for slot in selected[step] {
            if let slot, let value = slots[slot] { paths[slot].set(value, in: &record) }
        }
        return record
    }
}
