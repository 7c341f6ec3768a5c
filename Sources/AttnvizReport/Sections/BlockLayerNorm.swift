import AttnvizTrace
import AttnvizRender
import AttnvizTensor

/// block-layernorm: statistics around every LayerNorm, BatchNorm's batch statistics on a padded
/// batch, and where the norm sits (post-LN vs pre-LN).
struct BlockLayerNormSection: Section {
    let id = "block-layernorm"

    func experiments(_ s: Study) -> [Experiment] { s.paddedExperiment.map { [$0] } ?? [] }

    func build(_ s: Study) throws -> SectionContent {
        var names: [String] = [], stdIn: [Double] = [], stdNorm: [Double] = [], stdOut: [Double] = [], meanIn: [Double] = [], meanOut: [Double] = []
        let eps = s.trace.model.layerNormEps
        for layer in s.trace.layers {
            for sub in layer.sublayers {
                let a = Analysis.rowStats(sub.normInput), b = Analysis.rowStats(sub.normOutput)
                names.append("\(sub.name == "feed-forward" ? "F" : "A")\(layer.index)")
                stdIn.append(Analysis.mean(a.map(\.std))); stdOut.append(Analysis.mean(b.map(\.std)))
                // (x − μ)/√(σ² + ε) before the learned scale γ and shift β: std σ/√(σ² + ε).
                stdNorm.append(Analysis.mean(a.map { $0.std / ($0.std * $0.std + eps).squareRoot() }))
                meanIn.append(Analysis.mean(a.map { abs($0.mean) })); meanOut.append(Analysis.mean(b.map { abs($0.mean) }))
            }
        }
        let xs = names.indices.map(Double.init)
        let ticks = names.enumerated().map { (Double($0.offset), $0.element) }
        let plot = LinePlot(title: "Token statistics before and after each LayerNorm", series: [
            .init(name: "std before", x: xs, y: stdIn, markers: true),
            .init(name: "std normalised (before γ, β)", x: xs, y: stdNorm, markers: true),
            .init(name: "std after γ, β", x: xs, y: stdOut, markers: true),
            .init(name: "|mean| before", x: xs, y: meanIn, dashed: true), .init(name: "|mean| after γ, β", x: xs, y: meanOut, dashed: true),
        ], xLabel: "LayerNorm (A = attention's, F = feed-forward's; number = layer)", yLabel: "mean over tokens", xTicks: ticks)

        // Per-token std before each layer's feed-forward LayerNorm (the second), tokens across:
        // where the differences between tokens are largest.
        let layers = s.trace.layers
        var perToken = [Float]()
        for layer in layers { if let sub = layer.sublayers.last { perToken += Analysis.rowStats(sub.normInput).map { Float($0.std) } } }
        let tokenMap = Heatmap(title: "Std of each token's vector before the feed-forward LayerNorm", values: perToken, rows: layers.count, cols: s.n,
                               rowLabels: layers.map { "layer \($0.index)" }, colLabels: s.labels, xLabel: "token", yLabel: "layer",
                               colorbarLabel: "std over features", colormap: .viridis)
        let sortedStd = perToken.sorted()
        let medianStd = sortedStd.isEmpty ? 0 : Double(sortedStd[sortedStd.count / 2])
        let widest = perToken.indices.max { perToken[$0] < perToken[$1] }
        var figures = [FigureSpec(file: Figures.file(id, "stats"), figure: plot, caption: "Normalising gives every token std \(Analysis.fixed(stdNorm.min() ?? 0, 3))–\(Analysis.fixed(stdNorm.max() ?? 0, 3)) (1 up to ε) and mean 0; the learned γ and β then rescale each feature, which sets the level of the “after γ, β” line."),
                       FigureSpec(file: Figures.file(id, "per-token"), figure: tokenMap, caption: widest.map { "Before the feed-forward LayerNorm the tokens' scales differ widely: up to \(Analysis.fixed(Double(perToken[$0]), 1)) (“\(s.labels[$0 % max(s.n, 1)])”, layer \(layers[$0 / max(s.n, 1)].index)) against a median of \(Analysis.fixed(medianStd, 2)). LayerNorm brings each token to a common scale separately." } ?? "No tokens.")]
        var findings: [Finding] = []
        if let padded = s.padded.trace, let e = padded.embeddings {
            // BatchNorm would average each feature over all positions of the batch, pads included.
            let n = s.n, total = padded.tokens.count, d = e.sum.shape[1]
            var shift = 0.0, spread = 0.0
            for f in 0..<d {
                var all = 0.0, real = 0.0, realSq = 0.0
                for i in 0..<total {
                    let v = Double(e.sum.data[i * d + f]); all += v
                    if i < n { real += v; realSq += v * v }
                }
                let realMean = real / Double(max(n, 1))
                shift += abs(all / Double(max(total, 1)) - realMean)
                spread += max(0, realSq / Double(max(n, 1)) - realMean * realMean).squareRoot()
            }
            let lnSame = zip(Analysis.rowStats(padded.embeddings?.output ?? e.output).prefix(n), Analysis.rowStats(s.trace.embeddings?.output ?? e.output))
                .reduce(0.0) { max($0, abs($1.0.std - $1.1.std)) }
            findings.append("In the padded batch (\("pad_tokens", total - n) [PAD] added), a BatchNorm that counted the pads would see the mean of each feature of the embedding sum (token + position + segment, before the embedding LayerNorm) move by \("batch_mean_shift_per_feature", shift / Double(max(d, 1)), "%.3f") on average — \(percent: "batch_mean_shift_relative", shift / max(spread, 1e-12)) of that feature's spread (std) over the real tokens; LayerNorm's per-token statistics of the real tokens change by at most \("layernorm_std_change_max", lnSame, "%.1e").")
        }
        let placement = s.trace.model.normPlacement
        let yellow = RGB(hex: 0xFFF3C4), orange = RGB(hex: 0xFCE9D9), grey = RGB(hex: 0xF1F1F1)
        let post = BlockDiagram(title: "Post-LN (original Transformer, BERT)" + (placement == .post ? " — this model" : ""), boxes: [
            .init(title: "x", detail: "residual stream", color: .white),
            .init(title: "Sub-layer", detail: "attention or FFN: f(x)", color: orange, residualAround: true),
            .init(title: "Add", detail: "x + f(x)", color: grey),
            .init(title: "LayerNorm", detail: "LN(x + f(x)): on the residual path", color: yellow),
        ], repeated: nil, repeatLabel: "")
        let pre = BlockDiagram(title: "Pre-LN (GPT-2, most newer models)" + (placement == .pre ? " — this model" : ""), boxes: [
            .init(title: "x", detail: "residual stream", color: .white),
            .init(title: "LayerNorm", detail: "LN(x): only the sub-layer's input", color: yellow, residualAround: true, residualSkip: 2),
            .init(title: "Sub-layer", detail: "attention or FFN: f(LN(x))", color: orange),
            .init(title: "Add", detail: "x + f(LN(x))", color: grey),
        ], repeated: nil, repeatLabel: "")
        figures.append(FigureSpec(file: Figures.file(id, "post-ln"), figure: post, caption: "Post-LN puts the norm on the residual path itself: every block's output is renormalised." + (placement == .post ? " \(s.trace.model.name) is built this way." : "")))
        figures.append(FigureSpec(file: Figures.file(id, "pre-ln"), figure: pre, caption: "Pre-LN keeps an untouched identity path from input to output, which trains more stably in deep stacks and needs a final LayerNorm." + (placement == .pre ? " \(s.trace.model.name) is built this way." : "")))
        return SectionContent(
            answer: [
                "LayerNorm normalises each token's vector over its features: subtract its mean, divide by its standard deviation, then apply a learned scale γ and shift β per feature. BatchNorm instead normalises each feature over the tokens of a training batch, and at inference uses running averages of those statistics collected during training. For text that is a poor fit: sentences differ in length, so batches are padded and the pads enter the statistics unless they are masked out; small or uneven batches give noisy statistics; and the running averages used at inference differ from the batch statistics the model saw in training. LayerNorm depends on nothing but the token itself, so it computes the same thing in training and inference, for any batch.",
                "Where it sits matters too: the original Transformer and BERT normalise after the residual addition (post-LN); GPT-2 and most later models normalise the sub-layer's input instead (pre-LN), which keeps a clean residual path and trains deep models without careful warm-up.",
            ],
            groups: [FigureGroup(figures: figures)],
            findings: findings)
    }
}
