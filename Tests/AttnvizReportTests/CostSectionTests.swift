@testable import AttnvizReport
import AttnvizTensor
import Foundation
import Testing

/// The cost sections' arithmetic against its definitions.
@Suite struct CostSectionTests {
    /// A quadratic sampled exactly (with a scale like milliseconds) is recovered by the fit.
    @Test(arguments: [(0.5, 0.02, 0.003), (3.0, 0.0, 1e-4), (-1.0, 0.3, 0.0)])
    func quadraticFitRecoversACurve(a: Double, b: Double, c: Double) throws {
        let xs = [16.0, 32, 64, 128, 256, 512]
        func curve(_ x: Double) -> Double { a + b * x + c * x * x }
        let ys = xs.map(curve)
        let fit = try #require(ArchStrengthsLimitsSection.quadraticFit(xs, ys))
        func fitted(_ x: Double) -> Double { fit.a + fit.b * x + fit.c * x * x }
        let scale = ys.map(abs).max() ?? 1
        let worst = xs.map { abs(fitted($0) - curve($0)) }.max() ?? 0
        print("  fit (\(a), \(b), \(c)) → (\(fit.a), \(fit.b), \(fit.c)); max |Δ| = \(worst)")
        #expect(worst <= 1e-9 * scale * Double(xs.count))
        #expect(ArchStrengthsLimitsSection.quadraticFit([1, 2], [1, 2]) == nil)
    }

    /// Lengths stay within the model's positions and end at the limit.
    @Test(arguments: [1, 7, 16, 100, 512, 1024])
    func timedLengthsEndAtTheLimit(limit: Int) {
        let lengths = ArchStrengthsLimitsSection.lengths(maxPositions: limit)
        #expect(lengths.last == limit)
        #expect(lengths.allSatisfy { $0 >= 1 && $0 <= limit })
        #expect(lengths == lengths.sorted() && Set(lengths).count == lengths.count)
    }

    /// Operation counts by their formulas, counted with loops for small sizes.
    @Test(arguments: [(1, 4), (5, 8), (12, 3)])
    func operationCountsMatchLoops(n: Int, d: Int) {
        let ops = ArchVsRnnCnnSection.operations(n: n, d: d, kernel: 3)
        var attention = 0, recurrent = 0
        for _ in 0..<n { for _ in 0..<n { attention += d } }       // one d-long dot product per pair
        for _ in 0..<n { for _ in 0..<d { recurrent += d } }       // a d × d matrix–vector product per step
        #expect(ops.attention == Double(attention))
        #expect(ops.recurrent == Double(recurrent))
        #expect(ops.convolution == 3 * Double(recurrent))
    }

    @Test func groupedNumbers() {
        #expect(Analysis.grouped(22_713_216) == "22,713,216")
        #expect(Analysis.grouped(-1234) == "-1,234")
        #expect(Analysis.grouped(999) == "999")
        #expect(Analysis.grouped(1.25e6) == "1,250,000")
    }
}

/// Cosine matrices (one BLAS product of unit rows) against the definition, and the offset curve.
@Suite struct CosineTests {
    @Test(arguments: [(1, 3), (7, 5), (40, 64)])
    func cosineMatrixMatchesTheDefinition(n: Int, d: Int) throws {
        var rng = SplitMix(state: UInt64(n * 1000 + d))
        let x = try Tensor(shape: [n, d], data: (0..<(n * d)).map { _ in Float(rng.gaussian() * 3) })
        let c = Analysis.cosineMatrix(x)
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var dot = 0.0, a = 0.0, b = 0.0
                for k in 0..<d {
                    let u = Double(x.data[i * d + k]), v = Double(x.data[j * d + k])
                    dot += u * v; a += u * u; b += v * v
                }
                worst = max(worst, abs(Double(c[i * n + j]) - dot / (a * b).squareRoot()))
            }
        }
        // Unit rows: each entry is a sum of d products of size ≤ 1 in float.
        let tol = 4 * Double(Float.ulpOfOne) * Double(d).squareRoot() + 2 * Double(Float.ulpOfOne)
        print("  cosine n=\(n) d=\(d): max |Δ| = \(worst) (tolerance \(tol))")
        #expect(worst <= tol)
    }

    @Test func offsetCurveAveragesTheDiagonals() throws {
        var rng = SplitMix(state: 9)
        let rows = 30, d = 8
        let x = try Tensor(shape: [rows, d], data: (0..<(rows * d)).map { _ in Float(rng.gaussian()) })
        let curve = PosLearnedSection.similarityByOffset(x, maxOffset: 100)
        #expect(curve.count == rows - 1)
        let c = Analysis.cosineMatrix(x)
        for k in [1, 5, rows - 1] {
            let direct = (0..<(rows - k)).map { Double(c[$0 * rows + $0 + k]) }.reduce(0, +) / Double(rows - k)
            #expect(abs(curve[k - 1] - direct) <= 1e-12 * Double(rows))
        }
    }
}
