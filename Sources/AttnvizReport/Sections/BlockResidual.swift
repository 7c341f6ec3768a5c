import AttnvizRender
import AttnvizTensor

/// block-residual: how big each sub-layer's contribution is next to the stream it is added to.
struct BlockResidualSection: Section {
    let id = "block-residual"

    func build(_ s: Study) throws -> SectionContent {
        var names: [String] = [], xNorm: [Double] = [], fNorm: [Double] = [], ratio: [Double] = []
        var rows: [[String]] = []
        for layer in s.trace.layers {
            for sub in layer.sublayers {
                let x = Analysis.mean(Analysis.rowNorms(sub.residualIn)), f = Analysis.mean(Analysis.rowNorms(sub.output))
                let r = Analysis.mean(zip(Analysis.rowNorms(sub.output), Analysis.rowNorms(sub.residualIn)).map { $0 / max($1, 1e-12) })
                names.append("\(sub.name == "feed-forward" ? "F" : "A")\(layer.index)")
                xNorm.append(x); fNorm.append(f); ratio.append(r)
                rows.append(["\(layer.index)", sub.name, Analysis.fixed(x), Analysis.fixed(f), Analysis.fixed(r, 3), Analysis.fixed(f / max(x, 1e-12), 3)])
            }
        }
        let xs = names.indices.map(Double.init)
        // Every sub-layer labelled: A = self-attention, F = feed-forward, with the layer number.
        let ticks = names.enumerated().map { (Double($0.offset), $0.element) }
        let axis = "sub-layer (A = attention, F = feed-forward; number = layer)"
        let norms = LinePlot(title: "Residual stream vs. what each sub-layer adds", series: [
            .init(name: "‖x‖ entering the sub-layer", x: xs, y: xNorm, markers: true),
            .init(name: "‖f(x)‖ the sub-layer's output", x: xs, y: fNorm, markers: true),
        ], xLabel: axis, yLabel: "mean L2 norm per token", xTicks: ticks)
        var ratioPlot = LinePlot(title: "Relative update ‖f(x)‖ / ‖x‖ per token", series: [.init(name: "mean over tokens of ‖f(x)‖ / ‖x‖", x: xs, y: ratio, markers: true)],
                                 xLabel: axis, yLabel: "ratio (mean of per-token ratios)", xTicks: ticks)
        ratioPlot.includeZero = true
        // What the stream does depends on where the LayerNorm sits; the numbers are this run's.
        let range = xNorm.isEmpty ? "" : " (here \(Analysis.fixed(xNorm.min() ?? 0)) to \(Analysis.fixed(xNorm.max() ?? 0)))"
        let normsCaption = s.trace.model.normPlacement == .post
            ? "This model is post-LN: the stream is re-normalised after every addition, so ‖x‖ stays within a narrow band\(range) while the updates vary."
            : "This model is pre-LN: nothing re-normalises the stream between blocks, so ‖x‖ is free to grow as updates pile up: here from \(Analysis.fixed(xNorm.first ?? 0)) entering the first sub-layer to \(Analysis.fixed(xNorm.last ?? 0)) entering the last. Only the final LayerNorm brings it back."
        let biggest = ratio.indices.max { ratio[$0] < ratio[$1] } ?? 0, smallest = ratio.indices.min { ratio[$0] < ratio[$1] } ?? 0
        let placement = s.trace.model.normPlacement == .post
            ? "This model is post-LN (as BERT and the original Transformer): each block computes LayerNorm(x + f(x)). The sum always passes through a LayerNorm, so there is no pure identity path from the loss back to the first layer — every LayerNorm rescales the gradient on the way, one reason deep post-LN models need a learning-rate warmup. And since f starts from random weights, f(x) ≠ 0 at initialisation: a block does not begin as the identity."
            : "This model is pre-LN (as GPT-2): each block computes x + f(LayerNorm(x)), and only one LayerNorm at the very end normalises the stream. The identity path runs untouched from the embeddings to that final LayerNorm, so the gradient reaches every layer through it undiminished — which is why pre-LN stacks train stably even without warmup."
        return SectionContent(
            answer: [
                "Each sub-layer adds its output to its input, x + f(x), instead of replacing it: the sub-layer only has to learn a correction, and the sum gives the signal (and its gradient) a short path around every sub-layer, which is what makes deep stacks trainable.",
                placement,
                "The plots show the residual view for this run: the stream x entering each sub-layer and the update f(x) it adds, measured per token.",
            ],
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "norms"), figure: norms, caption: normsCaption),
                FigureSpec(file: Figures.file(id, "ratio"), figure: ratioPlot,
                           caption: "Largest relative update: \(names.isEmpty ? "" : names[biggest]) (\(Analysis.fixed(ratio.isEmpty ? 0 : ratio[biggest], 2))×); smallest: \(names.isEmpty ? "" : names[smallest]) (\(Analysis.fixed(ratio.isEmpty ? 0 : ratio[smallest], 2))×)."),
            ])],
            tables: [TableSpec(caption: "Mean per-token L2 norms of the residual stream entering each sub-layer and of the sub-layer's output; the relative update as the mean of each token's own ratio, and as the ratio of the two means.",
                               header: ["layer", "sub-layer", "mean ‖x‖", "mean ‖f(x)‖", "mean of ‖f(x)‖/‖x‖", "mean ‖f(x)‖ / mean ‖x‖"], rows: rows)],
            findings: names.isEmpty ? [] : ["The largest relative update is \("largest_update_sublayer", text: names[biggest]) (\("largest_update_ratio", ratio[biggest], "%.2f")× the stream it is added to, mean over tokens); the smallest is \("smallest_update_sublayer", text: names[smallest]) (\("smallest_update_ratio", ratio[smallest], "%.2f")×)."])
    }
}
