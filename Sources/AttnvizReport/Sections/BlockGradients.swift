import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// block-gradients: the scale of the hidden state through depth with and without the residual
/// adds and the LayerNorms, on this model's trained weights (forward scales only).
struct BlockGradientsSection: Section {
    let id = "block-gradients"

    /// The variants besides the trained model itself, in plot order.
    static let variants: [(experiment: Experiment, name: String, key: String)] = [
        (.ablated(residual: false, layerNorm: true), "no residual", "no_residual"),
        (.ablated(residual: true, layerNorm: false), "no LayerNorm", "no_layernorm"),
        (.ablated(residual: false, layerNorm: false), "neither", "neither"),
    ]

    func experiments(_ s: Study) -> [Experiment] { Self.variants.map(\.experiment) }

    func build(_ s: Study) throws -> SectionContent {
        let post = s.trace.model.normPlacement == .post
        var answer = [
            "Training sends the loss's gradient back through every layer: by the chain rule it is multiplied by each layer's Jacobian in turn. If those factors are mostly smaller than 1 the gradient reaching the first layers vanishes; if larger, it explodes — and the forward activations show the same tendency, shrinking or growing layer after layer. Residual connections turn each factor into I + J (an identity path the gradient can take unchanged), and normalisation keeps the activations, and with them the Jacobians, at a fixed scale.",
            post
                ? "This model is post-LN, x ← LayerNorm(x + f(x)): the forward scale is reset after every sub-layer, so it cannot drift with depth, but the gradient to the early layers also passes through every LayerNorm (no clean identity path). Xiong et al. (2020) show that at initialisation the gradients of post-LN's last layers are large, which is why it needs a learning-rate warm-up. Pre-LN (x ← x + f(LayerNorm(x)), GPT-2) keeps an untouched identity path from output to input; its residual stream grows with depth instead, and a final LayerNorm fixes the output scale."
                : "This model is pre-LN, x ← x + f(LayerNorm(x)): the stream keeps an untouched identity path from output to input, so gradients reach the early layers directly; in exchange nothing bounds the stream's scale, which grows with depth, and a final LayerNorm fixes the output. Post-LN (BERT, the original Transformer) normalises after every add: its scale is reset each time, but the gradient must pass every LayerNorm, and at initialisation its last layers' gradients are large (Xiong et al., 2020), hence its need for warm-up.",
            "Below, the trained weights are run with parts of the block removed — " + (post ? "“no residual” computes LayerNorm(f(x)) instead of LayerNorm(x + f(x)), “no LayerNorm” computes x + f(x) unnormalised" : "“no residual” computes f(LayerNorm(x)) without adding x, “no LayerNorm” computes x + f(x)") + " (the embeddings are unchanged). These are ablations of a model trained with both, not models trained without them, and the section shows forward scales only: no gradient is computed.",
        ]
        var runs: [(name: String, key: String, trace: Trace)] = [("trained (both)", "trained", s.trace)]
        var missing: [String] = []
        for v in Self.variants {
            switch s.run(v.experiment) {
            case let .trace(t): runs.append((v.name, v.key, t))
            case let .unavailable(why): missing.append("\(v.name): \(why)")
            case .measured: missing.append("\(v.name): no trace")
            }
        }
        func states(_ t: Trace) -> [Tensor] { (t.embeddings.map { [$0.output] } ?? []) + t.layers.map(\.output) }
        let depth = states(s.trace).count
        guard depth > 1 else { return SectionContent(answer: answer, unavailable: "the run recorded no layers") }
        let offset = s.trace.embeddings == nil ? 1 : 0
        let xs = (0..<depth).map { Double($0 + offset) }
        var rms: [[Double]] = [], cosine: [[Double]] = []
        for r in runs {
            let st = states(r.trace)
            rms.append(st.map(BlockAnalysis.rms)); cosine.append(st.map(BlockAnalysis.meanPairwiseCosine))
        }
        let ticks = xs.map { ($0, $0 == 0 ? "emb" : "L\(Int($0) - 1)") }
        let scalePlot = LinePlot(title: "Scale of the hidden state through depth (log₁₀ of the RMS over tokens and features)",
                                 series: runs.indices.map { .init(name: runs[$0].name, x: xs, y: rms[$0].map { log10(max($0, 1e-30)) }, dashed: $0 > 0, markers: true) },
                                 xLabel: s.trace.embeddings.map { $0.output == $0.sum } == true ? "output of (emb = the embedding sum; this model has no LayerNorm there)" : "output of (emb = embeddings after their LayerNorm)", yLabel: "log₁₀ RMS of the hidden state", xTicks: ticks)
        var cosPlot = LinePlot(title: "How alike the tokens become: mean cosine similarity between all pairs of tokens",
                               series: runs.indices.map { .init(name: runs[$0].name, x: xs, y: cosine[$0], dashed: $0 > 0, markers: true) },
                               xLabel: "output of (emb = embeddings)", yLabel: "mean pairwise cosine", xTicks: ticks)
        cosPlot.includeZero = true

        var findings: [Finding] = []
        let last = depth - 1
        let trained = rms[0]
        findings.append("As trained, the RMS of the hidden state goes from \("rms_embeddings", trained[0], "%.3g") after the embeddings to \("rms_last_trained", trained[last], "%.3g") after the last layer (largest \("rms_max_trained", trained.max() ?? 0, "%.3g")); the mean cosine between tokens ends at \("cosine_last_trained", cosine[0][last], "%.3f").")
        for (i, r) in runs.enumerated().dropFirst() {
            let growth = rms[i][last] / max(rms[i][0], 1e-30)
            findings.append("Without \(r.name == "neither" ? "residual and LayerNorm" : String(r.name.dropFirst(3))): RMS \("rms_last_\(r.key)", rms[i][last], "%.3g") after the last layer (×\("rms_growth_\(r.key)", growth, "%.3g") from the embeddings), mean cosine between tokens \("cosine_last_\(r.key)", cosine[i][last], "%.3f").")
        }
        let tableRows = (0..<depth).map { k in [ticks[k].1] + runs.indices.map { Chrome.format(rms[$0][k]) } + runs.indices.map { Analysis.fixed(cosine[$0][k], 3) } }
        if !missing.isEmpty && runs.count > 1 { answer.append("Not run: " + missing.joined(separator: "; ") + ".") }
        let noLN = runs.firstIndex { $0.key == "no_layernorm" }, noRes = runs.firstIndex { $0.key == "no_residual" }
        let scaleCaption = (runs.count > 1 ? "Dashed lines are ablations. " : "") + (noLN.map { "Without LayerNorm the scale " + (rms[$0][last] > trained[last] ? "grows to \(Chrome.format(rms[$0][last])) by the last layer" : "ends at \(Chrome.format(rms[$0][last]))") + " against \(Chrome.format(trained[last])) as trained. " } ?? "")
            + (post ? "With LayerNorm after every add the scale is set by the LayerNorms' γ, β, whatever came before." : "As trained, pre-LN's stream grows because every block adds to it and nothing renormalises it.")
        let cosCaption = noRes.map { "Without the residual path the tokens' vectors end at a mean cosine of \(Analysis.fixed(cosine[$0][last], 3)) (as trained \(Analysis.fixed(cosine[0][last], 3))): " + (cosine[$0][last] > cosine[0][last] ? "repeated attention averaging pulls them together and the token identity carried by the skip path is lost." : "here they do not collapse further than the trained model.") } ?? ""
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "scale"), figure: scalePlot, caption: scaleCaption),
                FigureSpec(file: Figures.file(id, "cosine"), figure: cosPlot, caption: cosCaption),
            ])],
            tables: [TableSpec(caption: "RMS of the hidden state and mean pairwise cosine between tokens after each layer, per variant (computed on this sentence).",
                               header: ["after"] + runs.map { "RMS, \($0.name)" } + runs.map { "cos, \($0.name)" }, rows: tableRows)],
            findings: findings,
            unavailable: runs.count == 1 ? "the ablated runs are not available: \(missing.joined(separator: "; "))" : nil)
    }
}
