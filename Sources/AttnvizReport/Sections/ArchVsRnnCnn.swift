import AttnvizRender
import AttnvizTrace
import Foundation

/// arch-vs-rnn-cnn: per-layer cost, sequential steps and path length of self-attention,
/// recurrent and convolutional layers at this n and d; measured: one parallel pass vs n steps.
struct ArchVsRnnCnnSection: Section {
    let id = "arch-vs-rnn-cnn"
    static let kernel = 3

    func experiments(_ s: Study) -> [Experiment] { s.timings ? [.stepwise(repeats: Self.repeats(s))] : [] }

    /// Timed one-pass runs: 3 (their median), 1 for inputs over 128 tokens (only the first
    /// `Session.stepwiseLimit` tokens are timed either way).
    static func repeats(_ s: Study) -> Int { s.n > 128 ? 1 : 3 }

    /// Multiply–adds of one layer's core operation (Vaswani et al., table 1): attention n²·d,
    /// recurrent n·d², convolution k·n·d².
    static func operations(n: Int, d: Int, kernel k: Int) -> (attention: Double, recurrent: Double, convolution: Double) {
        let n = Double(n), d = Double(d)
        return (n * n * d, n * d * d, Double(k) * n * d * d)
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model, n = s.n, d = m.dModel, k = Self.kernel
        let ops = Self.operations(n: n, d: d, kernel: k)
        let convPath = n > 1 ? Int(ceil(log(Double(n)) / log(Double(k)))) : 1
        let decoder = m.architecture == .decoder
        var answer = [
            "A recurrent layer reads the tokens one after another: the state after token t needs the state after token t − 1, so a sentence of n tokens takes n dependent steps, and information from the first token reaches the last only after passing through all n − 1 steps in between. A convolution sees k neighbours at once; connecting tokens far apart needs a stack of layers (about log_k n with dilations, n/k without).",
            "Self-attention compares every pair of positions in one layer: the path between any two tokens is one step, and the n rows are independent matrix products, so the whole sentence is computed at once. The price is the n × n score matrix: per layer n²·d multiply–adds against n·d² for a recurrent layer, cheaper only while n is smaller than d.",
        ]
        answer.append(decoder
            ? "This loaded model is a causal decoder: in training (teacher forcing) every position is computed in one pass like an encoder, but generating text is still sequential — one new token per forward call, because each token depends on the ones chosen before it."
            : m.architecture == .encoderDecoder
            ? "This loaded model is an encoder–decoder: its encoder reads the whole source in one pass (the numbers below are for it), and in training its decoder is also one teacher-forced pass; only generating the output stays sequential, one decoder call per new token."
            : "This loaded model is an encoder: the whole input is one pass. Only generation (in a decoder) stays sequential.")
        let rows = [
            ["self-attention (this model), pairwise part", Analysis.grouped(ops.attention), "n²·d", "1", "1"],
            ["recurrent (RNN/LSTM)", Analysis.grouped(ops.recurrent), "n·d²", "\(n)", "\(n)"],
            ["convolution, kernel \(k)", Analysis.grouped(ops.convolution), "k·n·d²", "1", "\(convPath) (log_k n, dilated)"],
        ]
        // Per-layer operations as n grows, this model's d, log scale.
        let lengths = stride(from: 0.0, through: log2(Double(max(m.maxPositions, 4))), by: 0.25).map { pow(2, $0) }
        let logs = lengths.map(log2)
        let series: [LinePlot.Series] = [
            .init(name: "self-attention n²·d", x: logs, y: lengths.map { log10($0 * $0 * Double(d)) }),
            .init(name: "recurrent n·d²", x: logs, y: lengths.map { log10($0 * Double(d * d)) }, dashed: true),
            .init(name: "convolution k·n·d²", x: logs, y: lengths.map { log10(Double(k) * $0 * Double(d * d)) }, dashed: true),
            .init(name: "this sentence (n = \(n))", x: [log2(Double(max(n, 1)))], y: [log10(max(ops.attention, 1))], markers: true),
        ]
        let topPower = Int(log2(Double(max(m.maxPositions, 4))))
        let ticks: [(Double, String)] = (0...topPower).map { p in (Double(p), String(1 << p)) }
        let plot = LinePlot(title: "Multiply–adds of one layer vs sequence length (d = \(d))", series: series,
                            xLabel: "tokens n (log scale)", yLabel: "log₁₀ multiply–adds per layer", xTicks: ticks)
        var figures = [FigureSpec(file: Figures.file(id, "cost"), figure: plot,
                                  caption: "Counted, not measured, in the orders of Vaswani et al.'s table 1 (constants and the shared d × d projections left out): the lines cross at n = d = \(d). Below it self-attention's pairwise part does fewer operations than a recurrent layer's d × d step; this sentence (n = \(n)) is " + (n < d ? "below" : "at or above") + " the crossing.")]
        let cheaper = ops.attention < ops.recurrent
        let costFinding: Finding = "At n = \("n", n) and d = \("d_model", d), the pairwise core of self-attention costs n²·d = \("attention_ops", ops.attention, "%.3g") multiply–adds for the scores QKᵀ (the same again for weights·V), against n·d² = \("recurrent_ops", ops.recurrent, "%.3g") for one d × d recurrent product per token — the orders of Vaswani et al.'s table 1, constants dropped. Both layers also have their d × d projections (4·n·d² = \("projection_ops", 4 * Double(n) * Double(d * d), "%.3g") for Q, K, V and O), which grow only linearly with n. Counted this way, "
        var findings: [Finding] = [costFinding.appending(cheaper ? "attention's pairwise part is the cheaper one here; it stops being cheaper beyond n = \(d) tokens." : "attention's pairwise part is the more expensive one at this length (n ≥ d).")]
        var values: [(name: String, value: FindingValue)] = [("convolution_ops", .number(ops.convolution)), ("crossover_n", .number(Double(d)))]
        var unavailable: String?
        if s.timings {
            switch s.run(.stepwise(repeats: Self.repeats(s))) {
            case let .measured(ms, _):
                if let par = ms.first(where: { $0.label == "parallel" }), let seq = ms.first(where: { $0.label == "sequential" }) {
                    let steps = seq.n, part = steps < n ? "the first \(steps) of the \(n) tokens" : "the \(n) tokens"
                    let chart = BarChart(title: "\(steps) tokens in one pass vs \(steps) one-token steps (measured)",
                                         categories: ["one pass (1 call)", "\(seq.calls) steps (\(seq.calls) calls)"],
                                         series: [("wall time (ms)", [par.seconds * 1000, seq.seconds * 1000])],
                                         xLabel: "how \(part) are processed", yLabel: "milliseconds")
                    figures.append(FigureSpec(file: Figures.file(id, "steps"), figure: chart,
                                              caption: "Same weights, same tokens: all at once (\(Self.repeats(s) == 1 ? "one timed run after a warm-up" : "median of \(Self.repeats(s)) runs")), or one token per call with the earlier tokens' keys and values cached, as a recurrent model or a generating decoder must (one run)." + (steps < n ? " Only the first \(steps) tokens are timed: each step reads every weight once, so \(n) steps would take seconds." : "") + " Measured on this machine; times vary with its load."))
                    let ratio = seq.seconds / max(par.seconds, 1e-9)
                    let f: Finding = "Measured on this machine: one pass over \(part) took \("parallel_ms", par.seconds * 1000, "%.1f") ms; the same weights run as \("sequential_calls", seq.calls) dependent one-token steps took \("sequential_ms", seq.seconds * 1000, "%.1f") ms, \("sequential_over_parallel", ratio, "%.1f")× as long."
                    findings.append(f.appending(decoder ? "" : " (Run step by step, each token sees only the tokens before it, so those outputs are not this encoder's; only the cost is compared.)"))
                }
            case let .unavailable(why): unavailable = "the timed comparison could not run: \(why)"
            case .trace: break
            }
        } else {
            findings.append("Timings were skipped (--no-timings); the counts above do not depend on the machine.")
        }
        values.append(("timed", .text(s.timings ? "yes" : "no")))
        return SectionContent(
            answer: answer, groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "One layer at this sentence's n = \(n) and the model's d = \(d) (after Vaswani et al., table 1): multiply–adds of its core operation, sequential steps that cannot run in parallel, and the longest path between two tokens.",
                               header: ["layer type", "multiply–adds", "formula", "sequential steps", "max path length"], rows: rows)],
            findings: findings, unavailable: unavailable, values: values)
    }
}
