import AttnvizRender
import AttnvizTrace
import Foundation

/// attn-head-dim: h heads of width d_model/h cost what one head of width d_model costs.
struct AttnHeadDimSection: Section {
    let id = "attn-head-dim"

    /// Costs of one multi-head attention block with `heads` heads of width d/heads at n tokens.
    struct Cost {
        var heads: Int, width: Int
        var projectionParams: Int   // W_Q, W_K, W_V, W_O with biases
        var projectionFLOPs: Int    // Q, K, V and output projections
        var scoreFLOPs: Int         // Q·Kᵀ for every head
        var mixFLOPs: Int           // weights·V for every head
        var softmaxExps: Int        // one exp per score
        var scoreEntries: Int       // score-map cells held
        var rankBound: Int          // rank of each score map ≤ min(n, width)

        init(n: Int, d: Int, heads: Int) {
            let h = max(heads, 1), w = d / h
            self.heads = h; width = w
            projectionParams = 4 * d * d + 4 * d
            projectionFLOPs = 4 * 2 * n * d * d
            scoreFLOPs = h * 2 * n * n * w
            mixFLOPs = h * 2 * n * n * w
            softmaxExps = h * n * n
            scoreEntries = h * n * n
            rankBound = min(n, w)
        }
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let n = s.n, d = m.dModel, h = max(m.heads, 1), w = m.headDim
        let multi = Cost(n: n, d: d, heads: h), single = Cost(n: n, d: d, heads: 1)
        let answer = [
            "Splitting d_model into h heads of width d_model/h keeps the cost of attention fixed. The four projections are d_model × d_model matrices either way — h heads simply cut W_Q, W_K and W_V into h column blocks of width d_model/h and W_O into h row blocks — so the parameter count is the same. The score products cost 2·n²·(d_model/h) per head, times h heads: 2·n²·d_model, exactly what one full-width head costs. What changes is the shape of the result: h separate attention patterns, each from a narrower (lower-rank) score matrix, instead of one.",
            "The narrow heads are the point: one softmax can put its weight in only one pattern per query, while h heads can attend to the previous token, the verb and the sentence end at the same time and let W_O combine them. What is paid is h score maps to store and h softmaxes (h·n² exponentials instead of n²), and each head's score map has rank at most d_model/h. \(AttentionAnalysis.kind(m).replacingOccurrences(of: "this ", with: "This ")) has \(h) heads of \(w) dimensions.",
        ]
        func g(_ x: Int) -> String { x >= 1_000_000 ? String(format: "%.2f M", Double(x) / 1e6) : (x >= 10_000 ? String(format: "%.1f k", Double(x) / 1e3) : "\(x)") }
        func same(_ a: Int, _ b: Int) -> String { a == b ? "same" : String(format: "× %.3g", Double(a) / Double(max(b, 1))) }
        let rows: [[String]] = [
            ["head width", "\(w)", "\(d)", "—"],
            ["projection parameters W_Q, W_K, W_V, W_O (+ biases) = 4·d² + 4·d", g(multi.projectionParams), g(single.projectionParams), same(multi.projectionParams, single.projectionParams)],
            ["projection FLOPs 4 · 2·n·d²", g(multi.projectionFLOPs), g(single.projectionFLOPs), same(multi.projectionFLOPs, single.projectionFLOPs)],
            ["score FLOPs Q·Kᵀ: h · 2·n²·(d/h) = 2·n²·d", g(multi.scoreFLOPs), g(single.scoreFLOPs), same(multi.scoreFLOPs, single.scoreFLOPs)],
            ["weights·V FLOPs: h · 2·n²·(d/h)", g(multi.mixFLOPs), g(single.mixFLOPs), same(multi.mixFLOPs, single.mixFLOPs)],
            ["softmax exponentials h·n²", g(multi.softmaxExps), g(single.softmaxExps), same(multi.softmaxExps, single.softmaxExps)],
            ["score-map cells held h·n²", g(multi.scoreEntries), g(single.scoreEntries), same(multi.scoreEntries, single.scoreEntries)],
            ["attention patterns per query", "\(h)", "1", "—"],
            ["rank of each score map ≤ min(n, width)", "\(multi.rankBound)", "\(single.rankBound)", "—"],
        ]
        let chart = BarChart(title: "Attention FLOPs per layer at n = \(n)", categories: ["projections", "Q·Kᵀ", "weights·V"],
                             series: [("\(h) heads × \(w)", [multi.projectionFLOPs, multi.scoreFLOPs, multi.mixFLOPs].map { Double($0) / 1e6 }),
                                      ("1 head × \(d)", [single.projectionFLOPs, single.scoreFLOPs, single.mixFLOPs].map { Double($0) / 1e6 })],
                             xLabel: "step", yLabel: "millions of FLOPs")
        let totalMulti = multi.projectionFLOPs + multi.scoreFLOPs + multi.mixFLOPs
        let totalSingle = single.projectionFLOPs + single.scoreFLOPs + single.mixFLOPs
        let dominant = multi.projectionFLOPs >= multi.scoreFLOPs + multi.mixFLOPs ? "outweigh" : "are outweighed by"
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [FigureSpec(file: Figures.file(id, "flops"), figure: chart,
                                                      caption: "Computed from the formulas (a multiply-add counts as 2 FLOPs; projections = W_Q, W_K, W_V and W_O) at this sentence's n = \(n), not timed. The bars of each pair are equal: \(h) heads of \(w) cost \(g(totalMulti)) FLOPs per layer, one head of \(d) costs \(g(totalSingle)). At this length the projections (\(g(multi.projectionFLOPs))) \(dominant) the n² terms (\(g(multi.scoreFLOPs + multi.mixFLOPs))).")])],
            tables: [TableSpec(caption: "One attention block of this model at this sentence's length (n = \(n), d = \(d), h = \(h)); FLOPs count a multiply-add as 2.",
                               header: ["quantity", "\(h) heads × \(w) (this model)", "1 head × \(d)", "ratio"], rows: rows)],
            findings: [
                "With \("heads", h) heads of \("head_width", w) (d_model = \("d_model", d)), the attention projections hold \("projection_params", multi.projectionParams) parameters per layer — the same as one head of width \(d).",
                "At n = \("tokens", n) tokens one layer's attention costs \("flops_multi_head", Double(totalMulti), "%.4g") FLOPs with \(h) heads and \("flops_single_head", Double(totalSingle), "%.4g") with one head; the score products alone are 2·n²·d = \("score_flops", Double(multi.scoreFLOPs), "%.4g") either way.",
                "What differs: \(h) score maps of rank ≤ \("rank_bound_per_head", multi.rankBound) each (\("score_cells_multi_head", multi.scoreEntries) cells, as many exponentials) instead of one of rank ≤ \("rank_bound_single_head", single.rankBound) (\(single.scoreEntries) cells).",
            ])
    }
}
