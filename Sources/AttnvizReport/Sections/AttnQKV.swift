import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-qkv: one head of this sentence as a pipeline X → Q, K, V → scores → weights → output.
struct AttnQKVSection: Section {
    let id = "attn-qkv"

    /// One head's [rows, d_k] slice of a [heads, rows, d_k] tensor.
    static func headSlice(_ t: Tensor, head: Int) -> Tensor {
        let rows = t.shape[1], dk = t.shape[2]
        return Tensor(uncheckedShape: [rows, dk], data: Array(t.data[(head * rows * dk)..<((head + 1) * rows * dk)]))
    }

    /// weights·V for one head: [nq, nk]·[nk, d_k] → [nq, d_k], in Double.
    static func weightedValues(_ a: AttentionRecord, head: Int) -> [Double] {
        let nq = a.weights.shape[1], nk = a.weights.shape[2], dk = a.v.shape[2]
        var out = [Double](repeating: 0, count: nq * dk)
        for i in 0..<nq {
            for j in 0..<nk {
                let w = Double(a.weights.data[(head * nq + i) * nk + j])
                guard w != 0 else { continue }
                for c in 0..<dk { out[i * dk + c] += w * Double(a.v.data[(head * nk + j) * dk + c]) }
            }
        }
        return out
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let pre = m.normPlacement == .pre
        let answer = [
            "Attention lets every token build its new vector from the others. Each token's vector x is projected three times, by three learned matrices: the query q = x·W_Q says what this token is looking for, the key k = x·W_K says what it offers to be found by, and the value v = x·W_V is what it passes on when it is chosen. The score of query i for key j is q_i·k_j / √d_k; a softmax over j turns each row into weights that sum to 1, and the output of token i is the weighted sum of the values.",
            "Why three and not one? With a single projection the score x_i·x_j would be symmetric — i would score j exactly as j scores i — and x_i·x_i, the squared length, would usually make a token's best match itself. Separate W_Q and W_K make the relation asymmetric (a pronoun can look for a noun without the noun looking back), and a separate W_V decouples what is used for matching from what is carried forward: two tokens can be found for the same reason yet pass on different information. Each head has its own three matrices of width d_k = d_model / h.",
            "In \(AttentionAnalysis.kind(m)) the projections read " + (pre ? "the layer's input after its LayerNorm (ln_1)" : "the layer's input hidden states directly")
                + (m.architecture == .encoder ? ", and every token may attend to every other." : "\(m.architecture == .decoder ? ", and the causal mask hides every later token (hatched in the score and weight maps)" : "")."),
        ]
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        guard layer < s.trace.layers.count, let a = s.trace.layers[layer].selfAttention, head < a.heads,
              let sub = s.trace.layers[layer].sublayers.first else {
            return SectionContent(answer: answer, unavailable: "the run has no self-attention record for layer \(layer), head \(head)")
        }
        let x = pre ? sub.normOutput : sub.residualIn
        let n = a.weights.shape[1], nk = a.weights.shape[2], dk = a.q.shape[2], d = x.rowWidth
        let labels = s.labels.count == n ? s.labels : nil
        let q = Self.headSlice(a.q, head: head), k = Self.headSlice(a.k, head: head), v = Self.headSlice(a.v, head: head)
        let out = Self.weightedValues(a, head: head)
        // Checks: rows sum to 1; weights·V equals the recorded context slice; scores = q·k/√d_k.
        var rowDev = 0.0, ctxDiff = 0.0, ctxScale = 0.0, scoreDiff = 0.0, scoreScale = 0.0
        let root = Double(dk).squareRoot()
        for i in 0..<n {
            var sum = 0.0
            for j in 0..<nk {
                sum += Double(a.weights.data[(head * n + i) * nk + j])
                let sc = a.scores.data[(head * n + i) * nk + j]
                guard sc.isFinite else { continue }
                var dot = 0.0
                for c in 0..<dk { dot += Double(q.data[i * dk + c]) * Double(k.data[j * dk + c]) }
                scoreDiff = max(scoreDiff, abs(dot / root - Double(sc))); scoreScale = max(scoreScale, abs(Double(sc)))
            }
            rowDev = max(rowDev, abs(sum - 1))
            for c in 0..<dk where head * dk + c < a.context.rowWidth {
                let recorded = Double(a.context.data[i * a.context.rowWidth + head * dk + c])
                ctxDiff = max(ctxDiff, abs(out[i * dk + c] - recorded)); ctxScale = max(ctxScale, abs(recorded))
            }
        }
        let mask = m.architecture == .encoder ? nil : a.scores
        let maskLabel = "future token (causal mask)"
        let xName = pre ? "X = LN(h) (layer \(layer) input after ln_1)" : "X (layer \(layer) input)"
        var scores = Figures.head(a.scores, head: head, labels: s.labels, title: "Scores = Q·Kᵀ/√\(dk) (\(n) × \(nk))", colorbar: "score", maskedBy: mask, maskLabel: maskLabel)
        scores.colormap = .blueRed
        scores.range = ColorRange.fitting(a.scores.data[(head * n * nk)..<((head + 1) * n * nk)].map { $0 }, diverging: true)
        let outTensor = Tensor(uncheckedShape: [n, dk], data: out.map(Float.init))
        let inputs = [
            FigureSpec(file: Figures.file(id, "x"), figure: Figures.vectors(x, labels: labels, title: "\(xName) (\(n) × \(d))", rowAxis: "token"),
                       caption: "The \(n) token vectors entering layer \(layer), one row each, \(d) dimensions\(pre ? ", after the LayerNorm the projections read" : ""). Each of the \(a.heads) heads reads all of them."),
            FigureSpec(file: Figures.file(id, "q"), figure: Figures.vectors(q, labels: labels, title: "Q = X·W_Q, head \(head) (\(n) × \(dk))", rowAxis: "token (query)"),
                       caption: "Head \(head)'s queries: each token's \(d) numbers projected to \(dk) — what the token looks for."),
            FigureSpec(file: Figures.file(id, "k"), figure: Figures.vectors(k, labels: labels, title: "K = X·W_K, head \(head) (\(nk) × \(dk))", rowAxis: "token (key)"),
                       caption: "The keys: what each token offers to be matched against. A different matrix than W_Q, so these rows differ from Q's."),
            FigureSpec(file: Figures.file(id, "v"), figure: Figures.vectors(v, labels: labels, title: "V = X·W_V, head \(head) (\(nk) × \(dk))", rowAxis: "token (value)"),
                       caption: "The values: what each token passes on when attended to."),
        ]
        let mixing = [
            FigureSpec(file: Figures.file(id, "scores"), figure: scores,
                       caption: "Every query row dotted with every key row, divided by √\(dk) ≈ \(String(format: "%.2f", root)). Blue below zero, red above; these are logits, not yet weights."),
            FigureSpec(file: Figures.file(id, "weights"), figure: Figures.head(a.weights, head: head, labels: s.labels, title: "Weights = softmax(scores) per row (\(n) × \(nk))",
                                                                               maskedBy: mask, maskLabel: maskLabel),
                       caption: "Each row is a probability distribution over the keys (rows sum to 1, largest deviation \(String(format: "%.1e", rowDev)))."),
            FigureSpec(file: Figures.file(id, "output"), figure: Figures.vectors(outTensor, labels: labels, title: "Output = weights·V, head \(head) (\(n) × \(dk))", rowAxis: "token"),
                       caption: "Each token's new \(dk)-dim vector: the weighted mix of the value rows. Concatenated with the other \(max(a.heads - 1, 0)) heads and projected by W_O it becomes the layer's attention output."),
        ]
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(title: "Layer \(layer), head \(head): from X to Q, K, V", figures: inputs),
                     FigureGroup(title: "Layer \(layer), head \(head): scores, weights and output", figures: mixing)],
            findings: [
                "Layer \("layer", layer), head \("head", head): X is \("x_rows", n) × \("d_model", d); Q, K and V are \(n) × \("d_k", dk) each; the scores and weights are \(n) × \(nk).",
                "The recorded scores equal Q·Kᵀ/√d_k computed from the recorded Q and K up to \("scores_max_abs_diff", scoreDiff, "%.1e") (scores up to \("scores_max_abs", scoreScale, "%.2f")).",
                "Every softmax row sums to 1 up to \("row_sum_max_deviation", rowDev, "%.1e").",
                "weights·V reproduces this head's slice of the recorded context (the heads' concatenated outputs) up to \("context_max_abs_diff", ctxDiff, "%.1e"), against values up to \("context_max_abs", ctxScale, "%.2f").",
            ])
    }
}
