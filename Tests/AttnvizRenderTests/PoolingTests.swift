import AttnvizRender
import Testing

/// Thumbnails shrink large matrices by keeping each block's largest value.
@Suite struct PoolingTests {
    @Test(arguments: [(10, 4), (57, 72), (400, 72), (129, 64), (3, 1)])
    func poolingKeepsEachBlocksMaximum(size: Int, pixels: Int) {
        var rng: UInt64 = 12345
        var v = (0..<(size * size)).map { _ -> Float in
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Float(rng >> 40) / Float(1 << 24) * 0.01
        }
        // A single bright line (a [CLS] column) and a masked (−∞) block.
        for i in 0..<size { v[i * size] = 0.9 }
        v[size * size - 1] = -.infinity
        let (out, side) = ThumbnailGrid.pooled(v, size: size, to: pixels)
        if size <= pixels {
            #expect(side == size && out == v)
            return
        }
        #expect(side <= pixels && side * ((size + side - 1) / side) >= size)
        let block = (size + pixels - 1) / pixels
        for bi in 0..<side {
            for bj in 0..<side {
                var best = -Float.infinity
                for i in (bi * block)..<min(size, (bi + 1) * block) {
                    for j in (bj * block)..<min(size, (bj + 1) * block) where v[i * size + j].isFinite { best = max(best, v[i * size + j]) }
                }
                #expect(out[bi * side + bj] == best)
            }
        }
        // The bright column survives in the first column of blocks.
        #expect((0..<side).allSatisfy { out[$0 * side] == 0.9 })
    }

    /// A section may hand the grid tiles it pooled itself (attn-model-view does, so that a long
    /// report does not hold every full tile until it is drawn): the figure is the same bytes.
    @Test func prePooledTilesDrawTheSameFigure() throws {
        let n = 150, pixels = 72
        var rng: UInt64 = 99
        let tiles = (0..<6).map { _ in
            (0..<(n * n)).map { k -> Float in
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return k % n == 0 ? 0.8 : Float(rng >> 40) / Float(1 << 24) * 0.2
            }
        }
        func grid(_ t: [[Float]], _ size: Int) -> ThumbnailGrid {
            var g = ThumbnailGrid(title: "grid", tiles: t, tileSize: size, rows: 2, columns: 3, rowTitles: ["a", "b"],
                                  columnTitles: ["x", "y", "z"], colorbarLabel: "weight", xLabel: "head", yLabel: "layer")
            g.range = ColorRange(0, 1)
            g.tilePixels = Double(pixels)
            return g
        }
        let pooled = tiles.map { ThumbnailGrid.pooled($0, size: n, to: pixels) }
        let side = pooled[0].side
        #expect(side < n)
        let full = try FigureRenderer.render(grid(tiles, n), format: .png)
        let small = try FigureRenderer.render(grid(pooled.map(\.values), side), format: .png)
        print("  \(n)² tiles vs pre-pooled \(side)²: \(full.count) and \(small.count) bytes, equal: \(full == small)")
        #expect(full == small)
    }
}
