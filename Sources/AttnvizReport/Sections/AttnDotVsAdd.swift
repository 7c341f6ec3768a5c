import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-dot-vs-add: dot-product vs additive (Bahdanau) scoring — operation counts at this n and
/// d_k, both timed on this machine, and the maps both give for one head's real q and k.
struct AttnDotVsAddSection: Section {
    let id = "attn-dot-vs-add"
    /// Timed runs of each scorer (their median): 7, or 3 above 128 tokens, where one additive
    /// pass over n² pairs takes tens of milliseconds.
    static func repeats(_ s: Study) -> Int { s.n > 128 ? 3 : 7 }

    func experiments(_ s: Study) -> [Experiment] {
        guard s.timings else { return [] }
        return [.scoring(layer: s.layers.first ?? 0, head: s.heads.first ?? 0, repeats: Self.repeats(s))]
    }

    func build(_ s: Study) throws -> SectionContent {
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        var answer = [
            "Additive attention (Bahdanau, 2015) scores a query against a key with a small network, e(q, k) = vᵀ tanh(W₁q + W₂k); dot-product attention uses e(q, k) = q·k/√d_k. For n queries and keys both have to produce n² scores, but the dot product does it as one matrix product Q·Kᵀ — the operation GPUs and BLAS libraries run fastest — while the additive form needs, for every pair, a d_a-wide vector sum, d_a tanh evaluations and a second dot product, and has parameters (W₁, W₂, v) of its own that the dot product does not need.",
            "Vaswani et al. (2017) report that the two perform similarly for small d_k, and that additive attention beats unscaled dot products for larger d_k: the dot products grow with √d_k and push the softmax into saturation. Dividing by √d_k removes that, which is why the Transformer uses scaled dot-product attention (see the attn-scaled section).",
            "The additive scorer below uses this head's real queries and keys, but its parameters W₁, W₂ and v are random (seed 7, N(0, 1/d_k)), not trained: its map only illustrates the mechanism and says nothing about which scorer gives better attention. What this section can compare honestly is cost.",
        ]
        if s.trace.model.architecture == .decoder {
            answer.append("This is a causal decoder (GPT-2): the scoring function does not change its mask, so both maps below block every future key before the softmax, as the model does.")
        }
        guard s.trace.layers.indices.contains(layer), let a = s.trace.layers[layer].selfAttention, a.q.shape.count == 3, head < a.heads else {
            return SectionContent(answer: answer, unavailable: "the run has no self-attention in layer \(layer)")
        }
        let n = a.q.shape[1], m = a.k.shape[1], dk = a.q.shape[2], da = dk
        let dot = VariantAnalysis.dotProductFlops(n: n, m: m, dk: dk)
        let add = VariantAnalysis.additiveFlops(n: n, m: m, dk: dk, da: da)
        let addTotal = add.projections + add.pairwise + add.tanh
        var tables = [TableSpec(
            caption: "Operations to score \(n) queries against \(m) keys in one head (d_k = \(dk), additive hidden width d_a = d_k = \(da)); a multiply-add counts as 2 FLOPs and each tanh as 1 (a real tanh costs several).",
            header: ["scorer", "step", "formula", "count"],
            rows: [
                ["dot product", "Q·Kᵀ (one matrix product)", "2·n·m·d_k", "\(dot)"],
                ["dot product", "scale by 1/√d_k (folded into the product)", "n·m", "\(n * m)"],
                ["additive", "W₁q and W₂k projections", "2·n·d_k·d_a + 2·m·d_k·d_a", "\(add.projections)"],
                ["additive", "add, multiply by v, sum (per pair and unit)", "3·n·m·d_a", "\(add.pairwise)"],
                ["additive", "tanh evaluations", "n·m·d_a", "\(add.tanh)"],
            ])]

        // Scale of this head's scores with and without 1/√d_k.
        let scores = VariantAnalysis.head(a.scores, head).filter(\.isFinite).map(Double.init)
        let mean = Analysis.mean(scores)
        let std = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(scores.count, 1))).squareRoot()
        let root = Double(dk).squareRoot()

        let flopRatio = Double(addTotal) / Double(max(dot, 1))
        let flopNote = flopRatio < 10
            ? "That is the same order of magnitude: a large gap in time comes from how the work is done (one optimised matrix product vs n·m small nonlinear evaluations), not from its amount."
            : "At this short length the additive projections (\(add.projections) FLOPs, linear in n) dominate; for long inputs the per-pair terms take over and the ratio tends to (3·d_a + d_a)/(2·d_k) = \(Analysis.fixed(Double(4 * da) / Double(max(2 * dk, 1)), 1))."
        var findings: [Finding] = [
            "At n = \(n) and d_k = \("d_k", dk) the dot product costs \("dot_flops", dot) FLOPs; the additive scorer \("additive_flops", addTotal) (\("additive_tanh_evaluations", add.tanh) of them tanh evaluations), \("additive_over_dot_flops", Double(addTotal) / Double(max(dot, 1)), "%.1f")× as many. \(flopNote)",
            "This head's scaled scores have standard deviation \("scaled_score_std", std, "%.2f"); without the 1/√\(dk) they would have \("unscaled_score_std", std * root, "%.2f")."
        ]
        var values: [(name: String, value: FindingValue)] = [("layer", .number(Double(layer))), ("head", .number(Double(head)))]
        var unavailable: String?
        let mask = VariantAnalysis.head(a.scores, head)  // the model's own mask (causal for a decoder): −∞ where it blocks
        var maps: [Heatmap] = []

        if !s.timings {
            findings.append("Timings were skipped (--no-timings): neither scorer was timed, and the additive map, which the timed run computes, is not drawn; the operation counts above do not depend on timing.")
            var map = Figures.head(a.weights, head: head, labels: s.labels, title: "L\(layer) H\(head): dot-product weights", maskedBy: a.scores,
                                   maskLabel: "blocked key (causal mask)")
            map.colorbarLabel = "attention weight"
            maps.append(map)
        } else {
            let outcome = s.run(.scoring(layer: layer, head: head, repeats: Self.repeats(s)))
            switch outcome {
            case let .measured(ms, tensors):
                let dotT = ms.first { $0.label == "dot" }, addT = ms.first { $0.label == "additive" }
                if let dotT, let addT, dotT.seconds > 0 {
                    findings.append("Timed on this machine (median of \(Self.repeats(s))): the dot-product scores take \("dot_microseconds", dotT.seconds * 1e6, "%.1f") µs, the additive ones \("additive_microseconds", addT.seconds * 1e6, "%.1f") µs — \("additive_over_dot_time", addT.seconds / dotT.seconds, "%.0f")× longer for \(Analysis.fixed(Double(addTotal) / Double(max(dot, 1)), 1))× the FLOPs. Most of that gap is implementation, not arithmetic: the dot product is one optimised BLAS call, the additive scorer a plain loop with a tanh per term\(Self.buildNote); a vectorised additive scorer would come much closer. The FLOP ratio is the figure that carries over to other machines.")
                    tables.append(TableSpec(caption: "Measured on this machine: median of \(Self.repeats(s)) runs after a warm-up, scoring \(n) × \(m) pairs of layer \(layer), head \(head). Wall times vary between runs and machines.",
                                            header: ["scorer", "how", "median time (µs)", "per score (ns)"],
                                            rows: [["dot product", "one sgemm", String(format: "%.1f", dotT.seconds * 1e6), String(format: "%.2f", dotT.seconds * 1e9 / Double(max(n * m, 1)))],
                                                   ["additive", "2 projections + n·m·d_a tanh", String(format: "%.1f", addT.seconds * 1e6), String(format: "%.2f", addT.seconds * 1e9 / Double(max(n * m, 1)))]]))
                }
                for (key, title) in [("dot", "dot product q·k/√d_k"), ("additive", "additive, random W (not trained)")] {
                    guard let t = tensors[key], t.shape == [n, m] else { continue }
                    var raw = t.data
                    for i in raw.indices where i < mask.count && mask[i] == -.infinity { raw[i] = -.infinity }
                    var w = VariantAnalysis.softmaxRows(raw, n: n, m: m)
                    for i in w.indices where raw[i] == -.infinity { w[i] = -.infinity }
                    maps.append(Heatmap(title: "L\(layer) H\(head): \(title)", values: w, rows: n, cols: m,
                                        rowLabels: s.labels.count == n ? s.labels : nil, colLabels: s.labels.count == m ? s.labels : nil,
                                        xLabel: "key token (attended to)", yLabel: "query token (attending)", colorbarLabel: "attention weight (softmax)"))
                    if key == "dot" {
                        var diff = 0.0
                        for i in t.data.indices where i < mask.count && mask[i].isFinite { diff = max(diff, abs(Double(t.data[i]) - Double(mask[i]))) }
                        values.append(("dot_vs_recorded_scores_max_abs_diff", .number(diff)))
                    }
                }
                for i in maps.indices { maps[i].maskLabel = "blocked key (causal mask)" }
            case let .unavailable(reason):
                unavailable = "the timed scoring run could not be made: \(reason)"
            case .trace:
                unavailable = "the scoring run returned no timings"
            }
        }
        Figures.sharedWeightRange(&maps)
        let mapFigures = maps.enumerated().map { k, map in
            FigureSpec(file: Figures.file(id, k == 0 ? "dot" : "additive"), figure: map,
                       caption: k == 0 ? "Softmax of this head's dot-product scores (the model's real attention)\(maps.count > 1 ? "; one colour range (0 to \(Chrome.format(map.range?.max ?? 1))) with the additive map beside it" : "")."
                                       : "ILLUSTRATION, not trained: softmax of vᵀ tanh(W₁q + W₂k) with random W₁, W₂, v on the same q and k. Its pattern reflects the random parameters, not what a trained additive scorer would learn.")
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: mapFigures)], tables: tables, findings: findings,
                              unavailable: unavailable, values: values)
    }

    /// Said beside timings: a debug build leaves the loop unoptimised.
    static var buildNote: String {
        #if DEBUG
        return " (and this attnviz is a debug build, which leaves that loop unoptimised)"
        #else
        return ""
        #endif
    }
}
