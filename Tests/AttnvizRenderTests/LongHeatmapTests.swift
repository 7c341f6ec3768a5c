import AttnvizRender
import Foundation
import Testing

/// Long inputs: heatmaps stay within a screen, pool by blocks without losing sharp features, and
/// thin their labels; inputs up to 64 tokens keep their cells.
@Suite struct LongHeatmapTests {
    static func map(_ n: Int, colormap: Colormap = .viridis, values: [Float]? = nil) -> Heatmap {
        let labels = (0..<n).map { "tok\($0)" }
        return Heatmap(title: "\(n) tokens", values: values ?? attentionLike(n, seed: 9), rows: n, cols: n, rowLabels: labels,
                       colLabels: labels, xLabel: "key", yLabel: "query", colorbarLabel: "weight", colormap: colormap)
    }

    @Test(arguments: [3, 8, 16, 57, 64, 71])
    func shortInputsKeepTheirCells(n: Int) {
        let m = Self.map(n)
        // The rule before long inputs were capped (14 px up to 100 tokens).
        let expected = n <= 64 ? max(14, min(44, (640 / Double(n)).rounded(.down))) : 14
        #expect(m.cellSize.w == expected && m.cellSize.h == expected)
        #expect(m.pooling == (1, 1))
        #expect(m.stride(m.cellSize.w) == 1)
    }

    @Test(arguments: [72, 100, 222, 320, 512, 1024])
    func longInputsFitTheScreen(n: Int) throws {
        let m = Self.map(n)
        let plot = m.cellSize.w * Double(n)
        print("  n = \(n): cell \(m.cellSize.w) px, plot \(plot) px, pooling \(m.pooling), label every \(m.stride(m.cellSize.w))")
        #expect(plot <= m.maxPlot + 1e-9)
        #expect(plot >= m.maxPlot / 2, "the plot does not collapse")
        let k = m.stride(m.cellSize.w)
        #expect(Double(k) * m.cellSize.w >= 12 || k == 1, "thinned labels are at least 12 px apart")
        #expect(m.cellSize.w >= 10 || k > 1, "labels below 10 px cells are thinned")
        if m.pooling.cols > 1 {
            // Whole pixels per block.
            let block = m.cellSize.w * Double(m.pooling.cols)
            #expect(block == block.rounded())
        }
        let size = try FigureRenderer.rasterize(m)
        #expect(size.width <= 1180, "fits the report's 1180 px column")
    }

    /// Each pooled cell is its block's largest value (diverging maps: largest |value|, sign kept);
    /// a block with no finite value stays masked; one sharp cell survives.
    @Test(arguments: [false, true])
    func poolingKeepsEachBlocksExtreme(diverging: Bool) {
        let n = 700
        var rng = SeededRandom(state: 5)
        var v = (0..<(n * n)).map { _ in Float(rng.next() * 0.02 - (diverging ? 0.01 : 0)) }
        v[123 * n + 456] = diverging ? -1 : 1  // one sharp feature
        for i in 0..<3 { for j in 0..<3 { v[(696 + i) * n + j] = -.infinity } }  // a fully masked corner block
        let m = Self.map(n, colormap: diverging ? .blueRed : .viridis, values: v)
        let (kr, kc) = m.pooling
        let (out, pr, pc) = m.pooledValues()
        #expect(kr > 1 && pr == (n + kr - 1) / kr && pc == (n + kc - 1) / kc)
        var wrong = 0
        for bi in 0..<pr {
            for bj in 0..<pc {
                var best: Float? = nil
                for i in (bi * kr)..<min(n, (bi + 1) * kr) {
                    for j in (bj * kc)..<min(n, (bj + 1) * kc) where v[i * n + j].isFinite {
                        let x = v[i * n + j]
                        if best == nil || (diverging ? abs(x) > abs(best!) : x > best!) { best = x }
                    }
                }
                if out[bi * pc + bj] != (best ?? -.infinity) { wrong += 1 }
            }
        }
        print("  pooled \(n)² into \(pr)×\(pc) blocks (\(kr)×\(kc)), diverging \(diverging): \(wrong) wrong")
        #expect(wrong == 0)
        #expect(out[(123 / kr) * pc + 456 / kc] == (diverging ? -1 : 1))
    }
}
