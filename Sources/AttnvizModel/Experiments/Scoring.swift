import AttnvizTensor
import AttnvizTrace
import Foundation

extension Session {
    /// `.scoring(layer:head:repeats:)`: one head's recorded q [n, d_k] and k [n, d_k] scored two
    /// ways and timed. Dot product: q·kᵀ/√d_k, one sgemm. Additive (Bahdanau): vᵀ tanh(W₁q + W₂k)
    /// with W₁, W₂ [d_a, d_k] and v [d_a], d_a = d_k — random (seed 7, N(0, 1/d_k)), not trained.
    /// Tensors: "additive" [n, n] and "dot" [n, n].
    func scoring(layer: Int, head: Int, repeats: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        guard base.layers.indices.contains(layer), let a = base.layers[layer].selfAttention, a.q.shape.count == 3,
              a.q.shape[0] > head, head >= 0 else { return .unavailable("the run has no layer \(layer), head \(head)") }
        let n = a.q.shape[1], m = a.k.shape[1], dk = a.q.shape[2], da = dk
        guard n > 0, m > 0, dk > 0 else { return .unavailable("the head has no queries or keys") }
        let q = Array(a.q.data[(head * n * dk)..<((head + 1) * n * dk)])  // [n, d_k]
        let k = Array(a.k.data[(head * m * dk)..<((head + 1) * m * dk)])  // [m, d_k]
        var rng = UInt64(7)
        func gaussian() -> Float {  // Box–Muller on SplitMix64
            func next() -> Double {
                rng &+= 0x9E37_79B9_7F4A_7C15
                var z = rng
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9_007_199_254_740_992
            }
            return Float((-2 * log(next())).squareRoot() * cos(2 * Double.pi * next()))
        }
        let std = 1 / Float(dk).squareRoot()
        let w1 = (0..<(da * dk)).map { _ in gaussian() * std }  // [d_a, d_k]
        let w2 = (0..<(da * dk)).map { _ in gaussian() * std }  // [d_a, d_k]
        let v = (0..<da).map { _ in gaussian() * std }          // [d_a]
        var dot = [Float](repeating: 0, count: n * m)           // [n, m]
        var additive = [Float](repeating: 0, count: n * m)      // [n, m]
        let scale = 1 / Float(dk).squareRoot()
        let dotTime = try Self.medianTime(repeats: repeats) { () throws(ModelError) in
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in dot.withUnsafeMutableBufferPointer { dp in
                BLAS.sgemm(transA: false, transB: true, m: n, n: m, k: dk, alpha: scale, a: qp.baseAddress!, lda: dk,
                           b: kp.baseAddress!, ldb: dk, c: dp.baseAddress!, ldc: m)
            }}}
        }
        let addTime = try Self.medianTime(repeats: repeats) { () throws(ModelError) in
            let pq = try math("additive scores") { () throws(TensorError) in
                try Ops.linear(Tensor(shape: [n, dk], data: q), weight: Tensor(shape: [da, dk], data: w1), bias: nil) }  // [n, d_a]
            let pk = try math("additive scores") { () throws(TensorError) in
                try Ops.linear(Tensor(shape: [m, dk], data: k), weight: Tensor(shape: [da, dk], data: w2), bias: nil) }  // [m, d_a]
            for i in 0..<n {
                for j in 0..<m {
                    var e: Float = 0
                    for c in 0..<da { e += v[c] * FastMath.tanh(pq.data[i * da + c] + pk.data[j * da + c]) }
                    additive[i * m + j] = e
                }
            }
        }
        return .measured([Measurement(label: "dot", n: n, seconds: dotTime), Measurement(label: "additive", n: n, seconds: addTime)],
                         tensors: ["dot": Tensor(uncheckedShape: [n, m], data: dot), "additive": Tensor(uncheckedShape: [n, m], data: additive)])
    }
}
