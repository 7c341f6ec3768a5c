import AttnvizRender
import AttnvizTrace
import Foundation

/// arch-strengths-limits: why the Transformer works, what it costs as the input grows (measured
/// on this tool's own forward, with the n² term fitted), and where the length limit comes from.
struct ArchStrengthsLimitsSection: Section {
    let id = "arch-strengths-limits"

    /// Powers of two from 16 up to the model's positions, and the limit itself.
    static func lengths(maxPositions: Int) -> [Int] {
        var out: [Int] = []
        var n = 16
        while n < maxPositions { out.append(n); n *= 2 }
        if maxPositions >= 1 { out.append(maxPositions) }
        return out
    }

    func experiments(_ s: Study) -> [Experiment] {
        s.timings ? [.forwardTimes(lengths: Self.lengths(maxPositions: s.trace.model.maxPositions), repeats: Self.repeats(s))] : []
    }

    /// Timed runs per length after the warm-up: 3 (their median), 1 for inputs over 128 tokens,
    /// whose reports have much else to compute (the timed lengths do not depend on the input).
    static func repeats(_ s: Study) -> Int { s.n > 128 ? 1 : 3 }
    static func timedHow(_ s: Study) -> String { repeats(s) == 1 ? "one timed run after a warm-up" : "median of \(repeats(s))" }

    /// Share of one layer's multiply–adds that grows with n²: 2·n²·d (QKᵀ and weights·V) against
    /// 4·n·d² (Q, K, V, O projections) + 2·n·d·d_ff (feed-forward).
    static func pairwiseShare(n: Int, d: Int, dFF: Int) -> Double {
        let n = Double(n), d = Double(d), ff = Double(dFF)
        let pairwise = 2 * n * n * d, linear = 4 * n * d * d + 2 * n * d * ff
        return pairwise / max(pairwise + linear, 1)
    }

