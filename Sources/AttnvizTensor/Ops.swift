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
        guard n > 0, outDim > 0 else { return Tensor.zeros([n, outDim]) }
        // Every element is written below (bias copy, then sgemm with beta 1; or beta 0), so the
        // buffer is not zero-filled first.
        var out = [Float](unsafeUninitializedCapacity: n * outDim) { _, count in count = n * outDim }  // [n, out]
        let layout: WeightLayout = weightIsOutIn ? .outIn : .inOut
        x.data.withUnsafeBufferPointer { xp in
        w.data.withUnsafeBufferPointer { wp in
        out.withUnsafeMutableBufferPointer { op in
        withBias(bias) { b in
            let o = SharedPointer(op.baseAddress!)
            let view = DenseView(weight: wp.baseAddress!, bias: b, layout: layout, inDim: inDim, outDim: outDim)
            // Output columns split across cores (each part sees every row: a better sgemm
            // shape than splitting rows); each part is one single-threaded sgemm.
            Parallel.chunks(outDim, minChunk: 64) { cols in
                view.columns(cols, x: xp.baseAddress!, ldx: inDim, rows: n, into: o.base + cols.lowerBound, ldc: outDim)
            }
        }}}}
        return Tensor(uncheckedShape: [n, outDim], data: out)
    }

    /// Row-wise softmax in place over rows of `width`. Subtracts the row max; a row whose
    /// entries are all −∞ (fully masked) becomes all zeros instead of NaN.
    public static func softmaxRows(_ values: inout [Float], width: Int) {
        guard width > 0 else { return }
        values.withUnsafeMutableBufferPointer { buf in
            softmaxRows(buf.baseAddress!, rows: buf.count / width, width: width)
        }
    }

    /// Softmax of `rows` rows of `width` at `p`, in place.
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = p + r * width
            let m = Reduce.max(row, width)
            if m == -.infinity {
                row.update(repeating: 0, count: width)
                continue
            }
            for i in 0..<width { row[i] = FastMath.exp(row[i] - m) }  // vectorizes: no reduction here
            let inv = 1 / Reduce.sum(row, width)
            for i in 0..<width { row[i] *= inv }
        }
    }

    /// LayerNorm over the last axis, population variance, as PyTorch.
    /// x: [n, d], gamma/beta: [d] → [n, d]
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) throws(TensorError) -> Tensor {
        try normalize(x, plus: nil, gamma: gamma, beta: beta, eps: eps).out
    }

    /// The post-LayerNorm residual step: sum = a + b, out = LayerNorm(sum), in one pass.
    /// a, b: [n, d] → (sum [n, d], out [n, d])
    public static func addLayerNorm(_ a: Tensor, _ b: Tensor, gamma: Tensor, beta: Tensor, eps: Float) throws(TensorError) -> (sum: Tensor, out: Tensor) {
        guard a.shape == b.shape else { throw .shapeMismatch(operation: "add", expected: a.shape, found: b.shape) }
        return try normalize(a, plus: b, gamma: gamma, beta: beta, eps: eps)
    }

    private static func normalize(_ x: Tensor, plus y: Tensor?, gamma: Tensor, beta: Tensor, eps: Float) throws(TensorError) -> (sum: Tensor, out: Tensor) {
        let d = x.rowWidth, rows = x.rowCount
        guard gamma.shape == [d], beta.shape == [d] else {
            throw .shapeMismatch(operation: "layerNorm", expected: [d], found: gamma.shape)
        }
        guard x.count > 0 else { return (x, x) }
        // sum = x + y when there is a y (else x itself); every element of both buffers is written.
        var sum = y == nil ? [] : [Float](unsafeUninitializedCapacity: x.count) { _, c in c = x.count }
        var out = [Float](unsafeUninitializedCapacity: x.count) { _, c in c = x.count }
        x.data.withUnsafeBufferPointer { xb in
        (y?.data ?? []).withUnsafeBufferPointer { yb in
        gamma.data.withUnsafeBufferPointer { gb in
        beta.data.withUnsafeBufferPointer { bb in
        sum.withUnsafeMutableBufferPointer { sb in
        out.withUnsafeMutableBufferPointer { ob in
            // An empty array's buffer may still have an address: go by `y`, not by the pointers.
            let s = y == nil ? nil : sb.baseAddress.map(SharedPointer.init), o = SharedPointer(ob.baseAddress!)
            let xp = xb.baseAddress!, yp = y == nil ? nil : yb.baseAddress, g = gb.baseAddress!, be = bb.baseAddress!
            // Cheap per row: worth a second core only for long inputs.
            Parallel.chunks(rows, minChunk: 256) { range in
                for r in range {
                    let dst = o.base + r * d
                    let row: UnsafePointer<Float>
                    if let yp, let s {
                        let xr = xp + r * d, yr = yp + r * d, sr = s.base + r * d
                        for i in 0..<d { sr[i] = xr[i] + yr[i] }
                        row = UnsafePointer(sr)
                    } else {
                        row = xp + r * d
                    }
                    let mean = Reduce.sum(row, d) / Float(d)
                    for i in 0..<d { dst[i] = row[i] - mean }  // centred, then its square sum
                    let variance = Reduce.sumOfSquares(dst, d) / Float(d)
                    let inv = 1 / (variance + eps).squareRoot()
                    for i in 0..<d { dst[i] = dst[i] * inv * g[i] + be[i] }
                }
            }
        }}}}}}
        return (y == nil ? x : Tensor(uncheckedShape: x.shape, data: sum), Tensor(uncheckedShape: x.shape, data: out))
    }

    public static func add(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
        guard a.shape == b.shape else { throw .shapeMismatch(operation: "add", expected: a.shape, found: b.shape) }
        let count = a.count
        let out = [Float](unsafeUninitializedCapacity: count) { o, c in
            a.data.withUnsafeBufferPointer { ap in
                b.data.withUnsafeBufferPointer { bp in
                    for i in 0..<count { o[i] = ap[i] + bp[i] }
                }
            }
            c = count
        }
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

    /// Exact definitions (libm), for plots and tests.
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

    /// The forward pass's version: vectorizable approximations (error ≤ 2e-7 relative to the
    /// activation's scale), split across cores.
    public func apply(_ t: Tensor) -> Tensor {
        let count = t.count
        var out = [Float](unsafeUninitializedCapacity: count) { _, c in c = count }
        t.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                let o = SharedPointer(d)
                Parallel.chunks(count, minChunk: 8192) { range in
                    apply(s + range.lowerBound, into: o.base + range.lowerBound, count: range.count)
                }
            }
        }
        return Tensor(uncheckedShape: t.shape, data: out)
    }

    /// dst[i] = f(src[i]) for `count` values (may be the same buffer).
    public func apply(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            let s = Float(0.5).squareRoot()
            for i in 0..<count { let x = src[i]; dst[i] = 0.5 * x * (1 + FastMath.erf(x * s)) }
        case .geluNew:
            let c: Float = (2 / Float.pi).squareRoot()
            for i in 0..<count { let x = src[i]; dst[i] = 0.5 * x * (1 + FastMath.tanh(c * (x + 0.044715 * x * x * x))) }
        case .relu:
            for i in 0..<count { dst[i] = max(0, src[i]) }
        case .silu, .swish:
            for i in 0..<count { let x = src[i]; dst[i] = x / (1 + FastMath.exp(-x)) }
        }
    }
}

/// Reductions with explicit 16-wide accumulators (a plain loop stays scalar under strict FP order).
public enum Reduce {
    public static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= count {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var total = acc.sum()
        while i < count { total += p[i]; i += 1 }
        return total
    }

    public static func sumOfSquares(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += v * v
            i += 16
        }
        var total = acc.sum()
        while i < count { total += p[i] * p[i]; i += 1 }
        return total
    }

    public static func max(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc.replace(with: v, where: v .> acc)  // compare + blend; pointwiseMax is per-lane
            i += 16
        }
        var m = acc.max()
        while i < count { m = Swift.max(m, p[i]); i += 1 }
        return m
    }
}
