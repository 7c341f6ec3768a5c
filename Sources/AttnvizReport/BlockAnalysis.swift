import AttnvizTensor
import Foundation

/// Activation functions and their derivatives in Double (for curves and for the tests), by the
/// names config.json uses.
enum ActivationCurve: String, CaseIterable {
    case relu, gelu, geluTanh = "gelu_new", silu

    /// The curve a config's activation name means (swish = silu; gelu_new/gelu_fast/… tanh form).
    init?(config name: String) {
        switch name {
        case "relu": self = .relu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    var label: String {
        switch self {
        case .relu: return "ReLU"
        case .gelu: return "GELU (erf)"
        case .geluTanh: return "GELU (tanh approx.)"
        case .silu: return "Swish/SiLU"
        }
    }

    static let tanhC = (2 / Double.pi).squareRoot()

    func value(_ x: Double) -> Double {
        switch self {
        case .relu: return max(0, x)
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + tanh(Self.tanhC * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + exp(-x))
        }
    }

    /// d/dx (ReLU′(0) taken as 0).
    func derivative(_ x: Double) -> Double {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .gelu:
            // Φ(x) + x φ(x)
            return 0.5 * (1 + erf(x / 2.0.squareRoot())) + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        case .geluTanh:
            let u = Self.tanhC * (x + 0.044715 * x * x * x), t = tanh(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.tanhC * (1 + 3 * 0.044715 * x * x)
        case .silu:
            let s = 1 / (1 + exp(-x))
            return s * (1 + x * (1 - s))
        }
    }
}

/// Numbers of the block sections (FFN, normalisation, depth, attention direction).
enum BlockAnalysis {
    /// Counts of `values` in `bins` equal bins over lo..<hi (values outside are clamped into the
    /// end bins), as fractions of all values.
    static func histogram(_ values: [Float], lo: Double, hi: Double, bins: Int) -> [Double] {
        guard bins > 0, hi > lo, !values.isEmpty else { return [Double](repeating: 0, count: max(bins, 0)) }
        var counts = [Int](repeating: 0, count: bins)
        let scale = Float(Double(bins) / (hi - lo)), low = Float(lo), top = Float(bins - 1)
        for v in values where v.isFinite {
            // Clamped in Float before the conversion, so a far outlier cannot overflow Int.
            counts[Int(min(top, max(0, ((v - low) * scale).rounded(.down))))] += 1
        }
        let total = Double(counts.reduce(0, +))
        return counts.map { total > 0 ? Double($0) / total : 0 }
    }

    /// The q-quantile (0…1) of `sorted` (nearest rank).
    static func quantile(_ sorted: [Float], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return Double(sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count - 1) * q).rounded())))])
    }

    /// Fraction of the units of a [n, d_ff] FFN that are inactive: for ReLU an output exactly 0;
    /// for the smooth activations a pre-activation below `threshold` (the flat negative tail).
    static func inactiveFraction(pre: Tensor, act: Tensor, relu: Bool, threshold: Float = -2) -> Double {
        let values = relu ? act.data : pre.data
        guard !values.isEmpty else { return 0 }
        var count = 0
        if relu { for v in values where v == 0 { count += 1 } } else { for v in values where v < threshold { count += 1 } }
        return Double(count) / Double(values.count)
    }

    /// Root mean square of all elements.
    static func rms(_ x: Tensor) -> Double {
        guard x.count > 0 else { return 0 }
        var s = 0.0
        for v in x.data { s += Double(v) * Double(v) }
        return (s / Double(x.count)).squareRoot()
    }

    /// Mean cosine similarity over all pairs of distinct rows of x [n, d] (1 when n < 2):
    /// with u_i = x_i/‖x_i‖, Σ_{i≠j} u_i·u_j = ‖Σ u_i‖² − n.
    static func meanPairwiseCosine(_ x: Tensor) -> Double {
        let n = x.rowCount, d = x.rowWidth
        guard n > 1 else { return 1 }
        var sum = [Double](repeating: 0, count: d)
        var rows = 0.0
        for i in 0..<n {
            let row = x.row(i)
            let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            guard norm > 0 else { continue }
            for (k, v) in row.enumerated() { sum[k] += Double(v) / norm }
            rows += 1
        }
        guard rows > 1 else { return 1 }
        let total = sum.reduce(0) { $0 + $1 * $1 }
        return (total - rows) / (rows * (rows - 1))
    }

    /// Per layer of weights [heads, n, n]: the attention of the `queries` rows (mean over heads and
    /// queries) split into keys to the left, the query itself, and keys to the right, counting only
    /// the keys in `keys` and renormalising over them (so the three sum to 1); plus the share of
    /// the weight the excluded keys had before renormalising.
    static func directionShares(_ w: Tensor, queries: [Int], keys: Set<Int>) -> (left: Double, selfShare: Double, right: Double, excluded: Double) {
        let h = w.shape[0], n = w.shape[1], m = w.shape[2]
        var left = 0.0, me = 0.0, right = 0.0, excluded = 0.0, rows = 0.0
        for head in 0..<h {
            for i in queries where i < n {
                var l = 0.0, s = 0.0, r = 0.0, all = 0.0
                for j in 0..<m {
                    let p = Double(w.data[(head * n + i) * m + j])
                    all += p
                    guard keys.contains(j) else { continue }
                    if j < i { l += p } else if j == i { s += p } else { r += p }
                }
                let kept = l + s + r
                guard kept > 0 else { continue }
                left += l / kept; me += s / kept; right += r / kept
                excluded += all > 0 ? (all - kept) / all : 0
                rows += 1
            }
        }
        guard rows > 0 else { return (0, 0, 0, 0) }
        return (left / rows, me / rows, right / rows, excluded / rows)
    }

    /// Per row of a and b [n, d]: max |a − b| over the row.
    static func rowMaxAbsDiff(_ a: Tensor, _ b: Tensor) -> [Double] {
        let n = min(a.rowCount, b.rowCount), d = min(a.rowWidth, b.rowWidth)
        return (0..<n).map { i in
            var m: Float = 0
            for k in 0..<d { m = max(m, abs(a.data[i * a.rowWidth + k] - b.data[i * b.rowWidth + k])) }
            return Double(m)
        }
    }

    /// Max |a − b| over all elements (tensors of one shape; the common prefix otherwise).
    static func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Double {
        var m: Float = 0
        for (x, y) in zip(a.data, b.data) { m = max(m, abs(x - y)) }
        return Double(m)
    }
}
