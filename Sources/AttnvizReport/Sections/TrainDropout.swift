import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// train-dropout: where dropout acts in the block, and the same forward with dropout on (the
/// model's own probabilities, seeded) vs off; eval runs are deterministic.
struct TrainDropoutSection: Section {
    let id = "train-dropout"
    static let seed: UInt64 = 20_240_601

    func experiments(_ s: Study) -> [Experiment] { [.dropout(seed: Self.seed), .repeatRun] }

    /// The model's dropout probabilities as config.json gives them (HF default 0.1 when absent):
    /// (hidden/residual, attention weights, embeddings) and the keys they come from.
    static func probabilities(_ m: ModelInfo) -> (hidden: Double, attention: Double, embedding: Double, keys: (String, String, String)) {
        let json = (try? JSONSerialization.jsonObject(with: Data(m.configJSON.utf8))) as? [String: Any] ?? [:]
        func p(_ key: String) -> Double { (json[key] as? NSNumber)?.doubleValue ?? 0.1 }
        if m.modelType == "gpt2" { return (p("resid_pdrop"), p("attn_pdrop"), p("embd_pdrop"), ("resid_pdrop", "attn_pdrop", "embd_pdrop")) }
        if m.modelType == "marian" { return (p("dropout"), p("attention_dropout"), p("dropout"), ("dropout", "attention_dropout", "dropout")) }
        return (p("hidden_dropout_prob"), p("attention_probs_dropout_prob"), p("hidden_dropout_prob"),
                ("hidden_dropout_prob", "attention_probs_dropout_prob", "hidden_dropout_prob"))
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let p = Self.probabilities(m)
        let pre = m.normPlacement == .pre
        let answer = [
            "Dropout sets each element of a tensor to 0 with probability p during training and multiplies the survivors by 1/(1 − p) (“inverted” dropout), so each element keeps its expected value. Every training step thus sees a different thinned network, which keeps units from relying on one another and acts as a regulariser. At test time dropout is switched off: every element is kept, no rescaling is needed because it was done during training, and the forward pass is deterministic.",
            "The original Transformer applies dropout (P_drop = 0.1 in the base model) to each sub-layer's output before it is added to the residual stream and normalised, and to the sum of the embeddings and positional encodings; BERT and GPT-2 also drop attention weights after the softmax. \(m.name)'s config.json gives p = \(Chrome.format(p.hidden)) (\(p.keys.0)) for the hidden/residual dropout, \(Chrome.format(p.attention)) (\(p.keys.1)) for the attention weights\(pre ? " and \(Chrome.format(p.embedding)) (\(p.keys.2)) for the embeddings" : ""); below, the same sentence runs once with dropout on (masks seeded) and twice with it off.",
        ]
        let drop = Chrome.format(p.hidden), dropA = Chrome.format(p.attention), dropE = Chrome.format(p.embedding)
        let attnColor = RGB(hex: 0xFCE9D9), ffnColor = RGB(hex: 0xDCEBF7), dropColor = RGB(hex: 0xF1F1F1)
        let diagram = pre
            ? BlockDiagram(title: "Where dropout acts in a pre-LN decoder block like GPT-2's (generic diagram)", boxes: [
                .init(title: "Token + position embeddings", detail: "then dropout p = \(dropE) (\(p.keys.2))", color: .white),
                .init(title: "LayerNorm → masked self-attention", detail: "dropout p = \(dropA) on the weights after softmax, then ·V", color: attnColor, residualAround: true, residualSkip: 2),
                .init(title: "Output projection", detail: "dropout p = \(drop) before the add", color: attnColor),
                .init(title: "Add", detail: "x + dropout(attn)", color: dropColor),
                .init(title: "LayerNorm → FFN", detail: "dropout p = \(drop) before the add", color: ffnColor, residualAround: true),
                .init(title: "Add", detail: "x + dropout(FFN)", color: dropColor),
            ], repeated: 1...5, repeatLabel: "× \(m.layers) layers")
            : BlockDiagram(title: m.architecture == .encoderDecoder ? "Where dropout acts in a post-LN encoder block of the original Transformer (generic diagram)" : "Where dropout acts in a post-LN encoder block like BERT's (generic diagram)", boxes: [
                .init(title: m.architecture == .encoderDecoder ? "Embeddings (× √d_model) + positions" : "Embeddings → LayerNorm", detail: "then dropout p = \(dropE) (\(p.keys.2))", color: .white),
                .init(title: "Self-attention", detail: "dropout p = \(dropA) on the weights after softmax, then ·V", color: attnColor, residualAround: true, residualSkip: 2),
                .init(title: "Output projection", detail: "dropout p = \(drop) before the add", color: attnColor),
                .init(title: "Add & LayerNorm", detail: "LN(x + dropout(attn))", color: dropColor),
                .init(title: "FFN", detail: "dropout p = \(drop) on its output before the add", color: ffnColor, residualAround: true),
                .init(title: "Add & LayerNorm", detail: "LN(x + dropout(FFN))", color: dropColor),
            ], repeated: 1...5, repeatLabel: "× \(m.layers) layers")
        var figures = [FigureSpec(file: Figures.file(id, "positions"), figure: diagram,
                                  caption: "Generic diagram of the dropout sites, with this model's probabilities from config.json. In training each site draws a fresh mask every step; at test time all of them are the identity.")]
        var findings: [Finding] = []
        var tables: [TableSpec] = []
        var unavailable: String?

        // Eval is deterministic: the same input run again gives the same bits.
        if let again = s.run(.repeatRun).trace {
            var tensors = 0, identical = 0, worst = 0.0
            func compare(_ a: Tensor, _ b: Tensor) { tensors += 1; if a.shape == b.shape && a.data == b.data { identical += 1 }; worst = max(worst, BlockAnalysis.maxAbsDiff(a, b)) }
            for (a, b) in zip(s.trace.layers, again.layers) {
                if let x = a.selfAttention, let y = b.selfAttention { compare(x.weights, y.weights) }
                compare(a.output, b.output)
            }
            compare(s.trace.lastHidden, again.lastHidden)
            findings.append("Eval mode is deterministic: running the sentence again gives \("eval_repeat_identical_tensors", identical) of \(tensors) recorded tensors (attention weights and outputs of every layer, final output) bit for bit identical; max |Δ| = \("eval_repeat_max_abs_diff", worst, "%g").")
        }
        guard let train = s.run(.dropout(seed: Self.seed)).trace else {
            return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings,
                                  unavailable: s.run(.dropout(seed: Self.seed)).reason ?? "the dropout run is missing")
        }
        // Measured on the embedding output: dropped elements and the scale of the kept ones.
        if let e0 = s.trace.embeddings?.output, let e1 = train.embeddings?.output, e0.count == e1.count {
            var dropped = 0, nonzero = 0, ratios: [Double] = []
            for (a, b) in zip(e0.data, e1.data) where a != 0 {
                nonzero += 1
                if b == 0 { dropped += 1 } else if ratios.count < 50_000 { ratios.append(Double(b) / Double(a)) }
            }
            ratios.sort()
            let median = ratios.isEmpty ? 0 : ratios[ratios.count / 2]
            let pe = pre ? p.embedding : p.hidden
            findings.append("On the embedding output, dropout zeroed \(percent: "embedding_dropped_share", Double(dropped) / Double(max(nonzero, 1)), digits: 2) of \(nonzero) elements (p = \("p_embedding", pe, "%g")) and multiplied the rest by \("kept_scale_median", median, "%.4f") (1/(1 − p) = \(String(format: "%.4f", pe < 1 ? 1 / (1 - pe) : 0))).")
        }
        var attnDiff: [Double] = [], outDiff: [Double] = [], zeroShare = 0.0, finiteCells = 0
        for (a, b) in zip(s.trace.layers, train.layers) {
            if let x = a.selfAttention, let y = b.selfAttention { attnDiff.append(BlockAnalysis.maxAbsDiff(x.weights, y.weights)) } else { attnDiff.append(.nan) }
            outDiff.append(BlockAnalysis.maxAbsDiff(a.output, b.output))
        }
        if let y = train.layers.first?.selfAttention {
            var zeros = 0
            for (sc, w) in zip(y.scores.data, y.weights.data) where sc.isFinite { finiteCells += 1; if w == 0 { zeros += 1 } }
            zeroShare = Double(zeros) / Double(max(finiteCells, 1))
        }
        let lastDiff = BlockAnalysis.maxAbsDiff(s.trace.lastHidden, train.lastHidden)
        if p.hidden == 0 && p.attention == 0 && p.embedding == 0 {
            unavailable = nil
            findings.append("This model's config sets every dropout probability to 0, so its training forward equals the eval one: the final outputs differ by \("final_output_max_abs_diff", lastDiff, "%g").")
        } else {
            findings.append("With dropout on (p = \("p_hidden", p.hidden, "%g") hidden, \("p_attention", p.attention, "%g") attention), \(percent: "attention_dropped_share_L0", zeroShare, digits: 2) of layer \(s.trace.layers.first?.index ?? 0)'s \(finiteCells) attention weights are zeroed; the attention weights differ from eval by up to \("attention_max_abs_diff", attnDiff.filter(\.isFinite).max() ?? 0, "%.3g") and the final outputs by up to \("final_output_max_abs_diff", lastDiff, "%.3g").")
        }
        let layerNames = s.trace.layers.map { "L\($0.index)" }
        figures.append(FigureSpec(file: Figures.file(id, "differences"), figure: BarChart(
            title: "Dropout on vs off: largest difference per layer", categories: layerNames,
            series: [("attention weights", attnDiff.map { $0.isFinite ? $0 : 0 }), ("layer output", outDiff)], xLabel: "layer", yLabel: "max |train − eval|"),
            caption: "Every layer differs: the masks change the weights directly (dropped weights become 0, kept ones grow by 1/(1 − p)), and each layer's input already differs. Eval against eval is 0 everywhere (see the findings)."))
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        if layer < s.trace.layers.count, layer < train.layers.count, let a = s.trace.layers[layer].selfAttention, let b = train.layers[layer].selfAttention, head < a.heads {
            var left = Figures.head(a.weights, head: head, labels: s.labels, title: "Eval (dropout off): layer \(layer), head \(head)", maskedBy: a.scores)
            var right = Figures.head(b.weights, head: head, labels: s.labels, title: "Train (dropout on, seed \(Self.seed)): layer \(layer), head \(head)", maskedBy: b.scores)
            let hi = max(a.weights.data.max() ?? 1, b.weights.data.max() ?? 1)
            left.range = ColorRange(0, Double(max(hi, 1e-6))); right.range = left.range
            figures.append(FigureSpec(file: Figures.file(id, "eval-map"), figure: left, caption: "Eval: the weights of each row sum to 1."))
            figures.append(FigureSpec(file: Figures.file(id, "train-map"), figure: right,
                                      caption: "Train, same colour range: dropped weights are 0 (dark cells that were bright), kept ones are scaled by 1/(1 − p) = \(Analysis.fixed(p.attention < 1 ? 1 / (1 - p.attention) : 0, 3)), so rows no longer sum to 1; later layers also see inputs that were dropped."))
            let n = a.weights.shape[1], k = a.weights.shape[2], base = head * n * k
            let delta = (0..<(n * k)).map { i in a.scores.data[base + i].isFinite ? b.weights.data[base + i] - a.weights.data[base + i] : -.infinity }
            var diff = Heatmap(title: "Train − eval: layer \(layer), head \(head)", values: delta, rows: n, cols: k,
                               rowLabels: s.labels.count == n ? s.labels : nil, colLabels: s.labels.count == k ? s.labels : nil,
                               xLabel: "key token (attended to)", yLabel: "query token (attending)", colorbarLabel: "weight difference (train − eval)",
                               colormap: .blueRed, range: ColorRange.robustSymmetric(delta.filter(\.isFinite), quantile: 1))
            diff.maskLabel = "masked key"
            figures.append(FigureSpec(file: Figures.file(id, "diff-map"), figure: diff,
                                      caption: "The difference of the two maps: blue cells (negative) are dropped weights, red cells (positive) kept weights scaled up by 1/(1 − p), mixed with changes because the layer's input was itself dropped out (embeddings, earlier layers)."))
        }
        tables.append(TableSpec(caption: "Per layer: max |Δ| between the dropout run and the eval run.", header: ["layer", "attention weights", "layer output"],
                                rows: layerNames.indices.map { [layerNames[$0], String(format: "%.3g", attnDiff[$0]), String(format: "%.3g", outDiff[$0])] }))
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], tables: tables, findings: findings, unavailable: unavailable)
    }
}
