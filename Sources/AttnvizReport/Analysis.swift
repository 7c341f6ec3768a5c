import AttnvizTensor
import Foundation

/// Numbers the sections compute from a trace. Pure functions over plain tensors.
enum Analysis {
    /// −Σ p ln p of one row (0·ln 0 = 0).
    static func entropy<C: Collection>(_ row: C) -> Double where C.Element == Float {
        // Arrays and slices: the vectorized Σ p log₂ p, times ln 2 (−0 never: 0 − 0 is +0).
        if let h = row.withContiguousStorageIfAvailable({ buf -> Double in
            guard let base = buf.baseAddress, !buf.isEmpty else { return 0 }
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: buf.count)
            defer { scratch.deallocate() }
            return 0 - sumXlog2x(base, nil, count: buf.count, scratch: scratch) * 0.69314718055994531
        }) { return h }
        var h = 0.0
        for p in row where p > 0 { h -= Double(p) * log(Double(p)) }
        return h
    }

    /// Per-head mean row entropy of weights [heads, n, n] (rows of real queries only).
    static func meanEntropy(_ w: Tensor, head: Int, rows: Int? = nil) -> Double {
        let n = w.shape[1], m = w.shape[2], count = rows ?? n
        var total = 0.0
        for i in 0..<count { total += entropy(w.data[((head * n + i) * m)..<((head * n + i + 1) * m)]) }
        return total / Double(max(count, 1))
    }

    /// Mean over queries of Σ_j p_ij |i − j|: how far from the diagonal a head looks.
    static func meanDistance(_ w: Tensor, head: Int) -> Double {
        let n = w.shape[1], m = w.shape[2]
        var total = 0.0
        for i in 0..<n { for j in 0..<m { total += Double(w.data[(head * n + i) * m + j]) * Double(abs(i - j)) } }
        return total / Double(max(n, 1))
    }

    /// Share of a head's weight (averaged over queries) that lands on keys chosen by `key(i)`.
    static func share(_ w: Tensor, head: Int, queries: Range<Int>? = nil, key: (Int) -> Int?) -> Double {
        let n = w.shape[1], m = w.shape[2]
        let qs = queries ?? 0..<n
        var total = 0.0, count = 0
        for i in qs {
            guard let j = key(i), j >= 0, j < m else { continue }
            total += Double(w.data[(head * n + i) * m + j])
            count += 1
        }
        return count == 0 ? 0 : total / Double(count)
    }

    /// log₂ x for positive, normal x, to a few ulp, in plain arithmetic the compiler vectorizes
    /// (libm's log2 is a call per element): x = 2^e·m with m in [√½, √2), ln m = 2·atanh(t),
    /// t = (m − 1)/(m + 1), |t| ≤ 0.172, summed to t²³ (the next term is below 2·10⁻²⁰).
    @inline(__always)
    static func log2Positive(_ x: Double) -> Double {
        let bits = x.bitPattern
        var e = Double(Int64(bitPattern: bits >> 52) - 1023)
        var m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)
        let high = m > 1.4142135623730951
        m = high ? m * 0.5 : m
        e = high ? e + 1 : e
        let t = (m - 1) / (m + 1), t2 = t * t
        var s = 1.0 / 23
        s = s * t2 + 1.0 / 21; s = s * t2 + 1.0 / 19; s = s * t2 + 1.0 / 17; s = s * t2 + 1.0 / 15
        s = s * t2 + 1.0 / 13; s = s * t2 + 1.0 / 11; s = s * t2 + 1.0 / 9; s = s * t2 + 1.0 / 7
        s = s * t2 + 1.0 / 5; s = s * t2 + 1.0 / 3; s = s * t2 + 1
        return e + 2 * t * s * 1.4426950408889634
    }

    /// x·log₂ x, 0 for x ≤ 0.
    @inline(__always)
    static func xlog2x(_ x: Double) -> Double { x > 0 ? x * log2Positive(x) : 0 }

    /// Σ x log₂ x over x = p[j] (q nil) or x = (p[j] + q[j]) / 2. The terms go through `scratch`
    /// first: a loop with no running sum vectorizes (a floating-point sum would have to keep its
    /// order), then four partial sums add them.
    @inline(__always)
    static func sumXlog2x(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>?, count m: Int,
                          scratch: UnsafeMutablePointer<Double>) -> Double {
        if let q {
            for j in 0..<m { scratch[j] = xlog2x((Double(p[j]) + Double(q[j])) * 0.5) }
        } else {
            for j in 0..<m { scratch[j] = xlog2x(Double(p[j])) }
        }
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, j = 0
        while j + 4 <= m { s0 += scratch[j]; s1 += scratch[j + 1]; s2 += scratch[j + 2]; s3 += scratch[j + 3]; j += 4 }
        while j < m { s0 += scratch[j]; j += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// Mean Jensen–Shannon divergence (bits, 0…1) between every pair of the given heads' rows:
    /// JS = ½Σp log p + ½Σq log q − Σm log m, with m = (p+q)/2 — one log per element and pair,
    /// through `log2Positive` over raw pointers (vectorized: at 256 tokens the libm version
    /// made attn-multihead the slowest section, 278 ms).
    /// `rowStride` > 1 averages over every rowStride-th query row only (0, s, 2s, …): long inputs.
    /// w: [heads, n, n] → [heads.count, heads.count]
    static func jsDivergences(_ w: Tensor, heads: [Int], rowStride: Int = 1) -> [Float] {
        let n = w.shape[1], m = w.shape[2], k = heads.count
        let rows = Array(stride(from: 0, to: n, by: max(rowStride, 1)))
        var out = [Float](repeating: 0, count: k * k)
        let pairs = (0..<k).flatMap { a in ((a + 1)..<k).map { (a, $0) } }
        var values = [Double](repeating: 0, count: pairs.count)
        w.data.withUnsafeBufferPointer { wp in
            let base = wp.baseAddress!
            // Σ_j p log p per head and row.
            var own = [Double](repeating: 0, count: k * n)
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: max(m, 1))
            defer { scratch.deallocate() }
            for (a, h) in heads.enumerated() {
                for i in rows { own[a * n + i] = sumXlog2x(base + (h * n + i) * m, nil, count: m, scratch: scratch) }
            }
            values.withUnsafeMutableBufferPointer { buf in
                let v = SharedPointer(buf.baseAddress!)
                Parallel.chunks(pairs.count) { range in
                    let mine = UnsafeMutablePointer<Double>.allocate(capacity: max(m, 1))
                    defer { mine.deallocate() }
                    for p in range {
                        let (a, b) = pairs[p]
                        var total = 0.0
                        for i in rows {
                            let mix = sumXlog2x(base + (heads[a] * n + i) * m, base + (heads[b] * n + i) * m, count: m, scratch: mine)
                            total += 0.5 * own[a * n + i] + 0.5 * own[b * n + i] - mix
                        }
                        v.base[p] = max(0, total / Double(max(rows.count, 1)))
                    }
                }
            }
        }
        for (p, (a, b)) in pairs.enumerated() { out[a * k + b] = Float(values[p]); out[b * k + a] = Float(values[p]) }
        return out
    }

    /// Head-averaged weights of a layer. [heads, n, n] → [n, n]
    static func headMean(_ w: Tensor) -> [Double] {
        let h = w.shape[0], nn = w.shape[1] * w.shape[2]
        var out = [Double](repeating: 0, count: nn)
        for head in 0..<h { for k in 0..<nn { out[k] += Double(w.data[head * nn + k]) / Double(h) } }
        return out
    }

    /// Attention rollout (Abnar & Zuidema): R = Â_L ⋯ Â_1 with Â = ½·mean_h A + ½·I, rows renormalised.
    /// layers: each [heads, n, n] → [n, n]
    static func rollout(_ layers: [Tensor]) -> [Double] {
        guard let first = layers.first else { return [] }
        let n = first.shape[1]
        guard n > 0 else { return [] }
        var r = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        for w in layers {
            var a = headMean(w)
            for i in 0..<n {
                a[i * n + i] += 1
                let s = a[(i * n)..<((i + 1) * n)].reduce(0, +)
                for j in 0..<n { a[i * n + j] /= s }
            }
            // R ← Â·R in one dgemm (the triple loop took 64 ms at 256 tokens).
            var next = [Double](repeating: 0, count: n * n)
            a.withUnsafeBufferPointer { ap in r.withUnsafeBufferPointer { rp in next.withUnsafeMutableBufferPointer { np in
                BLAS.dgemm(transA: false, transB: false, m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: rp.baseAddress!, ldb: n,
                           c: np.baseAddress!, ldc: n)
            } } }
            r = next
        }
        return r
    }

    /// Cosine similarity between rows of x [n, d] → [n, n].
    static func cosineMatrix(_ x: Tensor) -> [Float] {
        let n = x.shape[0], d = x.shape[1]
        guard n > 0, d > 0 else { return [] }
        // Rows scaled to unit length (in double), then one product X̂·X̂ᵀ.
        var unit = [Float](repeating: 0, count: n * d)  // [n, d]
        for i in 0..<n {
            let norm = (0..<d).reduce(0.0) { $0 + Double(x.data[i * d + $1]) * Double(x.data[i * d + $1]) }.squareRoot()
            let inv = norm > 1e-12 ? 1 / norm : 0
            for k in 0..<d { unit[i * d + k] = Float(Double(x.data[i * d + k]) * inv) }
        }
        var out = [Float](repeating: 0, count: n * n)  // [n, n]
        unit.withUnsafeBufferPointer { u in
            out.withUnsafeMutableBufferPointer { o in
                BLAS.sgemm(transA: false, transB: true, m: n, n: n, k: d, a: u.baseAddress!, lda: d, b: u.baseAddress!, ldb: d,
                           c: o.baseAddress!, ldc: n)
            }
        }
        return out
    }

    /// The original Transformer's sinusoidal table, interleaved: PE[p, 2i] = sin(p / 10000^(2i/d)),
    /// PE[p, 2i+1] = cos(…). [n, d]
    static func sinusoidal(positions n: Int, dims d: Int) -> Tensor {
        var out = [Float](repeating: 0, count: n * d)
        for p in 0..<n {
            for i in stride(from: 0, to: d, by: 2) {
                let angle = Double(p) / pow(10000, Double(i) / Double(d))
                out[p * d + i] = Float(sin(angle))
                if i + 1 < d { out[p * d + i + 1] = Float(cos(angle)) }
            }
        }
        return Tensor(uncheckedShape: [n, d], data: out)
    }

    /// Mean and population standard deviation of each row of x [n, d].
    static func rowStats(_ x: Tensor) -> [(mean: Double, std: Double)] {
        (0..<x.rowCount).map { r in
            let row = x.row(r).map(Double.init)
            let mean = row.reduce(0, +) / Double(row.count)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(row.count)
            return (mean, variance.squareRoot())
        }
    }

    static func rowNorms(_ x: Tensor) -> [Double] {
        (0..<x.rowCount).map { r in x.row(r).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
    }

    static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

    /// Softmax of a row of Doubles (max subtracted).
    static func softmax(_ row: [Double]) -> [Double] {
        let m = row.max() ?? 0
        let e = row.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// `softmax` of `row` in place; `max` is row.max() (the same arithmetic, in the same order).
    static func softmaxInPlace(_ row: inout [Double], max m: Double) {
        var s = 0.0
        for j in row.indices { row[j] = exp(row[j] - m) }
        for x in row { s += x }
        for j in row.indices { row[j] /= s }
    }

    static func maxOf(_ row: [Double]) -> Double { row.max() ?? 0 }

    /// Frobenius norm of the softmax Jacobian diag(p) − p pᵀ, in closed form:
    /// ‖J‖² = Σp² − 2Σp³ + (Σp²)² (expand the squares of δ_ij p_i − p_i p_j).
    static func softmaxJacobianNorm(_ p: [Double]) -> Double {
        var s2 = 0.0, s3 = 0.0
        for x in p { s2 += x * x; s3 += x * x * x }
        return max(0, s2 - 2 * s3 + s2 * s2).squareRoot()
    }

    static func percent(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }
    static func fixed(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }
}

/// A seeded generator for the demonstrations that need random vectors (reproducible reports).
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Two independent standard normals from one Box–Muller step (half the logs of two calls).
    mutating func gaussianPair() -> (Double, Double) {
        let u1 = (Double(next() >> 11) + 1) / Double(1 << 53), u2 = Double(next() >> 11) / Double(1 << 53)
        let r = (-2 * log(u1)).squareRoot(), a = 2 * .pi * u2
        return (r * cos(a), r * sin(a))
    }

    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = (Double(next() >> 11) + 1) / Double(1 << 53), u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
