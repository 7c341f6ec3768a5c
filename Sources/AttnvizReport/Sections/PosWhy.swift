import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// pos-why: the measured proof that attention without positions ignores word order.
struct PosWhySection: Section {
    let id = "pos-why"

    func experiments(_ s: Study) -> [Experiment] {
        guard let p = AttentionAnalysis.contentPermutation(s.trace.tokens) else { return [] }
        return [.reordered(permutation: Array(0..<s.n), positions: false), .reordered(permutation: p, positions: false),
                .reordered(permutation: p, positions: true)]
    }

    func build(_ s: Study) throws -> SectionContent {
        let causal = s.trace.model.architecture == .decoder
        var answer = [
            "Self-attention treats its input as a set. Each output is a weighted average of value vectors; each score depends only on the query and key vectors of the two tokens involved, and the softmax sums over all keys in whatever order they come — nothing in it says where a token sits. The feed-forward layer and the LayerNorms act on each token alone. Shuffle the tokens and every score, weight and output moves with its token but keeps its value: the layer is permutation-equivariant. Without extra information, “the dog bit the man” and “the man bit the dog” would give the same bag of output vectors.",
            "Position encodings break this symmetry: a vector that depends on the position is added to (or, in other schemes, mixed into) each token's embedding, so the same word at another place enters the layers as a different vector. The run below tests this directly: the sentence is run with the position embeddings left out, then shuffled and run again; then the same shuffle is run with the positions in.",
        ]
        if causal {
            answer.append("This model is a causal decoder (GPT-2): each token may only attend to the tokens before it. That mask is itself tied to order — after a shuffle a token sees a different set of neighbours — so even without position embeddings the outputs are NOT a permutation of each other here. The proof of permutation-equivariance holds for the unmasked attention of an encoder such as BERT; the numbers below show how far a decoder is from it.")
        }
        guard let p = AttentionAnalysis.contentPermutation(s.trace.tokens) else {
            let added = s.trace.tokens.filter { $0.isSpecial && $0.range == nil }.count
            return SectionContent(answer: answer, unavailable: "the proof needs at least two tokens that can change places; this input has \(s.n) token(s)"
                                  + (added > 0 ? ", \(added) of them added by the tokenizer (\(s.sinkTokens.name)), which stay in place" : ""))
        }
        let identity = Array(0..<s.n)
        let outcomes = [Experiment.reordered(permutation: identity, positions: false), .reordered(permutation: p, positions: false),
                        .reordered(permutation: p, positions: true)].map { s.run($0) }
        guard let plain = outcomes[0].trace, let shuffled = outcomes[1].trace, let shuffledPos = outcomes[2].trace else {
            return SectionContent(answer: answer, unavailable: outcomes.compactMap(\.reason).first ?? "the runs were not made")
        }
        let labels = s.labels
        let moved = p.enumerated().filter { $0.offset != $0.element }.count

        // Per layer: shuffled vs unshuffled (no positions), shuffled vs main run (with positions),
        // both after moving the unshuffled rows to the shuffled places.
        var rows: [[String]] = []
        var noPos: [Double] = [], withPos: [Double] = [], withPosMean: [Double] = [], scales: [Double] = []
        for l in 0..<min(plain.layers.count, shuffled.layers.count, shuffledPos.layers.count, s.trace.layers.count) {
            let a = AttentionAnalysis.permutedDifference(shuffled.layers[l].output, plain.layers[l].output, permutation: p)
            let b = AttentionAnalysis.permutedDifference(shuffledPos.layers[l].output, s.trace.layers[l].output, permutation: p)
            let scale = AttentionAnalysis.maxAbs(plain.layers[l].output.data)
            noPos.append(a.max); withPos.append(b.max); withPosMean.append(b.mean); scales.append(scale)
            rows.append(["\(l)", String(format: "%.1e", a.max), String(format: "%.1f", scale), String(format: "%.3f", b.max), String(format: "%.3f", b.mean)])
        }
        let worstNoPos = noPos.max() ?? .nan, worstPos = withPos.max() ?? .nan
        let relative = worstNoPos / max(scales.max() ?? 1, 1e-30)
        let lastMean = withPosMean.last ?? .nan

        // Per-layer chart on a log scale (exact zeros drawn at a floor, said in the caption).
        let floor = 1e-9
        let anyZero = noPos.contains { $0 < floor }
        let xs = noPos.indices.map(Double.init)
        let chart = LinePlot(title: "Shuffled vs unshuffled layer outputs, shuffle undone", series: [
            .init(name: "without positions", x: xs, y: noPos.map { log10(max($0, floor)) }, markers: true),
            .init(name: "with positions", x: xs, y: withPos.map { log10(max($0, floor)) }, markers: true),
        ], xLabel: "layer", yLabel: "log₁₀ of largest |Δ| (−6 = 10⁻⁶)", xTicks: xs.map { ($0, "\(Int($0))") })

        var figures = [FigureSpec(file: Figures.file(id, "max-diff"), figure: chart, caption: causal
            ? "A causal decoder: even without positions the shuffled run differs (up to \(String(format: "%.2g", worstNoPos))), because the mask changes which tokens each one sees. With positions the largest difference is \(String(format: "%.2g", worstPos))."
            : "Without positions the shuffled run's outputs are the unshuffled ones moved to the new places, up to rounding: at most \(String(format: "%.1e", worstNoPos)) in any layer\(anyZero ? " (an exact 0 is drawn at 10⁻⁹)" : ""). With positions they differ by up to \(String(format: "%.2f", worstPos)).")]

        // The same head's weights: unshuffled vs shuffled-then-put-back, without and with positions.
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        if layer < plain.layers.count, let a = plain.layers[layer].selfAttention, let b = shuffled.layers[layer].selfAttention,
           let c = s.trace.layers[layer].selfAttention, let d = shuffledPos.layers[layer].selfAttention, head < a.heads {
            let n = s.n
            let maps: [(String, [Float], String)] = [
                ("no positions, original order", AttentionAnalysis.unpermuted(a.weights, head: head, permutation: identity, causal: causal), "nopos-plain"),
                ("no positions, shuffled run put back in order", AttentionAnalysis.unpermuted(b.weights, head: head, permutation: p, causal: causal), "nopos-shuffled"),
                ("with positions, original order (main run)", AttentionAnalysis.unpermuted(c.weights, head: head, permutation: identity, causal: causal), "pos-plain"),
                ("with positions, shuffled run put back in order", AttentionAnalysis.unpermuted(d.weights, head: head, permutation: p, causal: causal), "pos-shuffled"),
            ]
            let top = maps.map { AttentionAnalysis.maxAbs($0.1) }.max() ?? 1
            func diff(_ x: [Float], _ y: [Float]) -> Double {
                zip(x, y).reduce(0.0) { max($0, abs(Double($1.0.isFinite ? $1.0 : 0) - Double($1.1.isFinite ? $1.1 : 0))) }
            }
            let wDiffNoPos = diff(maps[0].1, maps[1].1), wDiffPos = diff(maps[2].1, maps[3].1)
            for (k, (title, values, file)) in maps.enumerated() {
                var map = Heatmap(title: "Layer \(layer), head \(head): \(title)", values: values, rows: n, cols: n, rowLabels: labels, colLabels: labels,
                                  xLabel: "key token (attended to)", yLabel: "query token (attending)", colorbarLabel: "attention weight",
                                  colormap: .viridis, range: ColorRange(0, max(top, 1e-6)))
                if causal { map.maskLabel = "masked by the causal mask of that run" }
                let caption: String
                switch k {
                case 0: caption = "Without position embeddings, in the sentence's order. Same colour range (0 to \(String(format: "%.2f", top))) for all four maps."
                case 1: caption = causal
                    ? "The shuffled run's weights moved back to the original order. The causal mask let each token see a different set of keys, so this map differs from the one beside it by up to \(String(format: "%.3f", wDiffNoPos))."
                    : "The shuffled run's weights moved back to the original order: the same map (largest difference \(String(format: "%.1e", wDiffNoPos)))."
                case 2: caption = "The model as trained, with its position embeddings, in the sentence's order."
                default: caption = "With positions, the shuffled run put back in order: the pattern changes (largest difference \(String(format: "%.3f", wDiffPos)) from the map beside it)."
                }
                figures.append(FigureSpec(file: Figures.file(id, file), figure: map, caption: caption))
            }
        }

        let hasSpecials = s.trace.tokens.contains { $0.isSpecial && $0.range == nil }
        let perm: Finding = "The shuffle (seeded, the same for the same input) moves \("tokens_moved", moved) of the \("tokens", s.n) tokens\(hasSpecials ? " and keeps the tokens the tokenizer added (\(s.sinkTokens.name)) in place" : "; this model's tokenizer adds no special tokens, so every token may move")."
        var findings: [Finding] = [perm]
        if causal {
            findings.append("Without position embeddings, the shuffled run's layer outputs still differ from the unshuffled ones moved to the new places by up to \("nopos_max_abs_diff", worstNoPos, "%.3g") (largest |output| \("output_max_abs", scales.max() ?? .nan, "%.3g")): in this causal decoder the mask depends on order, so no permutation proof exists.")
        } else {
            findings.append("Without position embeddings, the shuffled run's outputs equal the unshuffled run's outputs moved to the new places: across all \("layers", noPos.count) layers they differ by at most \("nopos_max_abs_diff", worstNoPos, "%.1e"), \("nopos_relative_diff", relative, "%.1e") of the largest |output| \("output_max_abs", scales.max() ?? .nan, "%.3g") — rounding noise.")
        }
        let withPositions: Finding = "With the position embeddings, the same shuffle changes the outputs: after undoing it they differ by up to \("pos_max_abs_diff", worstPos, "%.3f") (mean |Δ| \("pos_mean_abs_diff_last_layer", lastMean, "%.3f") in the last layer)."
        findings.append(withPositions.appending(causal ? "" : " Without positions the difference is rounding noise; with them it is the model reading the new order."))
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: Array(figures.prefix(1))), FigureGroup(title: "The weights of one head, shuffled and put back", figures: Array(figures.dropFirst()))],
            tables: [TableSpec(caption: "Per layer: largest |Δ| between the shuffled and unshuffled outputs after undoing the shuffle — without positions, beside the largest |output| for scale — and with positions (largest and mean |Δ|).",
                               header: ["layer", "max |Δ| no positions", "max |output|", "max |Δ| with positions", "mean |Δ| with positions"], rows: rows)],
            findings: findings)
    }
}
