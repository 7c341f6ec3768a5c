import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-self-vs-local: full self-attention vs a local window and a strided pattern, at this n,
/// with the trained model re-run under each restriction.
struct AttnSelfVsLocalSection: Section {
    let id = "attn-self-vs-local"

    /// Half-width of the local window for n tokens: max(1, n/8).
    static func window(n: Int) -> Int { max(1, n / 8) }
    /// Stride of the strided pattern for n tokens: max(2, ⌊√n⌋).
    static func stride(n: Int) -> Int { max(2, Int(Double(max(n, 0)).squareRoot())) }

    func experiments(_ s: Study) -> [Experiment] {
        [.restricted(.local(window: Self.window(n: s.n))), .restricted(.strided(stride: Self.stride(n: s.n)))]
    }

    func build(_ s: Study) throws -> SectionContent {
        let n = s.n, causal = s.trace.model.architecture == .decoder
        let w = Self.window(n: n), st = Self.stride(n: n)
        let patterns: [(key: String, name: String, pattern: KeyPattern?)] = [
            ("full", causal ? "full (causal)" : "full", nil),
            ("local", "local ±\(w)", .local(window: w)),
            ("strided", "strided every \(st)", .strided(stride: st)),
        ]
        let masks = patterns.map { VariantAnalysis.allowed(n: n, pattern: $0.pattern, causal: causal) }
        let counts = masks.map { $0.reduce(0) { $1 ? $0 + 1 : $0 } }
        let fullCount = max(counts[0], 1)

        var answer = [
            "Full self-attention lets every query score every key: n² scores per head and layer, so cost and memory grow with the square of the length. Sparse variants keep only some keys: a local window keeps the 2w + 1 neighbours of each position (n·(2w + 1) scores, linear in n), a strided pattern keeps every s-th position (about n²/s scores). The Sparse Transformer, Longformer and BigBird combine such patterns (the last two with a few global tokens that see everything) and are trained with them.",
            "This model was trained with full attention. Restricting its keys at inference, as below, is a perturbation of a model that never saw the restriction — it shows how much this model relies on the keys that are removed, not how a model trained with sparse attention would behave (such a model learns to route information through the allowed keys over several layers).",
        ]
        if causal {
            answer.append("This is a causal decoder (GPT-2): its own mask already blocks every future key, so each pattern below is combined with the causal mask — a query keeps only the earlier keys inside its window or on its stride, and full attention here means all earlier keys (n(n + 1)/2 scores).")
        } else {
            answer.append("This is a bidirectional encoder: full attention lets each token see the tokens before and after it, and the window and stride apply on both sides.")
        }

        let maskFigures = zip(patterns, masks).enumerated().map { k, pm in
            FigureSpec(file: Figures.file(id, "mask-\(pm.0.key)"),
                       figure: MaskDiagram(title: "\(pm.0.name.prefix(1).uppercased() + pm.0.name.dropFirst()): \(counts[k]) of \(n * n) scores", allowed: pm.1,
                                           rows: n, cols: n, rowLabels: s.labels, colLabels: s.labels),
                       caption: k == 0
                           ? (causal ? "Causal full attention: query i sees keys 0…i, \(counts[0]) scores in all." : "Full attention: every query sees all \(n) keys, n² = \(counts[0]) scores.")
                           : "\(k == 1 ? "Local window |i − j| ≤ \(w) (w = max(1, n/8))" : "Strided |i − j| mod \(st) = 0 (s = max(2, ⌊√n⌋))")\(causal ? " combined with the causal mask" : ""): \(counts[k]) allowed scores, \(Analysis.percent(Double(counts[k]) / Double(fullCount))) of \(causal ? "causal" : "full") attention.")
        }

        // The re-runs.
        let runs = patterns.map { p -> (trace: Trace?, reason: String?) in
            guard let pattern = p.pattern else { return (s.trace, nil) }
            let o = s.run(.restricted(pattern))
            return (o.trace, o.reason)
        }
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        var maps: [Heatmap] = []
        for (p, run) in zip(patterns, runs) {
            guard let t = run.trace, t.layers.indices.contains(layer), let a = t.layers[layer].selfAttention, head < a.heads else { continue }
            maps.append(Figures.head(a.weights, head: head, labels: s.labels, title: "L\(layer) H\(head), \(p.name)", maskedBy: a.scores,
                                     maskLabel: "blocked key (score −∞)"))
        }
        Figures.sharedWeightRange(&maps)
        let mapFigures = maps.enumerated().map { k, map in
            FigureSpec(file: Figures.file(id, "weights-\(patterns[k].key)"), figure: map,
                       caption: k == 0 ? "Layer \(layer), head \(head) as trained. The three maps share one colour range (0 to \(Chrome.format(map.range?.max ?? 1)))."
                                       : "The same head when every layer is restricted to the \(patterns[k].name) pattern: blocked keys are hatched; each row's weight is spread over its allowed keys only.")
        }

        // How much the outputs change, per layer.
        var rows: [[String]] = []
        var lastChange: [Double?] = [nil, nil], cosPooled: [Double?] = [nil, nil], cosFirst: [Double?] = [nil, nil]
        let firstIsCLS = !causal && (s.trace.tokens.first.map { $0.isSpecial && $0.range == nil } ?? false)
        for l in s.trace.layers.indices {
            var row = ["\(l)"]
            for k in 1...2 {
                guard let t = runs[k].trace, t.layers.indices.contains(l) else { row.append("–"); continue }
                let c = VariantAnalysis.relativeChange(s.trace.layers[l].output, t.layers[l].output)
                row.append(String(format: "%.3f", c))
                lastChange[k - 1] = c
            }
            rows.append(row)
        }
        for k in 1...2 {
            guard let t = runs[k].trace else { continue }
            cosPooled[k - 1] = VariantAnalysis.cosine(VariantAnalysis.meanRow(s.trace.lastHidden), VariantAnalysis.meanRow(t.lastHidden))
            let i = firstIsCLS ? 0 : n - 1
            cosFirst[k - 1] = VariantAnalysis.cosine(VariantAnalysis.row(s.trace.lastHidden, i), VariantAnalysis.row(t.lastHidden, i))
        }
        let inside = masks.map { VariantAnalysis.weightInside(s.trace, allowed: $0) }

        let localFormula = causal ? "n·(w + 1) = \(n * (w + 1))" : "n·(2w + 1) = \(n * (2 * w + 1))"
        let stridedFormula = causal ? "n²/(2s) ≈ \(n * n / (2 * st))" : "n²/s ≈ \(n * n / st)"
        var findings: [Finding] = [
            "At n = \(n) each head of each layer computes \("full_allowed_scores", counts[0]) scores with \(causal ? "causal" : "full") attention; the local window ±\("window", w) keeps \("local_allowed_scores", counts[1]) (\(percent: "local_cost_share", Double(counts[1]) / Double(fullCount)); \(localFormula) before the edges cut it) and the stride \("stride", st) keeps \("strided_allowed_scores", counts[2]) (\(percent: "strided_cost_share", Double(counts[2]) / Double(fullCount)); \(stridedFormula)).",
            "As trained, the model puts \(percent: "full_weight_inside_local", inside[1]) of its attention (mean over layers, heads and queries) on keys inside the window and \(percent: "full_weight_inside_strided", inside[2]) on keys the stride keeps: the rest is what each restriction takes away.",
        ]
        if let a = lastChange[0], let b = lastChange[1], let ca = cosPooled[0], let cb = cosPooled[1] {
            findings.append("Restricted at inference, the last layer's hidden states change by ‖Δh‖/‖h‖ = \("local_last_layer_relative_change", a, "%.3f") (local) and \("strided_last_layer_relative_change", b, "%.3f") (strided); the final mean-pooled vector keeps cosine \("local_pooled_cosine", ca, "%.4f") and \("strided_pooled_cosine", cb, "%.4f") with the full run's.")
        }
        if let a = cosFirst[0], let b = cosFirst[1] {
            findings.append(firstIsCLS
                ? "The final [CLS] vector keeps cosine \("local_cls_cosine", a, "%.4f") (local) and \("strided_cls_cosine", b, "%.4f") (strided)."
                : "The final vector of the last token (the one that predicts the next) keeps cosine \("local_last_token_cosine", a, "%.4f") (local) and \("strided_last_token_cosine", b, "%.4f") (strided).")
        }
        let missing = zip(patterns, runs).compactMap { p, r in r.reason.map { "\(p.name): \($0)" } }
        let table = TableSpec(
            caption: "Per layer: relative change ‖h_restricted − h_full‖ / ‖h_full‖ of the layer's output hidden states (all tokens) when every layer is restricted. Changes made early are carried and compounded by the later layers.",
            header: ["layer", "local ±\(w)", "strided every \(st)"], rows: rows)
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(title: "Mask diagrams at n = \(n)", figures: maskFigures), FigureGroup(figures: mapFigures)],
            tables: [table], findings: findings,
            unavailable: missing.isEmpty ? nil : "the restricted runs could not be made (\(missing.joined(separator: "; ")))")
    }
}
