import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// Comparisons between the main run and a changed run of the same tokens (restricted keys, tied
/// Q/K, a [MASK] token), and the operation counts of the attention variants. Pure functions.
enum VariantAnalysis {
    /// ‖b − a‖_F / ‖a‖_F over two tensors of one shape (0 when a is zero or the shapes differ).
    static func relativeChange(_ a: Tensor, _ b: Tensor) -> Double {
        guard a.shape == b.shape else { return 0 }
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a.data, b.data) {
            let dx = Double(y) - Double(x)
            diff += dx * dx
            norm += Double(x) * Double(x)
        }
        return norm > 0 ? (diff / norm).squareRoot() : 0
    }

    /// Cosine of two vectors (0 when either is zero).
    static func cosine<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double where A.Element == Float, B.Element == Float {
        EmbeddingAnalysis.cosine(a, b)
    }

    /// Row i of x [n, d] (empty when out of range).
    static func row(_ x: Tensor, _ i: Int) -> ArraySlice<Float> {
        guard x.shape.count == 2, i >= 0, i < x.shape[0] else { return [] }
        let d = x.shape[1]
        return x.data[(i * d)..<((i + 1) * d)]
    }

    /// Mean of the first `rows` rows of x [n, d] (mean pooling). [d]
    static func meanRow(_ x: Tensor, rows: Int? = nil) -> [Float] {
        guard x.shape.count == 2 else { return [] }
        let n = min(rows ?? x.shape[0], x.shape[0]), d = x.shape[1]
        var out = [Double](repeating: 0, count: d)
        for i in 0..<n { for c in 0..<d { out[c] += Double(x.data[i * d + c]) } }
        return out.map { Float($0 / Double(max(n, 1))) }
    }

    /// One head's [n, m] block of a [heads, n, m] tensor.
    static func head(_ t: Tensor, _ h: Int) -> [Float] {
        guard t.shape.count == 3, h >= 0, h < t.shape[0] else { return [] }
        let nm = t.shape[1] * t.shape[2]
        return Array(t.data[(h * nm)..<((h + 1) * nm)])
    }

    /// Largest finite value among the tensors' values (for one colour range across maps).
    static func maxFinite(_ arrays: [[Float]]) -> Double {
        var m = -Double.infinity
        for a in arrays { for v in a where v.isFinite { m = max(m, Double(v)) } }
        return m.isFinite ? m : 1
    }

    /// Largest finite |value|.
    static func maxAbsFinite(_ arrays: [[Float]]) -> Double {
        var m = 0.0
        for a in arrays { for v in a where v.isFinite { m = max(m, abs(Double(v))) } }
        return m
    }

    /// Which keys each of n queries may see: the pattern (nil: all) combined with a causal mask. [n, n]
    static func allowed(n: Int, pattern: KeyPattern?, causal: Bool) -> [Bool] {
        (0..<(n * n)).map { c in
            let i = c / n, j = c % n
            if causal && j > i { return false }
            return pattern?.allows(query: i, key: j) ?? true
        }
    }

    /// Mean over layers, heads and queries of the weight the run's attention puts on the keys
    /// `allowed` [n, n] keeps.
    static func weightInside(_ trace: Trace, allowed: [Bool]) -> Double {
        var total = 0.0, rows = 0
        for layer in trace.layers {
            guard let w = layer.selfAttention?.weights, w.shape.count == 3, w.shape[1] * w.shape[2] == allowed.count else { continue }
            let h = w.shape[0], n = w.shape[1], m = w.shape[2]
            for head in 0..<h {
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<m where allowed[i * m + j] { s += Double(w.data[(head * n + i) * m + j]) }
                    total += s; rows += 1
                }
            }
        }
        return rows == 0 ? 0 : total / Double(rows)
    }

    /// Unmasked scaled scores q·kᵀ/√d_k of every head from the recorded q [h, n, d_k], k [h, m, d_k]. [h, n, m]
    static func rawScores(_ a: AttentionRecord) -> [Float] {
        guard a.q.shape.count == 3, a.k.shape.count == 3, a.q.shape[0] == a.k.shape[0], a.q.shape[2] == a.k.shape[2] else { return [] }
        let h = a.q.shape[0], n = a.q.shape[1], m = a.k.shape[1], dk = a.q.shape[2]
        let scale = 1 / Double(max(dk, 1)).squareRoot()
        var out = [Float](repeating: 0, count: h * n * m)
        a.q.data.withUnsafeBufferPointer { q in
            a.k.data.withUnsafeBufferPointer { k in
                for head in 0..<h {
                    for i in 0..<n {
                        let qi = (head * n + i) * dk
                        for j in 0..<m {
                            let kj = (head * m + j) * dk
                            var dot: Float = 0
                            for c in 0..<dk { dot += q[qi + c] * k[kj + c] }
                            out[(head * n + i) * m + j] = Float(Double(dot) * scale)
                        }
                    }
                }
            }
        }
        return out
    }

    /// max |S_ij − S_ji| over every head of square score blocks S [h, n, n], and max |S|.
    static func asymmetry(_ scores: [Float], heads: Int, n: Int) -> (maxDiff: Double, maxAbs: Double) {
        guard heads * n * n == scores.count else { return (0, 0) }
        var d = 0.0, a = 0.0
        for head in 0..<heads {
            let b = head * n * n
            for i in 0..<n {
                for j in 0..<n {
                    a = max(a, abs(Double(scores[b + i * n + j])))
                    if j > i { d = max(d, abs(Double(scores[b + i * n + j]) - Double(scores[b + j * n + i]))) }
                }
            }
        }
        return (d, a)
    }

    /// Mean over heads and queries of the weight each query keeps on itself, w_ii. w: [h, n, n]
    static func diagonalShare(_ w: Tensor) -> Double {
        guard w.shape.count == 3, w.shape[1] == w.shape[2] else { return 0 }
        let h = w.shape[0], n = w.shape[1]
        var total = 0.0
        for head in 0..<h { for i in 0..<n { total += Double(w.data[(head * n + i) * n + i]) } }
        return h * n == 0 ? 0 : total / Double(h * n)
    }

    /// Row-wise softmax of scores [n, m]; −∞ cells get weight 0 (and stay −∞ in `masked`).
    static func softmaxRows(_ scores: [Float], n: Int, m: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * m)
        for i in 0..<n {
            let row = scores[(i * m)..<((i + 1) * m)]
            let top = row.filter(\.isFinite).max() ?? 0
            var sum = 0.0
            for j in 0..<m where row[i * m + j].isFinite { sum += exp(Double(row[i * m + j] - top)) }
            for j in 0..<m where row[i * m + j].isFinite && sum > 0 { out[i * m + j] = Float(exp(Double(row[i * m + j] - top)) / sum) }
        }
        return out
    }

    // MARK: Operation counts (a multiply-add counts as 2 FLOPs)

    /// Dot-product scores of n queries with m keys, width d_k: n·m·d_k multiply-adds.
    static func dotProductFlops(n: Int, m: Int, dk: Int) -> Int { 2 * n * m * dk }

    /// Additive (Bahdanau) scores vᵀ tanh(W₁q_i + W₂k_j), W₁, W₂ [d_a, d_k]: the two projections
    /// (2·n·d_k·d_a and 2·m·d_k·d_a), and per pair and unit one add, one tanh and one multiply-add.
    static func additiveFlops(n: Int, m: Int, dk: Int, da: Int) -> (projections: Int, pairwise: Int, tanh: Int) {
        (2 * n * dk * da + 2 * m * dk * da, 3 * n * m * da, n * m * da)
    }
}

extension Figures {
    /// One head's weights from several runs on one colour range (0 … the largest weight of all).
    static func sharedWeightRange(_ maps: inout [Heatmap]) {
        let top = max(VariantAnalysis.maxFinite(maps.map(\.values)), 1e-6)
        for i in maps.indices { maps[i].range = ColorRange(0, top) }
    }
}
