import Foundation

/// Bounds on float32 rounding error, for tests that compare results computed in different
/// orders (another BLAS kernel, another CPU, another library). A tolerance must follow from the
/// length and magnitude of what was summed, never be a constant tuned on one machine.
public enum RoundingBound {
    /// Machine epsilon of Float, 2⁻²³; the unit roundoff is half of it.
    public static let eps32 = Double(Float.ulpOfOne)

    /// γₖ = k·u / (1 − k·u), u = eps32/2: a sum of k products computed in float32 in any order
    /// is within γₖ·Σ|aᵢ·bᵢ| of the exact value (Higham, Accuracy and Stability, Thm 3.1/3.4).
    public static func gamma(_ k: Int) -> Double {
        let ku = Double(k) * eps32 / 2
        return ku < 1 ? ku / (1 - ku) : .infinity
    }

    /// Per element of y = x·Wᵀ + b (x [n, k], W [out, k] with `transposed` false; [k, out] when
    /// true): |fl(y) − y| ≤ γₖ₊₁·(Σₖ|x·w| + |b|). Two float32 computations of the same product
    /// differ by at most twice this.
    public static func product(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, transposed: Bool = false) -> [Double] {
        let n = x.shape[0], k = x.shape[1], out = transposed ? w.shape[1] : w.shape[0]
        let g = gamma(k + 1)
        var bounds = [Double](repeating: 0, count: n * out)
        for i in 0..<n {
            for o in 0..<out {
                var s = bias.map { Double(abs($0.data[o])) } ?? 0
                for j in 0..<k {
                    let wv = transposed ? w.data[j * out + o] : w.data[o * k + j]
                    s += Double(abs(x.data[i * k + j] * wv))
                }
                bounds[i * out + o] = g * s
            }
        }
        return bounds
    }

    /// Through a stack of layers the worst case is far too loose; rounding errors of length-k
    /// sums in float32 grow like √k·eps32 relative to the values summed, and each of `depth`
    /// layers adds its own: c·eps32·√k·depth·scale, `scale` the magnitude of the values compared
    /// (at least 1, as LayerNorm renormalizes to unit scale).
    public static func forward(sumLength k: Int, depth: Int, scale: Double, c: Double = 8) -> Double {
        c * eps32 * Double(k).squareRoot() * Double(max(1, depth)) * max(1, scale)
    }
}
