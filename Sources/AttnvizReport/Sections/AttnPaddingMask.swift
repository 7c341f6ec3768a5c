import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// attn-padding-mask: the sentence inside a padded batch, and the proof that padding changes nothing.
struct AttnPaddingMaskSection: Section {
    let id = "attn-padding-mask"

    func experiments(_ s: Study) -> [Experiment] { s.paddedExperiment.map { [$0] } ?? [] }

    func build(_ s: Study) throws -> SectionContent {
        var answer = [
            "Sentences in a batch must have one length, so shorter ones are filled with [PAD] tokens. Those tokens must not influence the real ones. The attention mask does this inside the scores: before the softmax, −∞ (in practice the most negative float) is added to every score whose key is a pad, so e^(−∞) = 0 and the pad columns get exactly zero weight.",
            "Only key columns are masked. Pad positions still compute outputs of their own (their rows), but nothing reads them, and losses ignore them. The run below checks the consequence numerically: every real token's output is the same with and without the padding.",
        ]
        guard let padded = s.padded.trace else {
            return SectionContent(answer: answer, unavailable: s.padded.reason)
        }
        let n = s.n, total = padded.tokens.count, k = total - n
        if s.trace.model.architecture == .encoderDecoder {
            answer.append("\(s.trace.model.name) is an encoder–decoder: the padded run below pads its source with \(padded.tokens.last?.text ?? "pad") tokens, and the figures and table show its encoder's self-attention (\(padded.layers.count) layers); its decoder's cross-attention masks the same pad keys.")
        }
        let labels = padded.tokens.map(\.text)
        let pad = padded.tokens.last?.text ?? "[PAD]"  // the loaded model's pad token ([PAD], <pad>)
        let allowed = (0..<(total * total)).map { ($0 % total) < n }
        var rows: [[String]] = []
        var worstHidden: Float = 0, worstPadWeight: Float = 0
        for (l, layer) in padded.layers.enumerated() {
            guard let w = layer.selfAttention?.weights else { continue }
            var onPads: Float = 0
            for h in 0..<w.shape[0] { for i in 0..<total { for j in n..<total { onPads = max(onPads, w.data[(h * total + i) * total + j]) } } }
            let d = layer.output.shape[1]
            let realPadded = Array(layer.output.data[0..<(n * d)]), alone = s.trace.layers[l].output.data
            let diff = zip(realPadded, alone).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            worstHidden = max(worstHidden, diff); worstPadWeight = max(worstPadWeight, onPads)
            rows.append(["\(l)", String(format: "%.1e", diff), String(format: "%g", onPads)])
        }
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        var figures = [FigureSpec(file: Figures.file(id, "mask"), figure: MaskDiagram(
            title: "Padding mask: \(n) real tokens + \(k) \(pad)", allowed: allowed, rows: total, cols: total, rowLabels: labels, colLabels: labels),
            caption: "Batched with a sentence \(k) tokens longer, this one gets \(k) \(pad) tokens; their columns are blocked for every query.")]
        if let a = padded.layers[layer].selfAttention {
            var scores = Figures.head(a.scores, head: head, labels: labels, title: "Layer \(layer), head \(head): scaled scores with the mask added", colorbar: "score")
            scores.maskLabel = "−∞ (masked)"
            figures.append(FigureSpec(file: Figures.file(id, "scores"), figure: scores, caption: "Masked scores are −∞ (hatched); the rest are the ordinary scaled dot products."))
            figures.append(FigureSpec(file: Figures.file(id, "weights"), figure: Figures.head(a.weights, head: head, labels: labels, title: "Layer \(layer), head \(head): weights after softmax"),
                                      caption: "After the softmax the \(pad) columns are exactly 0 in every row; each row still sums to 1 over the real tokens."))
        }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "Per layer: largest difference between a real token's output in the padded run and in the run alone, and the largest weight any query gives a \(pad) key.",
                               header: ["layer", "max |Δ| real outputs", "max weight on \(pad)"], rows: rows)],
            findings: [Finding("Across all \("layers", padded.layers.count) layers the real tokens' outputs differ by at most \("real_outputs_max_abs_diff", Double(worstHidden), "%.1e") from the unpadded run, and the largest weight on a \(pad) key is \("pad_weight_max", Double(worstPadWeight), "%g").").appending(worstHidden == 0 ? " The outputs are exactly equal." : " That difference is floating-point rounding (the padded run sums in another order).")])
    }
}
