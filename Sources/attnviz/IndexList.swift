import ArgumentParser
import Foundation

/// `0,2-4` → [0, 2, 3, 4]: sorted, without repeats.
///
/// Bounds are checked before any range is expanded: no model has anywhere near
/// `IndexList.limit` layers or heads, so a larger index is refused at once (the command then
/// checks the list against the loaded model). Expanding `0-9223372036854775807` into a set is
/// what hung with unbounded memory.
struct IndexList: ExpressibleByArgument, Sendable {
    /// Indices must be below this (layers and heads of real Transformers are counted in tens).
    static let limit = 10_000

    let values: [Int]

    init?(argument: String) {
        guard let ranges = Self.ranges(argument) else { return nil }
        var seen = [Bool](repeating: false, count: Self.limit)
        for r in ranges { for i in r { seen[i] = true } }
        values = seen.indices.filter { seen[$0] }
    }

    /// The parts of the list as ranges, each inside 0..<limit; nil when any part is malformed,
    /// negative, reversed or too large.
    static func ranges(_ argument: String) -> [ClosedRange<Int>]? {
        var out: [ClosedRange<Int>] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard let v = bounds[0], v >= 0, v < limit else { return nil }
                out.append(v...v)
            case 2:
                guard let a = bounds[0], let b = bounds[1], a >= 0, a <= b, b < limit else { return nil }
                out.append(a...b)
            default: return nil
            }
        }
        return out.isEmpty ? nil : out
    }
}
