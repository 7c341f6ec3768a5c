import AttnvizTensor
import AttnvizTrace
import Foundation

/// Experiment outcomes made while the sections are built, each one when the first section that
/// asked for it needs it, and dropped when the last such section is built. Holding every outcome
/// until the figures were drawn cost ≈ 300 MB at 512 tokens (the [MASK], dropout, restricted and
/// reordered runs together); now a run lives only while its sections are computed. The report
/// knows experiments as values: `make` is the model layer's runner (`Session.run`).
final class ExperimentSupply: @unchecked Sendable {
    private let make: @Sendable (Experiment) -> ExperimentOutcome
    private let condition = NSCondition()
    private var ready: [Experiment: ExperimentOutcome] = [:]
    private var running: Set<Experiment> = []
    /// Sections not yet built that asked for each experiment.
    private var readers: [Experiment: Int] = [:]

    /// `asked`: each section's experiments (one list per section that will be built).
    init(asked: [[Experiment]], make: @escaping @Sendable (Experiment) -> ExperimentOutcome) {
        self.make = make
        for list in asked { for e in Set(list) { readers[e, default: 0] += 1 } }
    }

    /// The outcomes of `experiments`, made now if no section made them yet (a run another section
    /// is making is waited for, never made twice).
    func outcomes(_ experiments: [Experiment]) -> [Experiment: ExperimentOutcome] {
        var out: [Experiment: ExperimentOutcome] = [:]
        for e in experiments where out[e] == nil { out[e] = outcome(e) }
        return out
    }

    private func outcome(_ e: Experiment) -> ExperimentOutcome {
        condition.lock()
        while running.contains(e) { condition.wait() }
        if let o = ready[e] {
            condition.unlock()
            return o
        }
        running.insert(e)
        condition.unlock()
        let o = make(e)
        condition.lock()
        running.remove(e)
        // Kept only while a section still has to read it.
        if readers[e, default: 0] > 0 { ready[e] = o }
        condition.broadcast()
        condition.unlock()
        return o
    }

    /// A section that asked for `experiments` is built: outcomes no other section waits for go.
    func done(with experiments: [Experiment]) {
        var long = false
        condition.lock()
        for e in Set(experiments) {
            let left = readers[e, default: 0] - 1
            readers[e] = max(left, 0)
            if left <= 0, let o = ready.removeValue(forKey: e), (o.trace?.tokens.count ?? 0) > Self.trimAbove { long = true }
        }
        condition.unlock()
        // The heap keeps freed memory for reuse (`Memory.keepFreedMemory`); a long run's tens of
        // megabytes go back to the kernel instead (≈ 70 MB less peak at 512 tokens, ≈ 0.15 s).
        if long { Memory.trim() }
    }

    /// Dropping a run longer than this many tokens returns the heap's free pages to the kernel.
    static let trimAbove = 128

    /// Experiments still held (for tests: empty once every section is built).
    var held: Int {
        condition.lock()
        defer { condition.unlock() }
        return ready.count
    }
}
