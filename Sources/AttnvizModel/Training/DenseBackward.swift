/// Where one `nn.Linear` lives in the flat parameter buffer: weight [out, in] at `weight`,
/// bias [out] at `bias` (offsets in scalars).
public struct DenseSlot: Sendable, Equatable {
    public let weight: Int, bias: Int
    public let inDim: Int, outDim: Int
    public init(weight: Int, bias: Int, inDim: Int, outDim: Int) {
        self.weight = weight; self.bias = bias; self.inDim = inDim; self.outDim = outDim
    }
}

/// nn.Linear forward and backward over rows: y = x · Wᵀ + b.
public enum Dense {
    /// x [n, in] → y [n, out]
    public static func forward<S: TrainScalar>(_ x: [S], rows n: Int, _ s: DenseSlot, params p: UnsafePointer<S>) -> [S] {
        var y = [S](repeating: 0, count: n * s.outDim)  // [n, out]
        guard n > 0 else { return y }
        y.withUnsafeMutableBufferPointer { yb in
            x.withUnsafeBufferPointer { xb in
                let yp = yb.baseAddress!, b = p + s.bias
                for r in 0..<n { (yp + r * s.outDim).update(from: b, count: s.outDim) }
                S.gemm(transA: false, transB: true, m: n, n: s.outDim, k: s.inDim, alpha: 1,
                       a: xb.baseAddress!, lda: s.inDim, b: p + s.weight, ldb: s.inDim, beta: 1, c: yp, ldc: s.outDim)
            }
        }
        return y
    }

    /// Given dy [n, out] and the forward input x [n, in]: adds dW += dyᵀ·x [out, in] and
    /// db += Σ_rows dy [out] into `g`, returns dx = dy·W [n, in].
    public static func backward<S: TrainScalar>(_ dy: [S], x: [S], rows n: Int, _ s: DenseSlot,
                                                params p: UnsafePointer<S>, grads g: UnsafeMutablePointer<S>) -> [S] {
        var dx = [S](repeating: 0, count: n * s.inDim)  // [n, in]
        guard n > 0 else { return dx }
        dy.withUnsafeBufferPointer { dyb in
        x.withUnsafeBufferPointer { xb in
        dx.withUnsafeMutableBufferPointer { dxb in
            let d = dyb.baseAddress!
            S.gemm(transA: false, transB: false, m: n, n: s.inDim, k: s.outDim, alpha: 1,
                   a: d, lda: s.outDim, b: p + s.weight, ldb: s.inDim, beta: 0, c: dxb.baseAddress!, ldc: s.inDim)
            S.gemm(transA: true, transB: false, m: s.outDim, n: s.inDim, k: n, alpha: 1,
                   a: d, lda: s.outDim, b: xb.baseAddress!, ldb: s.inDim, beta: 1, c: g + s.weight, ldc: s.inDim)
            let gb = g + s.bias
            for r in 0..<n {
                let row = d + r * s.outDim
                for j in 0..<s.outDim { gb[j] += row[j] }
            }
        }}}
        return dx
    }
}

/// Element-wise helpers on activation buffers.
enum Elementwise {
    /// a + b, same length.
    static func add<S: TrainScalar>(_ a: [S], _ b: [S]) -> [S] {
        var out = a
        for i in out.indices { out[i] += b[i] }
        return out
    }

    /// a += b, same length.
    static func accumulate<S: TrainScalar>(_ a: inout [S], _ b: [S]) {
        for i in a.indices { a[i] += b[i] }
    }
}
