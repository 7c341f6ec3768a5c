import ArgumentParser
import Foundation

/// `0,2-4` → [0, 2, 3, 4]: sorted, without repeats.
struct IndexList: ExpressibleByArgument, Sendable {
    let values: [Int]

    init?(argument: String) {
        var out = Set<Int>()
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: guard let v = bounds[0], v >= 0 else { return nil }; out.insert(v)
            case 2: guard let a = bounds[0], let b = bounds[1], a >= 0, a <= b else { return nil }; out.formUnion(a...b)
            default: return nil
            }
        }
        guard !out.isEmpty else { return nil }
        values = out.sorted()
    }
}
