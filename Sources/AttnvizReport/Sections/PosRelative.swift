import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// pos-relative: relative position schemes — RoPE on this run's real q and k, ALiBi's bias at
/// this length, and a comparison of the schemes.
struct PosRelativeSection: Section {
    let id = "pos-relative"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let causal = m.architecture == .decoder
        let kind = m.positions == .learned ? "learned absolute position embeddings" : "fixed sinusoidal absolute positions"
        let answer = [
            "Absolute encodings give each position its own vector, added to the token embedding once at the input. Attention then has to learn from those sums that two tokens are, say, three apart — and a table learned up to 512 positions says nothing about position 600. Relative schemes put the offset between query and key directly into the score: Shaw et al. add a learned vector per clipped offset to the keys (and values); T5 adds a learned scalar bias per offset bucket.",
            "RoPE (rotary embeddings, used by LLaMA and most recent decoders) rotates each pair of q and k dimensions by an angle proportional to the position. A rotation by mθ dotted with a rotation by nθ is a rotation by (m − n)θ, so the score depends only on the content and the offset m − n. ALiBi adds no vectors at all: each head subtracts slope·distance from its scores, a fixed linear penalty that lets models run on longer inputs than they were trained on.",
            "This model (\(m.name), \(AttentionAnalysis.kind(m).replacingOccurrences(of: "this ", with: "a "))) uses \(kind): neither RoPE nor ALiBi is part of it. The RoPE computation below is an illustration of the mechanism applied to this run's real query and key vectors, and the ALiBi matrix is the bias such a model would add at this sentence's length with this model's head count.",
        ]
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        var figures: [FigureSpec] = []
        var findings: [Finding] = []
        var values: [(name: String, value: FindingValue)] = []

        // RoPE on one real (q, k) pair of this head.
        if layer < s.trace.layers.count, let a = s.trace.layers[layer].selfAttention, head < a.heads, a.q.shape[1] > 0, a.k.shape[1] > 0 {
            let dk = a.q.shape[2], nq = a.q.shape[1], nk = a.k.shape[1]
            let qi = s.trace.tokens.firstIndex { !$0.isSpecial }.map { min($0, nq - 1) } ?? 0
            // The key this query weights most among the other non-special tokens (else itself).
            let candidates = (0..<nk).filter { $0 != qi && !(s.trace.tokens.indices.contains($0) && s.trace.tokens[$0].isSpecial) }
            let kj = candidates.max { a.weights.data[(head * nq + qi) * nk + $0] < a.weights.data[(head * nq + qi) * nk + $1] } ?? qi
            let q = Array(a.q.data[((head * nq + qi) * dk)..<((head * nq + qi + 1) * dk)])
            let k = Array(a.k.data[((head * nk + kj) * dk)..<((head * nk + kj + 1) * dk)])
            let span = max(s.n, 2)  // positions 0..<span
            let rq = (0..<span).map { AttentionAnalysis.rope(q, position: $0) }
            let rk = (0..<span).map { AttentionAnalysis.rope(k, position: $0) }
            var grid = [Float](repeating: 0, count: span * span)
            var byOffset: [Int: (min: Double, max: Double, first: Double)] = [:]
            for i in 0..<span {
                for j in 0..<span {
                    let v = AttentionAnalysis.dot(rq[i], rk[j])
                    grid[i * span + j] = Float(v)
                    let e = byOffset[i - j] ?? (v, v, v)
                    byOffset[i - j] = (min(e.min, v), max(e.max, v), e.first)
                }
            }
            let deviation = byOffset.values.reduce(0.0) { max($0, $1.max - $1.min) }
            let magnitude = grid.reduce(0.0) { max($0, abs(Double($1))) }
            let plainDot = AttentionAnalysis.dot(q.map(Double.init), k.map(Double.init))
            let qt = s.labels.indices.contains(qi) ? s.labels[qi] : "\(qi)", kt = s.labels.indices.contains(kj) ? s.labels[kj] : "\(kj)"
            let labels = span <= 64 ? (0..<span).map { "\($0)" } : nil
            figures.append(FigureSpec(file: Figures.file(id, "rope-grid"), figure: Heatmap(
                title: "RoPE illustration: q(“\(qt)”)·k(“\(kt)”) of L\(layer) H\(head) placed at every position pair",
                values: grid, rows: span, cols: span, rowLabels: labels, colLabels: labels,
                xLabel: "key position n", yLabel: "query position m", colorbarLabel: "rotated score q_m·k_n", colormap: .blueRed),
                caption: "Not this model's computation: RoPE applied to one real query (“\(qt)”) and key (“\(kt)”) vector (d_k = \(dk)) of layer \(layer), head \(head), moved to every pair of positions 0–\(span - 1). Every diagonal (one offset m − n) has one colour: along any diagonal the score varies by at most \(String(format: "%.1e", deviation)), against scores up to \(String(format: "%.2f", magnitude))."))
            let offsets = byOffset.keys.sorted()
            var line = LinePlot(title: "RoPE illustration: rotated score vs offset m − n", series: [
                .init(name: "q_m·k_n (any m, n with this offset)", x: offsets.map(Double.init), y: offsets.map { byOffset[$0]?.first ?? 0 }),
                .init(name: "unrotated q·k", x: offsets.map(Double.init), y: offsets.map { _ in plainDot }, dashed: true),
            ], xLabel: "offset m − n (positions)", yLabel: "score (unscaled dot product)")
            line.includeZero = true
            figures.append(FigureSpec(file: Figures.file(id, "rope-offset"), figure: line,
                                      caption: "The same pair as one curve: the score is a function of the offset alone. At offset 0 it equals the unrotated q·k = \(String(format: "%.2f", plainDot)); low-frequency dimension pairs make it drift slowly with distance, high-frequency ones make it wiggle."))
            findings.append("RoPE on this run's real vectors (query “\("rope_query", text: qt)”, key “\("rope_key", text: kt)”, layer \(layer), head \(head), d_k = \("rope_dk", dk)) placed at all \("rope_position_pairs", span * span) position pairs: pairs with the same offset m − n give the same score up to \("rope_max_deviation", deviation, "%.1e") (scores up to \("rope_score_max_abs", magnitude, "%.2f")), so the rotated score depends only on the offset.")
        }

