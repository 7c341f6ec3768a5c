import AttnvizTensor
import AttnvizTrace
import Foundation

/// The companion decoded two ways (Experiment.companionDecoding), as train-decoder-io and
/// train-parallel read it: one teacher-forced pass vs n cached steps, and greedy decoding.
enum DecodingAnalysis {
    /// Timed (5 repeats) only when the report times; both sections ask for the same run.
    static func experiment(_ s: Study) -> Experiment { .companionDecoding(text: s.text, repeats: s.timings ? 5 : 0) }

    struct Run {
        var decoderIDs: [Int], labelIDs: [Int], greedyIDs: [Int]
        var parallelHidden: Tensor, parallelLogits: Tensor, stepwiseHidden: Tensor, stepwiseLogits: Tensor
        var greedyLogits: Tensor, greedyForcedLogits: Tensor
        /// Encoder and decoder calls of the parallel path, of the stepwise path, greedy's decoder calls.
        var calls: [Int]
        var scalars: [Int]
        /// Empty when not timed.
        var measurements: [AttnvizTrace.Measurement]
        var stepSeconds: [Double]

        var n: Int { decoderIDs.count }
        func measured(_ label: String) -> AttnvizTrace.Measurement? { measurements.first { $0.label == label } }
    }

    /// The run read from the outcome, or why it is missing.
    static func read(_ outcome: ExperimentOutcome) -> (run: Run?, reason: String) {
        guard case let .measured(m, tensors) = outcome else { return (nil, outcome.reason ?? "the decoding run is missing") }
        func ints(_ k: String) -> [Int]? { tensors[k].map { $0.data.map { $0.isFinite && abs($0) < 1e9 ? Int($0) : -1 } } }
        guard let dec = ints("decoder_ids"), let lab = ints("label_ids"), let greedy = ints("greedy_ids"), let calls = ints("calls"), calls.count == 5,
              let ph = tensors["parallel_hidden"], let pl = tensors["parallel_logits"], let sh = tensors["stepwise_hidden"], let sl = tensors["stepwise_logits"],
              let gl = tensors["greedy_logits"], let gf = tensors["greedy_forced_logits"],
              !dec.isEmpty, lab.count == dec.count, pl.shape.count == 2, pl.shape[0] == dec.count, sl.shape == pl.shape, sh.shape == ph.shape,
              gl.shape.count == 2, gl.shape[0] == greedy.count, gf.shape == gl.shape else {
            return (nil, "the decoding run's tensors are missing or inconsistent")
        }
        let steps = tensors["step_seconds"].map { $0.data.map(Double.init) } ?? []
        return (Run(decoderIDs: dec, labelIDs: lab, greedyIDs: greedy, parallelHidden: ph, parallelLogits: pl, stepwiseHidden: sh, stepwiseLogits: sl,
                    greedyLogits: gl, greedyForcedLogits: gf, calls: calls, scalars: ints("token_scalars") ?? [], measurements: m,
                    stepSeconds: steps.count == dec.count ? steps : []), "")
    }

    /// Index of the largest entry of row `i` of a [rows, V] tensor (first on ties); nil outside.
    static func argmax(_ t: Tensor, row i: Int) -> Int? {
        guard t.shape.count == 2, i >= 0, i < t.shape[0], t.shape[1] > 0 else { return nil }
        let v = t.shape[1], base = i * v
        var best = 0
        for j in 1..<v where t.data[base + j] > t.data[base + best] { best = j }
        return best
    }

    /// softmax(row i)[k] in Double; nil outside.
    static func probability(_ t: Tensor, row i: Int, of k: Int) -> Double? {
        guard t.shape.count == 2, i >= 0, i < t.shape[0], k >= 0, k < t.shape[1] else { return nil }
        let v = t.shape[1], row = t.data[(i * v)..<((i + 1) * v)].map(Double.init)
        let m = row.max() ?? 0
        let z = row.reduce(0) { $0 + exp($1 - m) }
        return z > 0 ? exp(row[k] - m) / z : nil
    }

    /// Largest |a − b| per row of two equal-shaped [rows, w] tensors; nil if the shapes differ.
    static func rowMaxAbsDiff(_ a: Tensor, _ b: Tensor) -> [Double]? {
        guard a.shape == b.shape, a.shape.count == 2 else { return nil }
        let w = a.shape[1]
        return (0..<a.shape[0]).map { i in (0..<w).reduce(0.0) { max($0, abs(Double(a.data[i * w + $1]) - Double(b.data[i * w + $1]))) } }
    }

    /// A character id as a label: from the traces' tokens, else the vocabulary's scalar, else "#id".
    static func namer(_ t: Trace, _ run: Run?) -> (Int) -> String {
        var known: [Int: String] = [:]
        for tok in t.tokens + t.decoderTokens { known[tok.id] = CompanionAnalysis.label(tok) }
        let scalars = run?.scalars ?? []
        return { id in
            if let k = known[id] { return k }
            if id >= 0, id < scalars.count, scalars[id] >= 0, scalars[id] <= 0x10FFFF, let u = UnicodeScalar(UInt32(scalars[id])) { return u == " " ? "␣" : String(Character(u)) }
            return "#\(id)"
        }
    }

    /// Milliseconds, 3 significant digits.
    static func ms(_ seconds: Double) -> String { String(format: "%.3g ms", seconds * 1000) }
}
