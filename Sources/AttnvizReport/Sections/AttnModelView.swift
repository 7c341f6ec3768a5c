import AttnvizRender
import AttnvizTensor

/// attn-model-view: all layers × heads at a glance, and attention rolled out through the layers.
struct AttnModelViewSection: Section {
    let id = "attn-model-view"

    func build(_ s: Study) throws -> SectionContent {
        let layers = s.trace.layers.compactMap { $0.selfAttention?.weights }
        let heads = s.trace.model.heads, n = s.n
        // Under a causal mask the future keys are drawn as masked (grey), not as weight 0.
        let causal = s.trace.model.architecture != .encoder
        let scores = s.trace.layers.compactMap { $0.selfAttention?.scores }
        let tiles = zip(layers, scores).flatMap { w, sc in
            (0..<heads).map { h -> [Float] in
                let range = (h * n * n)..<((h + 1) * n * n)
                guard causal else { return Array(w.data[range]) }
                return range.map { sc.data[$0] == -.infinity ? -.infinity : w.data[$0] }
            }
        }
        var grid = ThumbnailGrid(title: "Every head of every layer (\(layers.count) × \(heads))", tiles: tiles, tileSize: n, rows: layers.count,
                                 columns: heads, rowTitles: (0..<layers.count).map { "layer \($0)" }, columnTitles: (0..<heads).map { "H\($0)" },
                                 colorbarLabel: "attention weight", xLabel: "head", yLabel: "layer")
        grid.range = ColorRange(0, 1)
        grid.tilePixels = heads > 12 ? 56 : 72
        let roll = Analysis.rollout(layers)
        let rollout = Heatmap(title: "Attention rollout through \(layers.count) layers", values: roll.map(Float.init), rows: n, cols: n,
                              rowLabels: s.labels, colLabels: s.labels, xLabel: "input token", yLabel: "output position",
                              colorbarLabel: "rolled-out weight", colormap: .viridis)
        var findings: [String] = []
        if n > 0 {
            // An encoder's summary position is the first ([CLS]); a causal model's first position
            // sees only itself, and its last one is the one that predicts the next token.
            let q = causal ? n - 1 : 0
            let row = Array(roll[(q * n)..<((q + 1) * n)])
            let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(3)
            let which = causal ? "the last position (\(s.labels[q]), which predicts the next token)" : "position 0 (\(s.labels[0]))"
            findings.append("Rolled out, \(which) draws most on " + ranked.map { "“\(s.labels[$0])” (\(Analysis.percent(row[$0])))" }.joined(separator: ", ") + ".")
            let diag = Analysis.mean((0..<n).map { roll[$0 * n + $0] })
            findings.append("On average \(Analysis.percent(diag)) of a position's rolled-out weight stays on its own input token, the part carried by the residual path.")
        }
        return SectionContent(
            answer: [
                "A single heatmap shows one head; the grid shows all of them, each tile one layer's head on this sentence. Early layers often hold positional patterns (previous or next token, the diagonal), later ones more spread-out or boundary-token patterns.",
                "Attention rollout follows information through the stack: each layer's head-averaged map, with the identity added for the residual connection, is multiplied through the layers. The result estimates how much each output position draws on each input token — a rough guide, not an exact attribution.",
            ],
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "grid"), figure: grid, caption: "Rows are layers, columns heads; each tile is queries (down) × keys (across) on one colour scale from 0 to 1." + (causal ? " Grey: future keys, removed by the causal mask." : "")),
                FigureSpec(file: Figures.file(id, "rollout"), figure: rollout, caption: "Row i: how much output position i, after all layers, is traced back to each input token."),
            ])],
            findings: findings)
    }
}
