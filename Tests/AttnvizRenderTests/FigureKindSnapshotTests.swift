import AttnvizRender
import Foundation
import SnapshotTesting
import Testing

/// One snapshot per figure kind beside the heatmap; inputs are computed, not typed in.
@Suite struct FigureKindSnapshotTests {
    @Test func linePlot() throws {
        let xs = (0..<50).map(Double.init)
        let series = [2, 6].flatMap { k -> [LinePlot.Series] in
            let f = 1 / pow(10000, Double(2 * k) / 32)
            return [LinePlot.Series(name: "sin, dim \(2 * k)", x: xs, y: xs.map { sin($0 * f) }),
                    LinePlot.Series(name: "cos, dim \(2 * k + 1)", x: xs, y: xs.map { cos($0 * f) }, dashed: true)]
        }
        let fig = LinePlot(title: "Sinusoidal encoding: a few dimensions over positions", series: series,
                           xLabel: "position", yLabel: "value")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func barChart() throws {
        var rng = SeededRandom(state: 21)
        let heads = (0..<12).map { "head \($0)" }
        let fig = BarChart(title: "Attention entropy per head (nats)", categories: heads,
                           series: [("scaled", heads.map { _ in 1 + rng.next() * 2 }), ("unscaled", heads.map { _ in rng.next() })],
                           xLabel: "head", yLabel: "mean entropy (nats)")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func maskDiagram() throws {
        let tokens = ["[CLS]", "hello", "world", "[SEP]", "[PAD]", "[PAD]"]
        let n = tokens.count
        let allowed = (0..<(n * n)).map { tokens[$0 % n] != "[PAD]" }
        let fig = MaskDiagram(title: "Padding mask: [PAD] columns are blocked", allowed: allowed, rows: n, cols: n,
                              rowLabels: tokens, colLabels: tokens)
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func blockDiagram() throws {
        let fig = BlockDiagram(title: "Encoder block (post-LN)", boxes: [
            .init(title: "Embeddings", detail: "word + position + type, LayerNorm", color: RGB(hex: 0xE8F1FA)),
            .init(title: "Multi-head self-attention", detail: "12 heads × 32 dims", color: RGB(hex: 0xFCE9D9), residualAround: true),
            .init(title: "Add & LayerNorm", detail: "x + Attn(x)", color: RGB(hex: 0xF1F1F1)),
            .init(title: "Feed-forward", detail: "384 → 1536 → 384, GELU", color: RGB(hex: 0xE2F2EA), residualAround: true),
            .init(title: "Add & LayerNorm", detail: "x + FFN(x)", color: RGB(hex: 0xF1F1F1)),
        ], repeated: 1...4, repeatLabel: "× 6 layers")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    /// Pre-LN: each residual skips the LayerNorm and the sub-layer and joins at the add.
    @Test func blockDiagramPreLN() throws {
        let grey = RGB(hex: 0xF1F1F1)
        let fig = BlockDiagram(title: "Decoder block (pre-LN)", boxes: [
            .init(title: "Embeddings", detail: "token + position", color: RGB(hex: 0xE8F1FA)),
            .init(title: "LayerNorm", detail: "before attention", color: grey, residualAround: true, residualSkip: 2),
            .init(title: "Masked multi-head self-attention", detail: "12 heads × 64 dims, causal mask", color: RGB(hex: 0xFCE9D9)),
            .init(title: "Add", detail: "x + Attn(LN(x))", color: grey),
            .init(title: "LayerNorm", detail: "before the feed-forward", color: grey, residualAround: true, residualSkip: 2),
            .init(title: "Feed-forward", detail: "768 → 3072 → 768, gelu_new", color: RGB(hex: 0xE2F2EA)),
            .init(title: "Add", detail: "x + FFN(LN(x))", color: grey),
            .init(title: "Final LayerNorm", detail: "after the last block", color: grey),
        ], repeated: 1...6, repeatLabel: "× 12 layers")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
        // A residual that would end past the last box is refused.
        let bad = BlockDiagram(title: "bad", boxes: [.init(title: "a", detail: "", color: grey, residualAround: true, residualSkip: 2),
                                                    .init(title: "b", detail: "", color: grey)], repeated: nil, repeatLabel: "")
        #expect(throws: RenderError.self) { try FigureRenderer.render(bad, format: .png) }
    }

    @Test func thumbnailGrid() throws {
        let layers = 3, heads = 4, n = 10
        let tiles = (0..<(layers * heads)).map { attentionLike(n, seed: UInt64(100 + $0)) }
        let fig = ThumbnailGrid(title: "All layers × heads", tiles: tiles, tileSize: n, rows: layers, columns: heads,
                                rowTitles: (0..<layers).map { "L\($0)" }, columnTitles: (0..<heads).map { "H\($0)" },
                                colorbarLabel: "attention weight", xLabel: "head", yLabel: "layer")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }
}
