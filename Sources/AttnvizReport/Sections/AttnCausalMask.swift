import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-causal-mask: the decoder's causal mask, the companion decoder's lower-triangular
/// self-attention on this input, and the proof that a later decoder token leaves every earlier
/// output bit-identical (a second run with the last decoder input token changed).
struct AttnCausalMaskSection: Section {
    let id = "attn-causal-mask"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s), .companion(text: s.text, changeLast: true)] }

    /// Per decoder position, the largest |Δ| between two decoder outputs [n, d] (nil if shapes differ).
    static func rowDiffs(_ a: Tensor, _ b: Tensor) -> [Double]? {
        guard a.shape == b.shape, a.shape.count == 2 else { return nil }
        let n = a.shape[0], d = a.shape[1]
        return (0..<n).map { i in (0..<d).reduce(0.0) { max($0, abs(Double(a.data[i * d + $1]) - Double(b.data[i * d + $1]))) } }
    }

    func build(_ s: Study) throws -> SectionContent {
        let main = s.trace.model
        let mainSentence: String
        switch main.architecture {
        case .encoder: mainSentence = "The main model of this report, \(main.name), is a bidirectional encoder: it has no causal mask, every token sees every other. The decoder shown here is the companion model's."
        case .decoder: mainSentence = "The main model of this report, \(main.name), is itself a causal (decoder-only) model and applies this mask in every layer; the figures below use the companion model's decoder."
        case .encoderDecoder: mainSentence = "The main model of this report, \(main.name), is an encoder–decoder: its decoder applies this mask, its encoder does not."
        }
        var answer = [
            "A decoder produces its output one token at a time: decoder position i reads input i (the start token, or the output before it) and predicts output i, so it may use inputs 0…i, itself included, and nothing after it. In training the whole target is fed at once (teacher forcing), and a causal (sequence) mask keeps each position from looking ahead: the score of query i for key j > i is set to −∞ before the softmax, so its weight is exactly 0. Without the mask the model would learn to copy the next token from its input and fail at generation time, when that token does not yet exist.",
            "The mask applies only to the decoder's self-attention. The encoder is bidirectional, and the decoder's cross-attention may look at every source position. \(mainSentence)",
        ]
        let outcome = s.run(CompanionAnalysis.run(s))
        guard let t = outcome.trace, !CompanionAnalysis.decoderSide(t).tokens.isEmpty else {
            return SectionContent(answer: answer, unavailable: outcome.reason ?? "the companion run has no decoder side")
        }
        let side = CompanionAnalysis.decoderSide(t)
        answer.append(CompanionAnalysis.describe(t, s) + (CompanionAnalysis.isDecoderOnly(t)
            ? " A decoder-only model has no encoder and no cross-attention: this causal self-attention is its only attention, and the same mask is what lets it generate."
            : " Its decoder input is the start token followed by the gold output shifted right by one (teacher forcing)."))
        let n = side.tokens.count
        let labels = side.tokens.map(CompanionAnalysis.label)
        let allowed = (0..<(n * n)).map { $0 % n <= $0 / n }
        var figures = [FigureSpec(file: Figures.file(id, "mask"), figure: MaskDiagram(title: "Causal mask for the \(n) decoder inputs", allowed: allowed, rows: n, cols: n, rowLabels: labels, colLabels: labels),
                                  caption: "Row i may attend to the columns j ≤ i (allowed); the upper triangle (the future) is masked: \(n * (n - 1) / 2) of \(n * n) cells.")]
        // The recorded decoder self-attention: future weights exactly zero.
        let decoder = side.layers
        var future = 0, futureZero = 0, heads = 0
        for layer in decoder {
            guard let a = layer.attention.first(where: { $0.kind == .decoderSelf }), a.weights.shape.count == 3, a.weights.shape[1] == n, a.weights.shape[2] == n else { continue }
            heads += a.heads
            for h in 0..<a.heads { for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { future += 1; if a.weights.data[(h * n + i) * n + j] == 0 { futureZero += 1 } } } }
        }
        var maps: [FigureSpec] = []
        for layer in decoder {
            guard let a = layer.attention.first(where: { $0.kind == .decoderSelf }), a.weights.shape == [a.heads, n, n], a.heads > 0 else { continue }
            var map = Figures.head(a.weights, head: 0, labels: labels, title: "Decoder layer \(layer.index) head 0 self-attention", maskedBy: a.scores, maskLabel: "future (causal mask, −∞)")
            map.range = ColorRange(0, 1)
            maps.append(FigureSpec(file: Figures.file(id, "decoder-L\(layer.index)"), figure: map,
                                   caption: "The companion's decoder, layer \(layer.index), head 0 on this input: every weight lies on or below the diagonal; the future cells are drawn as masked. Same colour range 0–1 for all layers."))
        }
        figures += maps.prefix(4)
        var findings: [Finding] = [
            "In the companion's \("decoder_layers", decoder.count) decoder layers (\(heads) heads, \(n) decoder positions) \("future_weights_zero", futureZero) of \("future_weights", future) future attention weights are exactly 0.",
        ]
        var unavailable: String?
        if let changed = s.run(.companion(text: s.text, changeLast: true)).trace, let diffs = Self.rowDiffs(t.lastHidden, changed.lastHidden), diffs.count == n {
            let earlier = diffs.dropLast()
            let identical = earlier.filter { $0 == 0 }.count
            let from = side.tokens.last.map(CompanionAnalysis.label) ?? "?", to = CompanionAnalysis.decoderSide(changed).tokens.last.map(CompanionAnalysis.label) ?? "?"
            figures.append(FigureSpec(file: Figures.file(id, "proof"), figure: BarChart(title: "Decoder output change after changing the last decoder input (“\(from)” → “\(to)”)", categories: labels.enumerated().map { "\($0.offset) \($0.element)" }, series: [
                (name: "max |Δ| over d_model", values: diffs),
            ], xLabel: "decoder position (input token)", yLabel: "max |Δ| of the final hidden state"),
                caption: "Two teacher-forced runs that differ only in the last decoder input token. The \(n - 1) earlier positions' outputs are bit-identical (Δ = 0: \(identical) of \(n - 1)); only the last position changes (max |Δ| = \(String(format: "%.3g", diffs.last ?? 0)))."))
            findings.append("Changing the last decoder input token (“\(from)” → “\(to)”) leaves \("earlier_outputs_identical", identical) of \("earlier_positions", n - 1) earlier decoder outputs bit-identical (max |Δ| \("earlier_max_abs_diff", earlier.max() ?? 0, "%g")); the last output changes by \("last_max_abs_diff", diffs.last ?? 0, "%.3f").")
        } else {
            unavailable = s.run(.companion(text: s.text, changeLast: true)).reason ?? "the changed companion run is missing"
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings, unavailable: unavailable)
    }
}
