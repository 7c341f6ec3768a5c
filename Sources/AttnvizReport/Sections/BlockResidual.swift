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
                names.append("L\(layer.index) \(sub.name == "self-attention" ? "attn" : "ffn")")
                xNorm.append(x); fNorm.append(f); ratio.append(r)
                rows.append(["\(layer.index)", sub.name, Analysis.fixed(x), Analysis.fixed(f), Analysis.fixed(r, 3)])
            }
        }
        let xs = names.indices.map(Double.init)
        let ticks = names.enumerated().map { (Double($0.offset), $0.element) }.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let norms = LinePlot(title: "Residual stream vs. what each sub-layer adds", series: [
            .init(name: "‖x‖ entering the sub-layer", x: xs, y: xNorm, markers: true),
            .init(name: "‖f(x)‖ the sub-layer's output", x: xs, y: fNorm, markers: true),
        ], xLabel: "sub-layer (in order)", yLabel: "mean L2 norm per token", xTicks: ticks)
        var ratioPlot = LinePlot(title: "Relative update ‖f(x)‖ / ‖x‖", series: [.init(name: "ratio", x: xs, y: ratio, markers: true)],
                                 xLabel: "sub-layer (in order)", yLabel: "ratio", xTicks: ticks)
        ratioPlot.includeZero = true
        // What the stream does depends on where the LayerNorm sits; the numbers are this run's.
        let range = xNorm.isEmpty ? "" : " (here \(Analysis.fixed(xNorm.min() ?? 0)) to \(Analysis.fixed(xNorm.max() ?? 0)))"
        let normsCaption = s.trace.model.normPlacement == .post
            ? "This model is post-LN: the stream is re-normalised after every addition, so ‖x‖ stays within a narrow band\(range) while the updates vary."
            : "This model is pre-LN: nothing re-normalises the stream between blocks, so ‖x‖ is free to grow as updates pile up: here from \(Analysis.fixed(xNorm.first ?? 0)) entering the first sub-layer to \(Analysis.fixed(xNorm.last ?? 0)) entering the last. Only the final LayerNorm brings it back."
        let biggest = ratio.indices.max { ratio[$0] < ratio[$1] } ?? 0, smallest = ratio.indices.min { ratio[$0] < ratio[$1] } ?? 0
        return SectionContent(
            answer: [
                "Each sub-layer computes x + f(x) instead of f(x): the sub-layer only has to learn a correction to its input. The identity path lets gradients flow straight from the loss to early layers, which is what makes stacks of dozens of layers trainable, and at the start of training a block that has learned nothing simply passes its input through.",
                "The plots show the residual view for this run: the stream x entering each sub-layer and the update f(x) it adds, measured per token.",
            ],
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "norms"), figure: norms, caption: normsCaption),
                FigureSpec(file: Figures.file(id, "ratio"), figure: ratioPlot,
                           caption: "Largest relative update: \(names.isEmpty ? "" : names[biggest]) (\(Analysis.fixed(ratio.isEmpty ? 0 : ratio[biggest], 2))×); smallest: \(names.isEmpty ? "" : names[smallest]) (\(Analysis.fixed(ratio.isEmpty ? 0 : ratio[smallest], 2))×)."),
            ])],
            tables: [TableSpec(caption: "Mean per-token L2 norms of the residual stream entering each sub-layer and of the sub-layer's output.",
                               header: ["layer", "sub-layer", "‖x‖", "‖f(x)‖", "‖f(x)‖/‖x‖"], rows: rows)])
    }
}
