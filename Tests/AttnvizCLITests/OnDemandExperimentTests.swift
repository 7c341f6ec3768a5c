import AttnvizModel
@testable import AttnvizReport
import AttnvizTrace
import Foundation
import Testing

/// `attnviz render` makes the sections' experiments on demand (`ExperimentSupply`) and draws each
/// section's figures as soon as it is built (`ReportPipeline`). Both only change when things are
/// made and dropped, never what is made: checked against the report built from outcomes made
/// beforehand.
@Suite struct OnDemandExperimentTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Experiment: Int] = [:]
        func add(_ e: Experiment) { lock.lock(); counts[e, default: 0] += 1; lock.unlock() }
        var all: [Experiment: Int] { lock.lock(); defer { lock.unlock() }; return counts }
    }

    static func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: dir) else { return out }
        for case let path as String in walker {
            var isDir: ObjCBool = false
            let full = (dir as NSString).appendingPathComponent(path)
            if fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue { out[path] = fm.contents(atPath: full) }
        }
        return out
    }

    /// Same bytes for every file; each planned experiment made exactly once (a run dropped too
    /// early and asked for again would be made twice), and nothing else made.
    @Test func onDemandReportEqualsPrecomputedOne() throws {
        let session = try Session.open(directory: CLI.tinyBert, note: nil)
        let text = "The cat sat on the mat because it was tired. It slept."
        let trace = try session.trace(text: text)
        let study = Study(inputName: "s", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let plan = ReportPlan.experiments(for: study)
        #expect(!plan.isEmpty)
        let companion = Companion.open(directory: nil)
        let templates = CLI.repoRoot.appendingPathComponent("templates").path
        let tmp = try TempDir()

        var eager = study
        eager.runs = session.run(plan, base: trace, companion: companion)
        let a = try ReportBuilder(templates: templates).write(eager, to: tmp.file("eager"))

        let counter = Counter()
        let b = try ReportBuilder(templates: templates).write(study, to: tmp.file("lazy")) { e in
            counter.add(e)
            return session.run([e], base: trace, companion: companion)[e] ?? .unavailable("not made")
        }
        let made = counter.all
        print("  on demand: \(made.count) experiments made, \(made.values.reduce(0, +)) runs; planned \(plan.count); figures \(a.figureCount) vs \(b.figureCount)")
        #expect(Set(made.keys) == Set(plan))
        #expect(made.values.allSatisfy { $0 == 1 }, "made more than once: \(made.filter { $0.value > 1 })")
        #expect(a.figureCount == b.figureCount && a.figureCount > 0)

        let x = try Self.files(tmp.file("eager")), y = try Self.files(tmp.file("lazy"))
        #expect(x.count > 3 && Set(x.keys) == Set(y.keys))
        let differing = x.keys.filter { x[$0] != y[$0] }.sorted()
        print("  \(x.count) files compared, \(differing.count) differ")
        #expect(differing.isEmpty, "differ: \(differing.prefix(5))")
    }

    /// Outcomes are made once even when two sections ask at the same time, handed to every
    /// section that asked, and dropped after the last one is done.
    @Test func supplyMakesOnceAndDropsAfterLastReader() {
        let a = Experiment.positionTable, b = Experiment.otherText("x", pair: nil), c = Experiment.repeatRun
        let counter = Counter()
        let supply = ExperimentSupply(asked: [[a, b], [b], [b, c], [c]]) { e in
            counter.add(e)
            usleep(20_000)  // long enough for the other thread to ask while it runs
            return .unavailable("\(e)")
        }
        let lock = NSLock()
        nonisolated(unsafe) var got: [[Experiment: ExperimentOutcome]] = [[:], [:]]
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let o = supply.outcomes(i == 0 ? [a, b] : [b])
            lock.lock(); got[i] = o; lock.unlock()
        }
        #expect(got[0].count == 2 && got[1].count == 1)
        #expect(got[0][b]?.reason == "\(b)" && got[1][b]?.reason == "\(b)")
        #expect(counter.all[b] == 1, "b made \(counter.all[b] ?? 0) times")
        #expect(supply.held == 2)  // a and b: nobody is done yet
        supply.done(with: [a, b])
        #expect(supply.held == 1)  // b still has two readers
        supply.done(with: [b])
        _ = supply.outcomes([b, c])
        #expect(counter.all[b] == 1 && counter.all[c] == 1)
        supply.done(with: [b, c])
        #expect(supply.held == 1)  // c: one reader left
        supply.done(with: [c])
        #expect(supply.held == 0)
    }
}
