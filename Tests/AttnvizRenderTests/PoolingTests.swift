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
}
