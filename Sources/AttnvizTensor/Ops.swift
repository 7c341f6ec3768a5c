import Foundation

/// The numeric building blocks of the forward passes. Shapes are checked here once, so the
/// model code above them can stay straight-line.
public enum Ops {
    /// y = x · Wᵀ + b for a PyTorch `nn.Linear` weight stored [out, in].
    /// x: [n, in], weight: [out, in], bias: [out] → [n, out]
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws(TensorError) -> Tensor {
        try matmul(x, weight, bias: bias, weightIsOutIn: true)
    }

    /// y = x · W + b for a GPT-2 `Conv1D` weight stored [in, out].
    /// x: [n, in], weight: [in, out], bias: [out] → [n, out]
    public static func conv1D(_ x: Tensor, weight: Tensor, bias: Tensor?) throws(TensorError) -> Tensor {
        try matmul(x, weight, bias: bias, weightIsOutIn: false)
    }

    static func matmul(_ x: Tensor, _ w: Tensor, bias: Tensor?, weightIsOutIn: Bool) throws(TensorError) -> Tensor {
        guard x.rank == 2, w.rank == 2 else {
            throw .invalidArgument(operation: "linear", detail: "expects 2-D input and weight, got \(x.shape) and \(w.shape)")
        }
        let n = x.shape[0], inDim = x.shape[1]
        let outDim = weightIsOutIn ? w.shape[0] : w.shape[1]
        let wIn = weightIsOutIn ? w.shape[1] : w.shape[0]
        guard wIn == inDim else {
            throw .shapeMismatch(operation: "linear", expected: [inDim], found: [wIn])
        }
        if let bias, bias.shape != [outDim] {
            throw .shapeMismatch(operation: "linear bias", expected: [outDim], found: bias.shape)
        }
        var out = [Float](repeating: 0, count: n * outDim)  // [n, out]
        if let bias {
            bias.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for r in 0..<n { (o.baseAddress! + r * outDim).update(from: b.baseAddress!, count: outDim) }
                }
            }
        }
        if n > 0 {
            x.data.withUnsafeBufferPointer { xp in
                w.data.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer { op in
                        BLAS.sgemm(
                            transA: false, transB: weightIsOutIn, m: n, n: outDim, k: inDim,
                            a: xp.baseAddress!, lda: inDim, b: wp.baseAddress!, ldb: weightIsOutIn ? inDim : outDim,
                            beta: bias == nil ? 0 : 1, c: op.baseAddress!, ldc: outDim)
                    }
                }
            }
        }
        return Tensor(uncheckedShape: [n, outDim], data: out)
    }

    /// Row-wise softmax in place over rows of `width`. Subtracts the row max; a row whose
    /// entries are all −∞ (fully masked) becomes all zeros instead of NaN.
    public static func softmaxRows(_ values: inout [Float], width: Int) {
        guard width > 0 else { return }
        values.withUnsafeMutableBufferPointer { buf in
            let rows = buf.count / width
            for r in 0..<rows {
                let row = UnsafeMutableBufferPointer(rebasing: buf[(r * width)..<((r + 1) * width)])
                var m = -Float.infinity
                for v in row where v > m { m = v }
                if m == -.infinity {
                    for i in row.indices { row[i] = 0 }
                    continue
                }
                var sum: Float = 0
                for i in row.indices {
                    let e = expf(row[i] - m)
                    row[i] = e
                    sum += e
                }
                let inv = 1 / sum
                for i in row.indices { row[i] *= inv }
            }
        }
    }

    /// LayerNorm over the last axis, population variance, as PyTorch.
    /// x: [n, d], gamma/beta: [d] → [n, d]
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) throws(TensorError) -> Tensor {
        let d = x.rowWidth
        guard gamma.shape == [d], beta.shape == [d] else {
            throw .shapeMismatch(operation: "layerNorm", expected: [d], found: gamma.shape)
        }
        var out = x.data
        for r in 0..<x.rowCount {
            let base = r * d
            var mean: Double = 0
            for i in 0..<d { mean += Double(x.data[base + i]) }
            mean /= Double(d)
            var variance: Double = 0
            for i in 0..<d {
                let c = Double(x.data[base + i]) - mean
                variance += c * c
            }
            variance /= Double(d)
            let inv = Float(1 / (variance + Double(eps)).squareRoot())
            let m = Float(mean)
            for i in 0..<d { out[base + i] = (x.data[base + i] - m) * inv * gamma.data[i] + beta.data[i] }
        }
        return Tensor(uncheckedShape: x.shape, data: out)
    }

    public static func add(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
        guard a.shape == b.shape else { throw .shapeMismatch(operation: "add", expected: a.shape, found: b.shape) }
        var out = a.data
        for i in out.indices { out[i] += b.data[i] }
        return Tensor(uncheckedShape: a.shape, data: out)
    }

    public static func scaled(_ a: Tensor, by s: Float) -> Tensor {
        Tensor(uncheckedShape: a.shape, data: a.data.map { $0 * s })
    }

    /// Embedding lookup: table [vocab, d], ids [n] → [n, d].
    public static func gather(_ table: Tensor, rows ids: [Int]) throws(TensorError) -> Tensor {
        guard table.rank == 2 else { throw .invalidArgument(operation: "gather", detail: "table must be 2-D, got \(table.shape)") }
        let d = table.shape[1]
        var out = [Float]()
        out.reserveCapacity(ids.count * d)
        for id in ids {
            guard id >= 0, id < table.shape[0] else {
                throw .invalidArgument(operation: "gather", detail: "id \(id) outside 0..<\(table.shape[0])")
            }
            out.append(contentsOf: table.data[(id * d)..<((id + 1) * d)])
        }
        return Tensor(uncheckedShape: [ids.count, d], data: out)
    }
}

/// Element-wise activation functions, named as HuggingFace configs name them.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case gelu            // exact, erf-based
    case geluNew = "gelu_new"  // tanh approximation (GPT-2)
    case relu
    case silu            // = swish
    case swish

    public func apply(_ x: Float) -> Float {
        switch self {
        case .gelu: return 0.5 * x * (1 + erff(x * Float(0.5).squareRoot()))
        case .geluNew:
            let c: Float = (2 / Float.pi).squareRoot()
            return 0.5 * x * (1 + tanhf(c * (x + 0.044715 * x * x * x)))
        case .relu: return max(0, x)
        case .silu, .swish: return x / (1 + expf(-x))
        }
    }

    public func apply(_ t: Tensor) -> Tensor {
        var out = t.data
        for i in out.indices { out[i] = apply(out[i]) }
        return Tensor(uncheckedShape: t.shape, data: out)
    }
}
