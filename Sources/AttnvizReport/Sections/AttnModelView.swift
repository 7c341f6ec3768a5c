import AttnvizRender
import AttnvizTensor
import Foundation

/// attn-model-view: all layers × heads at a glance, and attention rolled out through the layers.
struct AttnModelViewSection: Section {
    let id = "attn-model-view"

    func build(_ s: Study) throws -> SectionContent {
        let layers = s.trace.layers.compactMap { $0.selfAttention?.weights }
        let heads = s.trace.model.heads, n = s.n
        // Under a causal mask the future keys are drawn as masked (grey), not as weight 0.
        let causal = s.trace.model.architecture == .decoder
        let scores = s.trace.layers.compactMap { $0.selfAttention?.scores }
        // Each tile is drawn at most `pixels` wide, so it is max-pooled to that size here (as the
        // grid would when drawing): at 512 tokens 72 full tiles would hold 75 MB until drawn.
        let pixels = heads > 12 ? 56 : 72
        var side = n
        let tiles = zip(layers, scores).flatMap { w, sc in
            (0..<heads).map { h -> [Float] in
                let range = (h * n * n)..<((h + 1) * n * n)
                let tile = causal ? range.map { sc.data[$0] == -.infinity ? -.infinity : w.data[$0] } : Array(w.data[range])
                let pooled = ThumbnailGrid.pooled(tile, size: n, to: pixels)
                side = pooled.side
                return pooled.values
            }
        }
        var grid = ThumbnailGrid(title: "Every head of every layer (\(layers.count) × \(heads))", tiles: tiles, tileSize: side, rows: layers.count,
                                 columns: heads, rowTitles: (0..<layers.count).map { "layer \($0)" }, columnTitles: (0..<heads).map { "H\($0)" },
                                 colorbarLabel: "attention weight", xLabel: "head", yLabel: "layer")
        grid.range = ColorRange(0, 1)
        grid.tilePixels = Double(pixels)
        let roll = Analysis.rollout(layers)
        // The [CLS]/[SEP] columns take most of the rolled-out weight; a log scale keeps the rest readable.
        let floor = 1e-3
        let rollout = Heatmap(title: "Attention rollout through \(layers.count) layers (log scale)", values: roll.map { Float(log10(max($0, floor))) },
                              rows: n, cols: n, rowLabels: s.labels, colLabels: s.labels, xLabel: "input token", yLabel: "output position",
                              colorbarLabel: "log₁₀ rolled-out weight (−3 = 0.1% or less)", colormap: .viridis, range: ColorRange(log10(floor), 0))
        var findings: [Finding] = []
        if n > 0 {
            // An encoder's summary position is the first ([CLS]); a causal model's first position
            // sees only itself, and its last one is the one that predicts the next token.
            let q = causal ? n - 1 : 0
            let row = Array(roll[(q * n)..<((q + 1) * n)])
            let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(3)
            let which = causal ? "the last position (\(s.labels[q]), which predicts the next token)" : "position 0 (\(s.labels[0]))"
            findings.append(Finding("Rolled out, \(which) draws most on " + ranked.map { "“\(s.labels[$0])” at position \($0) (\(Analysis.percent(row[$0])))" }.joined(separator: ", ") + "."))
            // Which input dominates each output row.
            let sinks = Set(s.sinkTokens.indices)
            var onSink = 0, onSelf = 0
            for i in 0..<n {
                let r = roll[(i * n)..<((i + 1) * n)]
                guard let j = r.indices.max(by: { r[$0] < r[$1] }).map({ $0 - i * n }) else { continue }
                if sinks.contains(j) { onSink += 1 } else if j == i { onSelf += 1 }
            }
            findings.append("In \("rows_led_by_sink", onSink) of \("rows", n) rows the largest rolled-out weight is on \(s.sinkTokens.name), in \("rows_led_by_self", onSelf) on the position's own token, and in the remaining \(n - onSink - onSelf) on another token.")
            let diag = Analysis.mean((0..<n).map { roll[$0 * n + $0] })
            let identityOnly = pow(0.5, Double(layers.count))
            findings.append("On average \(percent: "own_token_share", diag) of a position's rolled-out weight ends on its own input token. Rollout adds the identity at every layer (½·A + ½·I), and the path that takes the identity in all \("layers", layers.count) layers carries only 0.5^\(layers.count) = \(percent: "identity_path_share", identityOnly); the rest of that share returns to the token through attention.")
        }
        return SectionContent(
            answer: [
                "A single heatmap shows one head; the grid shows all of them, each tile one layer's head on this sentence. Early layers often hold positional patterns (previous or next token, the diagonal), later ones more spread-out or boundary-token patterns.",
                "Attention rollout follows information through the stack: each layer's head-averaged map, with the identity added for the residual connection, is multiplied through the layers. The result estimates how much each output position draws on each input token — a rough guide, not an exact attribution.",
            ],
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "grid"), figure: grid, caption: "Rows are layers, columns heads; each tile is queries (down) × keys (across) on one colour scale from 0 to 1. The first column of a tile is \(s.labels.first ?? "the first token"), the last \(s.labels.last ?? "the last token")." + (n > Int(grid.tilePixels) ? " With \(n) tokens a tile has more cells than pixels: each pixel shows the largest weight of its block, so thin lines stay visible." : "") + (causal ? " Grey: future keys, removed by the causal mask." : "")),
                FigureSpec(file: Figures.file(id, "rollout"), figure: rollout, caption: "Row i: how much output position i, after all layers, is traced back to each input token. Colours are on a log scale so that weights from 0.1% to 100% are all visible; the bright columns are where most of the weight goes."),
            ])],
            findings: findings)
    }
}
