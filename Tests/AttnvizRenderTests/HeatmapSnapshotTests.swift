import AttnvizRender
import Foundation
import SnapshotTesting
import Testing

/// A seeded generator, so snapshot inputs are fixed without typing numbers in.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
}

/// Row-softmaxed random scores: an attention-like matrix.
func attentionLike(_ n: Int, seed: UInt64, causal: Bool = false) -> [Float] {
    var rng = SeededRandom(state: seed)
    var out = [Float](repeating: 0, count: n * n)
    for i in 0..<n {
        var row = (0..<n).map { j -> Double in (causal && j > i) ? -.infinity : 3 * rng.next() }
        let m = row.max() ?? 0
        row = row.map { exp($0 - m) }
        let s = row.reduce(0, +)
        for j in 0..<n { out[i * n + j] = Float(row[j] / s) }
    }
    return out
}

@Suite struct HeatmapSnapshotTests {
    @Test func ascii8x8WithValues() throws {
        let tokens = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
        let fig = Heatmap(title: "Layer 0 · head 3: attention weights", values: attentionLike(8, seed: 1), rows: 8, cols: 8,
                          rowLabels: tokens, colLabels: tokens, xLabel: "key token", yLabel: "query token",
                          colorbarLabel: "attention weight")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func chinese8x8() throws {
        let tokens = ["我", "爱", "学", "习", "自", "然", "语", "言"]
        let fig = Heatmap(title: "注意力权重 · attention weights", values: attentionLike(8, seed: 2), rows: 8, cols: 8,
                          rowLabels: tokens, colLabels: tokens, xLabel: "键 key", yLabel: "查询 query",
                          colorbarLabel: "权重 weight")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func unlabelled128() throws {
        let fig = Heatmap(title: "128 × 128 attention, no labels", values: attentionLike(128, seed: 3), rows: 128, cols: 128,
                          xLabel: "key position", yLabel: "query position", colorbarLabel: "attention weight")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func maskedCells() throws {
        let tokens = ["<s>", "a", "causal", "mask", "hides", "the", "future", "tokens", "from", "each", "row"]
        var scores = attentionLike(tokens.count, seed: 4, causal: true)
        for i in 0..<tokens.count { for j in 0..<tokens.count where j > i { scores[i * tokens.count + j] = -.infinity } }
        let fig = Heatmap(title: "Causal mask: scores with −∞ above the diagonal", values: scores, rows: tokens.count,
                          cols: tokens.count, rowLabels: tokens, colLabels: tokens, xLabel: "key token",
                          yLabel: "query token", colorbarLabel: "attention weight")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }

    @Test func divergingNegativeValues() throws {
        var rng = SeededRandom(state: 5)
        let rows = 10, cols = 24
        let values = (0..<(rows * cols)).map { _ in Float(rng.next() * 4 - 2.5) }
        let tokens = ["[CLS]", "naïve", "café", "résumé", "über", "a-very-long-token-label-that-gets-cut", "😀", "ok", "!", "[SEP]"]
        let fig = Heatmap(title: "Token embeddings (first 24 dimensions), signed", values: values, rows: rows, cols: cols,
                          rowLabels: tokens, colLabels: (0..<cols).map { "d\($0)" }, xLabel: "embedding dimension",
                          yLabel: "token", colorbarLabel: "value", colormap: .blueRed)
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
    }
}
