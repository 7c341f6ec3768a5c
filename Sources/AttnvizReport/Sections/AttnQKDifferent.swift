import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-qk-different: one layer recomputed with W_K := W_Q (and the query bias): the scores
/// become symmetric and weight moves onto the diagonal.
struct AttnQKDifferentSection: Section {
    let id = "attn-qk-different"

    func experiments(_ s: Study) -> [Experiment] { [.tiedQueryKey(layer: s.layers.first ?? 0)] }

    func build(_ s: Study) throws -> SectionContent {
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        let causal = s.trace.model.architecture == .decoder
        var answer = [
            "Scores compare a query with a key, q_i·k_j, where q = xW_Q and k = xW_K are two different projections of the same tokens. If they were one projection (or no projection at all, x·x), then q_i·k_j = q_j·k_i: the score from token i to token j would always equal the score from j to i, so a relation such as “this verb looks for its subject” could not differ from “the subject looks for its verb”. Separate W_Q and W_K let a head learn asymmetric relations.",
            "Tying also makes each token its own best match in many rows (how many is measured below): its score with itself is ‖q_i‖²/√d_k, while by Cauchy–Schwarz q_i·q_j ≤ ‖q_i‖‖q_j‖, which beats it only when the other token's vector is longer and well aligned. So weight moves onto the diagonal, and a head spends attention on the token it already holds.",
            "Below, layer \(layer) of this model is recomputed with its keys made by the query weights and bias (k = q); every other layer and weight stays as trained. Only that layer's attention is compared (the later layers then see changed input).",
        ]
        if causal {
            answer.append("This is a causal decoder (GPT-2): the causal mask blocks every key after the query, so the weights cannot be symmetric even with tied projections — the score from i to j (j < i) is kept, its mirror j to i is masked. The symmetry shows in the scores before the mask, q_i·k_j = q_j·k_i, recomputed below from the recorded q and k; below the diagonal the recorded scores are those values.")
        }
        let o = s.run(.tiedQueryKey(layer: layer))
        guard let tied = o.trace, tied.layers.indices.contains(layer), let at = tied.layers[layer].selfAttention,
              s.trace.layers.indices.contains(layer), let a0 = s.trace.layers[layer].selfAttention, head < a0.heads,
              a0.weights.shape == at.weights.shape, a0.weights.shape.count == 3 else {
            return SectionContent(answer: answer, unavailable: o.reason ?? "the tied run has no self-attention in layer \(layer)")
        }
        let h = a0.heads, n = a0.weights.shape[1]
        // The score matrices as recorded (encoder), or before the causal mask, recomputed from the
        // recorded q and k (decoder: the recorded ones are −∞ above the diagonal). [h, n, n]
        let rawTrained = causal ? VariantAnalysis.rawScores(a0) : a0.scores.data
        let rawTied = causal ? VariantAnalysis.rawScores(at) : at.scores.data
        let symTrained = VariantAnalysis.asymmetry(rawTrained, heads: h, n: n)
        let symTied = VariantAnalysis.asymmetry(rawTied, heads: h, n: n)
        // Per head, so captions can give the drawn head's own numbers and name where the maximum is.
        let asymmetryPerHead = (0..<h).map { VariantAnalysis.asymmetry(Array(rawTrained[(($0) * n * n)..<(($0 + 1) * n * n)]), heads: 1, n: n) }
        let worstHead = asymmetryPerHead.indices.max { asymmetryPerHead[$0].maxDiff < asymmetryPerHead[$1].maxDiff } ?? 0
        let drawn = head < asymmetryPerHead.count ? asymmetryPerHead[head] : symTrained
        let diagTrained = VariantAnalysis.diagonalShare(a0.weights), diagTied = VariantAnalysis.diagonalShare(at.weights)
        // Rows whose own key scores highest (ties count), over heads and queries, among the keys a query may see.
        func selfBest(_ scores: Tensor) -> Double {
            var hits = 0
            for hd in 0..<h {
                for i in 0..<n {
                    let row = (hd * n + i) * n
                    let own = scores.data[row + i]
                    if !(0..<n).contains(where: { scores.data[row + $0].isFinite && scores.data[row + $0] > own }) { hits += 1 }
                }
            }
            return Double(hits) / Double(max(h * n, 1))
        }
        let bestTrained = selfBest(a0.scores), bestTied = selfBest(at.scores)
        // Per-head diagonal share, before and after.
        func perHead(_ w: Tensor) -> [Double] {
            (0..<h).map { hd in Analysis.share(w, head: hd) { $0 } }
        }
        let dT = perHead(a0.weights), dTied = perHead(at.weights)

        // Figures: scores (signed, one range) and weights (one range), trained vs tied.
        let labels = s.labels
        let scoreRange = max(VariantAnalysis.maxAbsFinite([VariantAnalysis.head(a0.scores, head), VariantAnalysis.head(at.scores, head)]), 1e-6)
        var scoreMaps = [("trained W_Q, W_K", a0), ("tied W_K := W_Q", at)].map { title, a in
            var map = Heatmap(title: "L\(layer) H\(head) scores, \(title)", values: VariantAnalysis.head(a.scores, head), rows: n, cols: n,
                              rowLabels: labels.count == n ? labels : nil, colLabels: labels.count == n ? labels : nil,
                              xLabel: "key token j", yLabel: "query token i", colorbarLabel: "scaled score q_i·k_j/√d_k", colormap: .blueRed,
                              range: ColorRange(-scoreRange, scoreRange))
            map.maskLabel = "future key (causal mask)"
            return map
        }
        var weightMaps = [("trained", a0), ("tied", at)].map { title, a in
            Figures.head(a.weights, head: head, labels: labels, title: "L\(layer) H\(head) weights, \(title)",
                         maskedBy: causal ? a.scores : nil, maskLabel: "future key (causal mask)")
        }
        Figures.sharedWeightRange(&weightMaps)
        scoreMaps[0].maxLabelWidth = 90; scoreMaps[1].maxLabelWidth = 90
        let shown = s.heads.filter { $0 < h }  // the --heads selection
        var chart = BarChart(title: "Layer \(layer): mean w_ii per head", categories: shown.map { "H\($0)" },
                             series: [("trained W_Q, W_K", shown.map { dT[$0] }), ("tied W_K := W_Q", shown.map { dTied[$0] })],
                             xLabel: "head", yLabel: "mean w_ii (share of the row)")
        chart.plotHeight = 220
        let figures = [
            FigureSpec(file: Figures.file(id, "scores-trained"), figure: scoreMaps[0],
                       caption: "Head \(head) as trained: the map is not its own mirror image (this head: max |S − Sᵀ| \(String(format: "%.2f", drawn.maxDiff)) for scores up to \(String(format: "%.2f", drawn.maxAbs)); the largest over all heads, \(String(format: "%.2f", symTrained.maxDiff)), is head \(worstHead)'s). Both score maps use one colour range (±\(Chrome.format(scoreRange)))."),
            FigureSpec(file: Figures.file(id, "scores-tied"), figure: scoreMaps[1],
                       caption: causal ? "With k = q the scores kept below the diagonal equal their (masked) mirror images; the diagonal holds ‖q_i‖²/√d_k." : "With k = q the map is its own mirror image across the diagonal (max |S − Sᵀ| = \(String(format: "%.1e", symTied.maxDiff))), and the diagonal ‖q_i‖²/√d_k stands out."),
            FigureSpec(file: Figures.file(id, "weights-trained"), figure: weightMaps[0],
                       caption: "Weights as trained; both weight maps share one colour range (0 to \(Chrome.format(weightMaps[0].range?.max ?? 1)))."),
            FigureSpec(file: Figures.file(id, "weights-tied"), figure: weightMaps[1],
                       caption: "Weights with k = q. The softmax normalises each row on its own, so even symmetric scores give rows that differ from the columns; the diagonal gains weight."),
            FigureSpec(file: Figures.file(id, "diagonal"), figure: chart,
                       caption: "Mean over queries of w_ii for \(shown.count == h ? "every head" : "the selected heads") of layer \(layer); over all \(h) heads: \(Analysis.percent(diagTrained)) on average as trained, \(Analysis.percent(diagTied)) tied."),
        ]
        var findings: [Finding] = [
            "With W_K := W_Q in layer \("layer", layer), the scores before any mask are symmetric: max |S − Sᵀ| over all \(h) heads is \("symmetry_max_abs_diff", symTied.maxDiff, "%.1e") (zero up to float rounding) for scores up to \("tied_score_max_abs", symTied.maxAbs, "%.2f"); as trained it is \("trained_symmetry_max_abs_diff", symTrained.maxDiff, "%.2f") for scores up to \("trained_score_max_abs", symTrained.maxAbs, "%.2f").",
            "The weight a query keeps on itself (mean over heads and queries of w_ii) goes from \(percent: "diagonal_share_trained", diagTrained) to \(percent: "diagonal_share_tied", diagTied); the own key is the best-scoring key in \(percent: "self_best_trained", bestTrained) of rows as trained and \(percent: "self_best_tied", bestTied) tied.",
        ]
        if causal {
            var below = 0.0
            for hd in 0..<h { for i in 0..<n { for j in 0..<i {
                let r = at.scores.data[(hd * n + i) * n + j]
                if r.isFinite { below = max(below, abs(Double(r) - Double(rawTied[(hd * n + j) * n + i]))) }
            } } }
            findings.append("Under the causal mask every recorded score below the diagonal of the tied run equals the mirror score q_j·k_i/√d_k recomputed from q and k to within \("tied_below_diagonal_vs_mirror_max_abs_diff", below, "%.1e"); the mirror cells themselves are masked, so the weights are not symmetric.")
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings,
                              values: [("head", .number(Double(head)))])
    }
}
