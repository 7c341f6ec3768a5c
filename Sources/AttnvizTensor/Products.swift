/// How a checkpoint stores a dense weight: PyTorch `nn.Linear` keeps [out, in], GPT-2's
/// `Conv1D` keeps [in, out].
public enum WeightLayout: Sendable {
    case outIn, inOut
}

/// A dense weight with its optional bias, seen through raw pointers inside a parallel region.
/// The pieces below let one region compute a slice of a product without a second pass:
/// `columns` gives some output columns, `partial` the contribution of some input columns.
public struct DenseView: @unchecked Sendable {
    public let weight: UnsafePointer<Float>  // [out, in] or [in, out]
    public let bias: UnsafePointer<Float>?   // [out]
    public let layout: WeightLayout
    public let inDim: Int, outDim: Int

    public init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, layout: WeightLayout, inDim: Int, outDim: Int) {
        self.weight = weight
        self.bias = bias
        self.layout = layout
        self.inDim = inDim
        self.outDim = outDim
    }

    /// c[r, j] = Σ_k x[r, k] · W[j, k] (+ bias[j]) for j in `cols`; x: [n, in] with row stride
    /// ldx; c points at output column `cols.lowerBound` of a buffer with row stride ldc.
    public func columns(_ cols: Range<Int>, x: UnsafePointer<Float>, ldx: Int, rows n: Int,
                        into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard n > 0, !cols.isEmpty else { return }
        if let bias {
            for r in 0..<n { (c + r * ldc).update(from: bias + cols.lowerBound, count: cols.count) }
        }
        let (b, ldb) = layout == .outIn ? (weight + cols.lowerBound * inDim, inDim) : (weight + cols.lowerBound, outDim)
        BLAS.sgemm(transA: false, transB: layout == .outIn, m: n, n: cols.count, k: inDim,
                   a: x, lda: ldx, b: b, ldb: ldb, beta: bias == nil ? 0 : 1, c: c, ldc: ldc)
    }

    /// c[r, j] = Σ_{k in ks} x[r, k] · W[j, k] for every output j, without bias: the share of
    /// input columns `ks` in the product. x points at input column `ks.lowerBound`; c: [n, out].
    public func partial(_ ks: Range<Int>, x: UnsafePointer<Float>, ldx: Int, rows n: Int,
                        into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard n > 0 else { return }
        guard !ks.isEmpty else {
            for r in 0..<n { (c + r * ldc).update(repeating: 0, count: outDim) }
            return
        }
        let (b, ldb) = layout == .outIn ? (weight + ks.lowerBound, inDim) : (weight + ks.lowerBound * outDim, outDim)
        BLAS.sgemm(transA: false, transB: layout == .outIn, m: n, n: outDim, k: ks.count,
                   a: x, lda: ldx, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
    }
}

/// Per-worker partial sums of one [n, d] product, added up (with the bias) once the region ends.
public struct PartialSums {
    public let parts: Int, count: Int
    public var storage: [Float]  // [parts, count]

    public init(parts: Int, count: Int) {
        self.parts = parts
        self.count = count
        storage = [Float](unsafeUninitializedCapacity: parts * count) { _, c in c = parts * count }
    }

    /// Σ over parts, plus `bias` [width] broadcast over rows of `width`. → [count]
    public func total(bias: UnsafePointer<Float>?, width: Int) -> [Float] {
        guard count > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { out, c in
            storage.withUnsafeBufferPointer { s in
                let o = out.baseAddress!, p = s.baseAddress!
                o.update(from: p, count: count)
                for part in 1..<max(parts, 1) {
                    let q = p + part * count
                    for i in 0..<count { o[i] += q[i] }
                }
                if let bias, width > 0 {
                    for r in 0..<(count / width) {
                        let row = o + r * width
                        for j in 0..<width { row[j] += bias[j] }
                    }
                }
            }
            c = count
        }
    }
}