        // ALiBi at this n with this model's head count.
        let h = max(m.heads, 1), n = s.n
        let slopes = AttentionAnalysis.alibiSlopes(heads: h)
        if n > 0 {
            let bias = AttentionAnalysis.alibiBias(n: n, slope: slopes[0], causal: causal)
            var map = Heatmap(title: "ALiBi bias (illustration), head 1 of \(h): slope \(String(format: "%.4g", slopes[0]))", values: bias, rows: n, cols: n,
                              rowLabels: s.labels, colLabels: s.labels, xLabel: "key token j", yLabel: "query token i",
                              colorbarLabel: causal ? "bias added to the score, −slope·(i − j)" : "bias added to the score, −slope·|i − j|", colormap: .viridis,
                              range: ColorRange(min(Double(bias.filter(\.isFinite).min() ?? -1), -1e-6), 0))
            if causal { map.maskLabel = "future token (causal mask)" }
            figures.append(FigureSpec(file: Figures.file(id, "alibi"), figure: map, caption: causal
                ? "The steepest head of the causal form (as in the paper's decoders): slope 2^(−8/\(h)) = \(String(format: "%.3g", slopes[0])); the bias falls linearly with distance, to \(String(format: "%.2f", -slopes[0] * Double(max(n - 1, 0)))) at \(max(n - 1, 0)) tokens; future tokens stay masked."
                : "The steepest head, in the symmetric form an encoder would use (the paper's decoders use the causal half): slope 2^(−8/\(h)) = \(String(format: "%.3g", slopes[0])); the bias is 0 on the diagonal and falls linearly to \(String(format: "%.2f", -slopes[0] * Double(max(n - 1, 0)))) at the largest distance, \(max(n - 1, 0)) tokens."))
            let bars = BarChart(title: "ALiBi slopes of \(h) heads (illustration)", categories: (1...h).map { "\($0)" },
                                series: [("slope", slopes)], xLabel: "head", yLabel: "slope (penalty per token)")
            figures.append(FigureSpec(file: Figures.file(id, "alibi-slopes"), figure: bars,
                                      caption: "Slopes 2^(−8k/\(h)), k = 1…\(h): from \(String(format: "%.3g", slopes.first ?? 0)) (a head that looks mostly nearby) down to \(String(format: "%.3g", slopes.last ?? 0)) (a head that barely penalises distance, over \(max(n - 1, 0)) tokens only \(String(format: "%.2f", -(slopes.last ?? 0) * Double(max(n - 1, 0)))))."))
            findings.append("ALiBi for this model's \("alibi_heads", h) heads: slopes from \("alibi_slope_max", slopes.first ?? .nan, "%.3g") down to \("alibi_slope_min", slopes.last ?? .nan, "%.3g"); at this sentence's largest distance (\(max(n - 1, 0)) tokens) the steepest head's bias is \("alibi_bias_min", -(slopes.first ?? 0) * Double(max(n - 1, 0)), "%.2f").")
            values.append(("alibi_slopes", .text(slopes.map { String(format: "%.4g", $0) }.joined(separator: ", "))))
        }
        if h & (h - 1) != 0 {
            findings.append("This model has \(h) heads, not a power of two: the paper then takes the slopes of the nearest smaller power of two and fills in with every other slope of the next one; the plain geometric sequence 2^(−8k/\(h)) is used here.")
        }

        let mark = " ← this model"
        let table = TableSpec(
            caption: "Position schemes compared. The row marked “this model” is what \(m.name) uses.",
            header: ["scheme", "where it enters", "trained?", "longer inputs than trained on", "used by"],
            rows: [
                ["absolute sinusoidal" + (m.positions == .sinusoidal ? mark : ""), "added to the input embeddings once", "no (fixed formula)", "defined for any position, but quality drops in practice", "original Transformer, Marian"],
                ["learned absolute" + (m.positions == .learned ? mark : ""), "added to the input embeddings once", "yes (one vector per position)", "impossible beyond the table\(m.positions == .learned ? " (\(m.maxPositions) here)" : "")", "BERT, MiniLM, GPT-2, RoBERTa"],
                ["relative (Shaw et al.)", "added to keys (and values) inside every attention layer, per clipped offset", "yes", "offsets beyond the clip share one vector", "Music Transformer; variants in Transformer-XL, T5 (a scalar bias per offset bucket), DeBERTa"],
                ["RoPE (rotary)", "rotates q and k inside every attention layer", "no (fixed angles)", "moderate; extended by rescaling the angles", "LLaMA, Mistral, GPT-NeoX, Qwen"],
                ["ALiBi", "subtracts slope·distance from every score", "no (fixed slopes per head)", "good (the design goal)", "BLOOM, MPT"],
            ])
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], tables: [table], findings: findings, values: values)
    }
}
