/// Where one LayerNorm lives in the flat parameter buffer: gamma [d] and beta [d].
public struct NormSlot: Sendable, Equatable {
    public let gamma: Int, beta: Int
    public let width: Int
    public init(gamma: Int, beta: Int, width: Int) { self.gamma = gamma; self.beta = beta; self.width = width }
}

/// What LayerNorm's backward needs: the normalized input and 1/σ per row.
public struct NormSaved<S: TrainScalar>: Sendable {
    public var xhat: [S]    // [n, d]
    public var inverse: [S] // [n]
}

/// LayerNorm over the last axis with population variance, as PyTorch:
/// y = γ · (x − μ) / √(σ² + eps) + β.
public enum LayerNormOps {
    /// x [n, d] → y [n, d] and what backward needs.
    public static func forward<S: TrainScalar>(_ x: [S], rows n: Int, _ s: NormSlot, eps: S,
                                               params p: UnsafePointer<S>) -> (y: [S], saved: NormSaved<S>) {
        let d = s.width
        var y = [S](repeating: 0, count: n * d)     // [n, d]
        var xhat = [S](repeating: 0, count: n * d)  // [n, d]
        var inverse = [S](repeating: 0, count: n)   // [n]
        let g = p + s.gamma, b = p + s.beta
        for r in 0..<n {
            let o = r * d
            var mean: S = 0
            for i in 0..<d { mean += x[o + i] }
            mean /= S(d)
            var variance: S = 0
            for i in 0..<d { let c = x[o + i] - mean; variance += c * c }
            variance /= S(d)
            let inv = 1 / (variance + eps).squareRoot()
            inverse[r] = inv
            for i in 0..<d {
                let h = (x[o + i] - mean) * inv
                xhat[o + i] = h
                y[o + i] = h * g[i] + b[i]
            }
        }
        return (y, NormSaved(xhat: xhat, inverse: inverse))
    }

    /// dy [n, d] → dx [n, d]; adds dγ = Σ dy·x̂ and dβ = Σ dy into `grads`.
    /// dx = (1/σ) · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) with ĝ = dy · γ.
    public static func backward<S: TrainScalar>(_ dy: [S], saved: NormSaved<S>, rows n: Int, _ s: NormSlot,
                                                params p: UnsafePointer<S>, grads gr: UnsafeMutablePointer<S>) -> [S] {
        let d = s.width
        var dx = [S](repeating: 0, count: n * d)  // [n, d]
        let g = p + s.gamma, dg = gr + s.gamma, db = gr + s.beta
        let xhat = saved.xhat
        for r in 0..<n {
            let o = r * d
            var sumG: S = 0, sumGX: S = 0
            for i in 0..<d {
                let gh = dy[o + i] * g[i]
                sumG += gh
                sumGX += gh * xhat[o + i]
                dg[i] += dy[o + i] * xhat[o + i]
                db[i] += dy[o + i]
            }
            let meanG = sumG / S(d), meanGX = sumGX / S(d), inv = saved.inverse[r]
            for i in 0..<d { dx[o + i] = inv * (dy[o + i] * g[i] - meanG - xhat[o + i] * meanGX) }
        }
        return dx
    }
}