    /// Least-squares fit of t(n) = a + b·n + c·n² (normal equations, 3 × 3, Cramer's rule).
    static func quadraticFit(_ x: [Double], _ y: [Double]) -> (a: Double, b: Double, c: Double)? {
        guard x.count == y.count, x.count >= 3 else { return nil }
        var s = [Double](repeating: 0, count: 5), t = [Double](repeating: 0, count: 3)
        for (xi, yi) in zip(x, y) {
            var p = 1.0
            for k in 0..<5 { s[k] += p; if k < 3 { t[k] += p * yi }; p *= xi }
        }
        let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]]
        func det(_ a: [[Double]]) -> Double {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        }
        let dm = det(m)
        guard abs(dm) > 0, dm.isFinite else { return nil }
        func replaced(_ col: Int) -> [[Double]] { (0..<3).map { r in (0..<3).map { c in c == col ? t[r] : m[r][c] } } }
        return (det(replaced(0)) / dm, det(replaced(1)) / dm, det(replaced(2)) / dm)
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let limitSource: String
        switch m.positions {
        case .learned:
            limitSource = "This model learned one position vector per index, \(m.maxPositions) rows in all (0 to \(m.maxPositions - 1)): a token at index \(m.maxPositions) has no vector, so longer input cannot be run without cutting it — attnviz keeps the first \(m.maxPositions) tokens and says how many it dropped. The number is a training choice (cost grows with n², and long sequences were rare in the training data), not a law."
        case .sinusoidal:
            limitSource = "This model computes its positions with sines and cosines, so any index has a vector, but its config caps the input at \(m.maxPositions) positions, and on lengths longer than its training inputs its behaviour is untested, and the cost still grows with n²."
        }
        let answer = [
            "Why it works: every token can draw on every other in one step (no long chain as in an RNN), the weights of that mixing are computed from the content itself, and the whole sequence trains in parallel on modern hardware — which made training on very large corpora practical.",
            "Weaknesses: attention's time and memory grow with n² (every pair of tokens is scored), it has no sense of order without added position information, and it needs much data. " + limitSource,
        ]
        let layers = m.layers + m.decoderLayers, heads = m.heads
        // The attention matrices a recorded forward keeps: scores and weights, every layer and head.
        let attentionBytes: (Int) -> Double = { n in 2 * Double(layers * heads) * Double(n) * Double(n) * 4 }
        var figures: [FigureSpec] = []
        var findings: [Finding] = []
        var rows: [[String]] = []
        var unavailable: String?
        let n = s.n
        let used: Finding = "This run used \("tokens", n) of the model's \("max_positions", m.maxPositions) positions"
        findings.append(used.appending(s.trace.truncatedTokens > 0 ? "; \(s.trace.truncatedTokens) more \(s.encoderDecoder == nil ? "tokens" : "characters") of the input were dropped." : "."))
        if s.timings {
            switch s.run(.forwardTimes(lengths: Self.lengths(maxPositions: m.maxPositions), repeats: Self.repeats(s))) {
            case let .measured(ms, _) where !ms.isEmpty:
                let xs = ms.map { Double($0.n) }, ys = ms.map { $0.seconds * 1000 }
                let fit = Self.quadraticFit(xs, ys)
                var series: [LinePlot.Series] = [.init(name: "measured (\(Self.timedHow(s)))", x: xs, y: ys, markers: true)]
                if let fit {
                    let lo = xs.min() ?? 0, hi = xs.max() ?? 1
                    let grid = stride(from: lo, through: hi, by: max(1, (hi - lo) / 64)).map { $0 }
                    series.append(.init(name: "fit a + b·n + c·n²", x: grid, y: grid.map { fit.a + fit.b * $0 + fit.c * $0 * $0 }, dashed: true))
                    series.append(.init(name: "its n² part c·n²", x: grid, y: grid.map { fit.c * $0 * $0 }, dashed: true))
                }
                var plot = LinePlot(title: "Forward time vs tokens (attnviz, this machine)", series: series,
                                    xLabel: "tokens n", yLabel: "milliseconds per forward pass")
                plot.includeZero = true
                figures.append(FigureSpec(file: Figures.file(id, "time"), figure: plot,
                                          caption: "Measured on this machine (the sentence's ids repeated to each length, nothing recorded), with a least-squares quadratic fit over the measured range. Times vary with the machine's load: read the shape, and the counted split in the findings." + Self.buildNote))
                let memory = LinePlot(title: "Memory a recorded forward keeps vs tokens", series: [
                    .init(name: "everything recorded (counted)", x: xs, y: ms.map { Double($0.bytes) / 1_048_576 }, markers: true),
                    .init(name: "of which attention scores + weights (2·L·h·n²·4 bytes)", x: xs, y: xs.map { attentionBytes(Int($0)) / 1_048_576 }, dashed: true),
                ], xLabel: "tokens n", yLabel: "MiB")
                figures.append(FigureSpec(file: Figures.file(id, "memory"), figure: memory,
                                          caption: "Counted from the tensors a recorded run keeps (hidden states, Q/K/V, scores, weights, activations). The n × n attention maps are the part that grows quadratically."))
                for (i, meas) in ms.enumerated() {
                    rows.append(["\(meas.n)", String(format: "%.1f", ys[i]), fit.map { String(format: "%.0f%%", 100 * $0.c * xs[i] * xs[i] / max(ys[i], 1e-9)) } ?? "–",
                                 String(format: "%.1f", Double(meas.bytes) / 1_048_576), String(format: "%.1f", attentionBytes(meas.n) / 1_048_576)])
                }
                if let last = ms.last, let first = ms.first {
                    findings.append("A forward pass took \("time_first_ms", (ys.first ?? 0), "%.1f") ms at \("n_first", first.n) tokens and \("time_last_ms", (ys.last ?? 0), "%.1f") ms at \("n_last", last.n) tokens (\("time_ratio", (ys.last ?? 0) / max(ys.first ?? 1, 1e-9), "%.1f")× for \(String(format: "%.0f", Double(last.n) / Double(max(first.n, 1))))× the tokens).")
                    if let fit {
                        let fitted = fit.c * Double(last.n * last.n) / max(ys.last ?? 1, 1e-9)
                        findings.append("The quadratic fit to the measured times attributes \(percent: "quadratic_share_at_max", max(0, fitted)) of the time at \(last.n) tokens to its n² term; timings on this shared machine vary from run to run, so read the count above for the split and the curve for its shape.")
                    }
                    let attShare = attentionBytes(last.n) / max(Double(last.bytes), 1)
                    findings.append("At \(last.n) tokens the attention maps (scores and weights of every layer and head) are \(percent: "attention_memory_share_at_max", attShare) of the \("recorded_mib_at_max", Double(last.bytes) / 1_048_576, "%.1f") MiB a recorded run keeps.")
                }
            case let .unavailable(why): unavailable = "the timed runs could not be made: \(why)"
            default: unavailable = "the timed runs returned nothing"
            }
        } else {
            findings.append("Timings were skipped (--no-timings); only the counted memory of the attention maps is shown.")
            for L in Self.lengths(maxPositions: m.maxPositions) {
                rows.append(["\(L)", "–", "–", "–", String(format: "%.1f", attentionBytes(L) / 1_048_576)])
            }
        }
        // The reliable statement about the n² term is the count (timings only illustrate it).
        let share = Self.pairwiseShare(n: m.maxPositions, d: m.dModel, dFF: m.dFF)
        let even = 2 * m.dModel + m.dFF
        let counted: Finding = "Counted per layer at the model's limit of \(m.maxPositions) tokens, the pairwise part (2·n²·d multiply–adds: QKᵀ and weights·V) is \(percent: "pairwise_share_counted_at_max", share) of the layer's multiply–adds; the rest (4·n·d² for the projections, 2·n·d·d_ff for the feed-forward) grows linearly with n. The two would be equal at n = 2·d + d_ff = \("pairwise_equals_linear_n", even) tokens"
        findings.append(counted.appending(even > m.maxPositions ? ", beyond this model's \(m.maxPositions) positions." : "."))
        return SectionContent(
            answer: answer, groups: figures.isEmpty ? [] : [FigureGroup(figures: figures)],
            tables: rows.isEmpty ? [] : [TableSpec(caption: "Per length: forward time (\(Self.timedHow(s))), the share of it the fitted n² term explains, the memory a recorded run keeps, and the part of it that is attention maps (\(layers) layers × \(heads) heads × n² × 2 × 4 bytes).",
                               header: ["tokens", "ms", "n² share", "recorded MiB", "attention maps MiB"], rows: rows)],
            findings: findings, unavailable: unavailable)
    }

    static var buildNote: String {
        #if DEBUG
        return " This attnviz is a debug build: its times are several times those of a release build."
        #else
        return ""
        #endif
    }
}