extension Ops {
    /// The position-wise feed-forward block, fc2(act(fc1(x))), in one parallel region: each
    /// worker takes a slice of the inner columns, computes fc1 and the activation for it while
    /// it is in cache, then its share of fc2; the shares are added at the end.
    /// x: [n, d], fc1: d → inner, fc2: inner → d' → (pre [n, inner], act [n, inner], out [n, d'])
    public static func feedForward(
        _ x: Tensor, fc1: (weight: Tensor, bias: Tensor?, layout: WeightLayout), activation: Activation,
        fc2: (weight: Tensor, bias: Tensor?, layout: WeightLayout)
    ) throws(TensorError) -> (pre: Tensor, act: Tensor, out: Tensor) {
        guard x.rank == 2 else { throw .invalidArgument(operation: "feed-forward", detail: "expects 2-D input, got \(x.shape)") }
        let n = x.shape[0], d = x.shape[1]
        let (in1, inner) = try denseShape(fc1.weight, fc1.layout, "feed-forward fc1")
        let (inner2, outDim) = try denseShape(fc2.weight, fc2.layout, "feed-forward fc2")
        guard in1 == d else { throw .shapeMismatch(operation: "feed-forward fc1", expected: [d], found: [in1]) }
        guard inner2 == inner else { throw .shapeMismatch(operation: "feed-forward fc2", expected: [inner], found: [inner2]) }
        if let b = fc1.bias, b.shape != [inner] { throw .shapeMismatch(operation: "feed-forward fc1 bias", expected: [inner], found: b.shape) }
        if let b = fc2.bias, b.shape != [outDim] { throw .shapeMismatch(operation: "feed-forward fc2 bias", expected: [outDim], found: b.shape) }

        guard n > 0, inner > 0, outDim > 0 else {
            throw .invalidArgument(operation: "feed-forward", detail: "empty input or weights: \(x.shape), inner \(inner), out \(outDim)")
        }
        let plan = Parallel.plan(inner, minChunk: 64)
        var pre = [Float](unsafeUninitializedCapacity: n * inner) { _, c in c = n * inner }  // [n, inner]
        var act = [Float](unsafeUninitializedCapacity: n * inner) { _, c in c = n * inner }  // [n, inner]
        var partials = PartialSums(parts: plan.parts, count: n * outDim)                      // [parts, n, d']
        withPointers(fc1, fc2) { w1, w2 in
            let f1 = DenseView(weight: w1.weight, bias: w1.bias, layout: fc1.layout, inDim: d, outDim: inner)
            let f2 = DenseView(weight: w2.weight, bias: nil, layout: fc2.layout, inDim: inner, outDim: outDim)
            x.data.withUnsafeBufferPointer { xp in
            pre.withUnsafeMutableBufferPointer { pb in
            act.withUnsafeMutableBufferPointer { ab in
            partials.storage.withUnsafeMutableBufferPointer { sb in
                let p = SharedPointer(pb.baseAddress!), a = SharedPointer(ab.baseAddress!), s = SharedPointer(sb.baseAddress!)
                Parallel.run(plan) { part, cols in
                    f1.columns(cols, x: xp.baseAddress!, ldx: d, rows: n, into: p.base + cols.lowerBound, ldc: inner)
                    for r in 0..<n {
                        let offset = r * inner + cols.lowerBound
                        activation.apply(p.base + offset, into: a.base + offset, count: cols.count)
                    }
                    f2.partial(cols, x: a.base + cols.lowerBound, ldx: inner, rows: n, into: s.base + part * n * outDim, ldc: outDim)
                }
            }}}}
        }
        let out = withBias(fc2.bias) { partials.total(bias: $0, width: outDim) }
        return (Tensor(uncheckedShape: [n, inner], data: pre), Tensor(uncheckedShape: [n, inner], data: act),
                Tensor(uncheckedShape: [n, outDim], data: out))
    }

    /// (in, out) of a dense weight in `layout`.
    static func denseShape(_ w: Tensor, _ layout: WeightLayout, _ operation: String) throws(TensorError) -> (Int, Int) {
        guard w.rank == 2 else { throw .invalidArgument(operation: operation, detail: "weight must be 2-D, got \(w.shape)") }
        return layout == .outIn ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
    }

    /// The bias's base pointer (nil without a bias) for the duration of `body`.
    static func withBias<R>(_ bias: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.data.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withPointers(
        _ a: (weight: Tensor, bias: Tensor?, layout: WeightLayout), _ b: (weight: Tensor, bias: Tensor?, layout: WeightLayout),
        _ body: ((weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?), (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?)) -> Void
    ) {
        a.weight.data.withUnsafeBufferPointer { aw in
            withBias(a.bias) { ab in
                b.weight.data.withUnsafeBufferPointer { bw in
                    withBias(b.bias) { bb in body((aw.baseAddress!, ab), (bw.baseAddress!, bb)) }
                }
            }
        }
    }
}
