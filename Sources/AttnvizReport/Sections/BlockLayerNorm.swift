import AttnvizTrace
import AttnvizRender
import AttnvizTensor

/// block-layernorm: statistics around every LayerNorm, BatchNorm's batch statistics on a padded
/// batch, and where the norm sits (post-LN vs pre-LN).
struct BlockLayerNormSection: Section {
    let id = "block-layernorm"

    func experiments(_ s: Study) -> [Experiment] { s.paddedExperiment.map { [$0] } ?? [] }

    func build(_ s: Study) throws -> SectionContent {
        var names: [String] = [], stdIn: [Double] = [], stdOut: [Double] = [], meanIn: [Double] = [], meanOut: [Double] = []
        for layer in s.trace.layers {
            for sub in layer.sublayers {
                let a = Analysis.rowStats(sub.normInput), b = Analysis.rowStats(sub.normOutput)
                names.append("L\(layer.index) \(sub.name == "self-attention" ? "attn" : "ffn")")
                stdIn.append(Analysis.mean(a.map(\.std))); stdOut.append(Analysis.mean(b.map(\.std)))
                meanIn.append(Analysis.mean(a.map { abs($0.mean) })); meanOut.append(Analysis.mean(b.map { abs($0.mean) }))
            }
        }
        let xs = names.indices.map(Double.init)
        let ticks = names.enumerated().map { (Double($0.offset), $0.element) }.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let plot = LinePlot(title: "Token statistics before and after each LayerNorm", series: [
            .init(name: "std before", x: xs, y: stdIn, markers: true), .init(name: "std after", x: xs, y: stdOut, markers: true),
            .init(name: "|mean| before", x: xs, y: meanIn, dashed: true), .init(name: "|mean| after", x: xs, y: meanOut, dashed: true),
        ], xLabel: "LayerNorm (in order)", yLabel: "value", xTicks: ticks)

        // Per-token std before the first LayerNorm of each layer, tokens across.
        let layers = s.trace.layers
        var perToken = [Float]()
        for layer in layers { if let sub = layer.sublayers.first { perToken += Analysis.rowStats(sub.normInput).map { Float($0.std) } } }
        let tokenMap = Heatmap(title: "Std of each token's vector before the attention LayerNorm", values: perToken, rows: layers.count, cols: s.n,
                               rowLabels: layers.map { "layer \($0.index)" }, colLabels: s.labels, xLabel: "token", yLabel: "layer",
                               colorbarLabel: "std over features", colormap: .viridis)
        var figures = [FigureSpec(file: Figures.file(id, "stats"), figure: plot, caption: "After every LayerNorm each token's vector has mean ≈ 0 and std ≈ 1 before the learned scale and shift; the learned γ, β then set the level shown."),
                       FigureSpec(file: Figures.file(id, "per-token"), figure: tokenMap, caption: "LayerNorm normalises each token separately, so these very different scales per token are each brought to a common one.")]
        var findings: [Finding] = []
        if let padded = s.padded.trace, let e = padded.embeddings {
            // BatchNorm would average each feature over all positions of the batch, pads included.
            let n = s.n, total = padded.tokens.count, d = e.sum.shape[1]
            var shift = 0.0
            for f in 0..<d {
                var all = 0.0, real = 0.0
                for i in 0..<total { let v = Double(e.sum.data[i * d + f]); all += v; if i < n { real += v } }
                shift += abs(all / Double(total) - real / Double(n))
            }
            let lnSame = zip(Analysis.rowStats(padded.embeddings?.output ?? e.output).prefix(n), Analysis.rowStats(s.trace.embeddings?.output ?? e.output))
                .reduce(0.0) { max($0, abs($1.0.std - $1.1.std)) }
            findings.append("In the padded batch (\("pad_tokens", total - n) [PAD] added), BatchNorm-style statistics of the embedding features would move by \("batch_mean_shift_per_feature", shift / Double(d), "%.3f") on average per feature because pads are counted; LayerNorm's per-token statistics of the real tokens change by at most \("layernorm_std_change_max", lnSame, "%.1e").")
        }
        let placement = s.trace.model.normPlacement
        let post = BlockDiagram(title: "Post-LN (original Transformer, BERT)" + (placement == .post ? " — this model" : ""), boxes: [
            .init(title: "x", detail: "residual stream", color: .white),
            .init(title: "Sub-layer", detail: "attention or FFN", color: RGB(hex: 0xFCE9D9), residualAround: true),
            .init(title: "Add, then LayerNorm", detail: "LN(x + f(x))", color: RGB(hex: 0xF1F1F1)),
        ], repeated: nil, repeatLabel: "")
        let pre = BlockDiagram(title: "Pre-LN (GPT-2, most newer models)" + (placement == .pre ? " — this model" : ""), boxes: [
            .init(title: "x", detail: "residual stream", color: .white),
            .init(title: "LayerNorm, then sub-layer", detail: "f(LN(x))", color: RGB(hex: 0xFCE9D9), residualAround: true),
            .init(title: "Add", detail: "x + f(LN(x))", color: RGB(hex: 0xF1F1F1)),
        ], repeated: nil, repeatLabel: "")
        figures.append(FigureSpec(file: Figures.file(id, "post-ln"), figure: post, caption: "Post-LN puts the norm on the residual path itself: every block's output is renormalised." + (placement == .post ? " \(s.trace.model.name) is built this way." : "")))
        figures.append(FigureSpec(file: Figures.file(id, "pre-ln"), figure: pre, caption: "Pre-LN keeps an untouched identity path from input to output, which trains more stably in deep stacks and needs a final LayerNorm." + (placement == .pre ? " \(s.trace.model.name) is built this way." : "")))
        return SectionContent(
            answer: [
                "LayerNorm normalises each token's vector over its features: subtract its mean, divide by its standard deviation, then apply a learned scale and shift. BatchNorm instead normalises each feature over the batch. For text the batch view breaks down: sentences differ in length, pads would enter the statistics, a position's meaning differs across sentences, and at inference a batch of one has no batch statistics — LayerNorm has none of these problems and behaves the same in training and inference.",
                "Where it sits matters too: the original Transformer and BERT normalise after the residual addition (post-LN); GPT-2 and most later models normalise the sub-layer's input instead (pre-LN), which keeps a clean residual path and trains deep models without careful warm-up.",
            ],
            groups: [FigureGroup(figures: figures)],
            findings: findings)
    }
}
