import AttnvizTensor
import AttnvizTrace
import Foundation

/// A dense layer as checkpoints store it: PyTorch `nn.Linear` ([out, in]) or GPT-2 `Conv1D` ([in, out]).
struct Linear: Sendable {
    let weight: Tensor  // [out, in] or [in, out]
    let bias: Tensor?   // [out]
    let layout: WeightLayout

    var parameterCount: Int { weight.count + (bias?.count ?? 0) }

    /// x: [n, in] → [n, out]
    func callAsFunction(_ x: Tensor) throws(TensorError) -> Tensor {
        switch layout {
        case .outIn: return try Ops.linear(x, weight: weight, bias: bias)
        case .inOut: return try Ops.conv1D(x, weight: weight, bias: bias)
        }
    }

    var parts: (weight: Tensor, bias: Tensor?, layout: WeightLayout) { (weight, bias, layout) }

    /// Raw view for use inside a parallel region (valid while `body` runs).
    func withView<R>(inDim: Int, outDim: Int, _ body: (DenseView) -> R) -> R {
        weight.data.withUnsafeBufferPointer { w in
            if let bias {
                return bias.data.withUnsafeBufferPointer { b in
                    body(DenseView(weight: w.baseAddress!, bias: b.baseAddress!, layout: layout, inDim: inDim, outDim: outDim))
                }
            }
            return body(DenseView(weight: w.baseAddress!, bias: nil, layout: layout, inDim: inDim, outDim: outDim))
        }
    }
}

/// The position-wise feed-forward block: fc2(activation(fc1(x))).
struct FeedForward: Sendable {
    let fc1: Linear  // d → inner
    let fc2: Linear  // inner → d
    let activation: Activation

    var parameterCount: Int { fc1.parameterCount + fc2.parameterCount }

    /// x: [n, d] → (pre [n, inner], act [n, inner], out [n, d])
    func callAsFunction(_ x: Tensor) throws(TensorError) -> (pre: Tensor, act: Tensor, out: Tensor) {
        try Ops.feedForward(x, fc1: fc1.parts, activation: activation, fc2: fc2.parts)
    }
}

struct LayerNorm: Sendable {
    let gamma: Tensor  // [d]
    let beta: Tensor   // [d]
    let eps: Float

    var parameterCount: Int { gamma.count + beta.count }

    func callAsFunction(_ x: Tensor) throws(TensorError) -> Tensor {
        try Ops.layerNorm(x, gamma: gamma, beta: beta, eps: eps)
    }

    /// Post-LayerNorm residual step: (a + b, LayerNorm(a + b)), each [n, d].
    func callAsFunction(_ a: Tensor, plus b: Tensor) throws(TensorError) -> (sum: Tensor, out: Tensor) {
        try Ops.addLayerNorm(a, b, gamma: gamma, beta: beta, eps: eps)
    }
}

/// Reads named weights from a checkpoint, strictly: each must exist with the expected shape.
/// Tracks which names were used so the rest can be reported once.
final class WeightReader {
    let file: SafetensorsFile
    let prefix: String
    private(set) var used: Set<String> = []

    init(file: SafetensorsFile, prefix: String) {
        self.file = file
        self.prefix = prefix
    }

    func tensor(_ name: String, _ shape: [Int]) throws(ModelError) -> Tensor {
        let full = prefix + name
        guard let info = file.tensors[full] else { throw .missingWeight(path: file.path, name: full) }
        guard info.shape == shape else { throw .weightShape(path: file.path, name: full, expected: shape, found: info.shape) }
        guard info.dtype.isFloat else {
            throw .safetensors(path: file.path, problem: "weight '\(full)' is \(info.dtype.rawValue), expected a float type")
        }
        used.insert(full)
        return try file.tensor(full, requireFinite: true)
    }

    /// A [rows, cols] table left in the checkpoint, read a row at a time (`MappedRows`).
    func rows(_ name: String, _ rows: Int, _ cols: Int) throws(ModelError) -> MappedRows {
        let table = try MappedRows(file, name: prefix + name, rows: rows, cols: cols)
        used.insert(prefix + name)
        return table
    }

    func linear(_ name: String, out: Int, in inDim: Int, layout: WeightLayout = .outIn, bias: Bool = true) throws(ModelError) -> Linear {
        let shape = layout == .outIn ? [out, inDim] : [inDim, out]
        return Linear(weight: try tensor(name + ".weight", shape), bias: bias ? try tensor(name + ".bias", [out]) : nil, layout: layout)
    }

    func layerNorm(_ name: String, _ d: Int, eps: Double, weight: String = "weight", bias: String = "bias") throws(ModelError) -> LayerNorm {
        LayerNorm(gamma: try tensor("\(name).\(weight)", [d]), beta: try tensor("\(name).\(bias)", [d]), eps: Float(eps))
    }

    /// Checkpoint tensors that were not read (e.g. BERT's pooler), and the float parameters they hold.
    func unused() -> (names: [String], parameters: Int) {
        let names = file.names.filter { !used.contains($0) }
        let params = names.compactMap { file.tensors[$0] }.filter { $0.dtype.isFloat }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        return (names, params)
    }
}

/// The checks every forward pass makes on its token ids: some tokens, no more than the model's
/// positions (counting `past` tokens already in a cache), every id inside the vocabulary.
func checkTokenIDs(_ ids: [Int], past: Int = 0, positions: Int, vocabSize: Int, source: String) throws(ModelError) {
    guard !ids.isEmpty else { throw .input(path: source, problem: "no tokens to run") }
    guard past + ids.count <= positions else {
        throw .input(path: source, problem: "\(past + ids.count) tokens exceed the model's \(positions) positions")
    }
    if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
        throw .input(path: source, problem: "token id \(bad) is outside the vocabulary (0..<\(vocabSize))")
    }
}

/// Which keys each query may see.
struct AttentionMask: Sendable {
    /// false = padded key, removed from every row. nil = all keys real.
    var keys: [Bool]?
    /// Key j is visible to query i only when j ≤ i (+ offset for cached decoding).
    var causal: Bool = false
    /// Position of the first query among the keys (for incremental decoding with a cache).
    var queryOffset: Int = 0
    /// A further restriction (local window, strided) an experiment puts on every query.
    var pattern: KeyPattern? = nil

    var isEmpty: Bool { keys == nil && !causal && pattern == nil }

    /// Whether query i (counted among the keys, i.e. with the offset added) may see key j.
    @inline(__always)
    func allows(query i: Int, key j: Int) -> Bool {
        if let keys, !keys[j] { return false }
        if causal && j > i { return false }
        if let pattern, !pattern.allows(query: i, key: j) { return false }
        return true
    }
}

/// What an experiment changes in a forward pass; the default changes nothing.
struct ForwardOptions: Sendable {
    /// false: position embeddings are left out (zero), so the model sees a bag of tokens.
    var positions = true
    /// This layer's keys are computed with the query weights and bias (k = q).
    var tiedQueryKeyLayer: Int?
    /// Every self-attention restricted to these keys.
    var pattern: KeyPattern?
    /// false: no residual add around the blocks' sub-layers (post-LN: LN(f(x)); pre-LN: f(LN(x))).
    var residual = true
    /// false: the blocks' LayerNorms are skipped (post-LN: x + f(x) unnormalised; pre-LN: x + f(x)).
    var layerNorm = true
    /// Dropout as in training (seeded masks, inverted scaling); nil = eval.
    var dropout: Dropout?

    static let none = ForwardOptions()

    /// A post-LN residual step as these options change it: (what the norm sees, the result).
    func addNorm(_ norm: LayerNorm, _ f: Tensor, plus x: Tensor) throws(TensorError) -> (sum: Tensor, out: Tensor) {
        switch (residual, layerNorm) {
        case (true, true): return try norm(f, plus: x)
        case (false, true): return (f, try norm(f))
        case (true, false): let s = try Ops.add(f, x); return (s, s)
        case (false, false): return (f, f)
        }
    }
}

/// Training-time dropout with reproducible masks: element `i` of site `site` is kept when a
/// hash of (seed, site, i) falls at or above p, and kept values are scaled by 1/(1 − p)
/// (inverted dropout), so the expected value is unchanged. The same seed gives the same masks
/// whatever the thread split.
struct Dropout: Sendable {
    var seed: UInt64
    /// On the embedding output and on each sub-layer's output before the residual add.
    var hidden: Float
    /// On the attention weights after the softmax.
    var attention: Float
    /// On the embedding output (GPT-2's embd_pdrop; BERT uses `hidden`).
    var embedding: Float

    /// Site numbers: 0 embeddings; per layer l: 1 + 3l attention weights, 2 + 3l attention
    /// output, 3 + 3l feed-forward output.
    static func site(layer: Int, _ k: Int) -> UInt64 { UInt64(1 + 3 * layer + k) }

    @inline(__always)
    static func keep(seed: UInt64, site: UInt64, index: Int, p: Float) -> Bool {
        var z = seed &+ site &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) >= Double(p)
    }

    /// In place on `count` values starting at flat index `offset` of the site.
    static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, offset: Int, seed: UInt64, site: UInt64, p: Float) {
        guard p > 0 else { return }
        let scale = p < 1 ? 1 / (1 - p) : 0
        for i in 0..<count { x[i] = keep(seed: seed, site: site, index: offset + i, p: p) ? x[i] * scale : 0 }
    }

    func apply(_ t: Tensor, site: UInt64, p: Float) -> Tensor {
        guard p > 0 else { return t }
        var data = t.data
        data.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            Self.apply(base, count: b.count, offset: 0, seed: seed, site: site, p: p)
        }
        return Tensor(uncheckedShape: t.shape, data: data)
    }
}

/// Projections of one multi-head attention block.
struct AttentionWeights: Sendable {
    let q: Linear, k: Linear, v: Linear, o: Linear
    let heads: Int

    var parameterCount: Int { q.parameterCount + k.parameterCount + v.parameterCount + o.parameterCount }
}

enum MultiHeadAttention {
    /// Scaled dot-product attention of `x` (queries) over `memory` (keys and values).
    /// x: [nq, d], memory: [nk, d] → output [nq, d]; the record holds every intermediate.
    static func run(
        _ x: Tensor, memory: Tensor, weights w: AttentionWeights, mask: AttentionMask,
        kind: AttentionKind, record: Bool
    ) throws(TensorError) -> (output: Tensor, record: AttentionRecord?) {
        let q = try w.q(x)       // [nq, d]
        let k = try w.k(memory)  // [nk, d]
        let v = try w.v(memory)  // [nk, d]
        return try attend(q: q, k: k, v: v, weights: w, mask: mask, kind: kind, record: record)
    }

    /// Attention from already projected q [nq, d], k [nk, d], v [nk, d].
    static func attend(
        q: Tensor, k: Tensor, v: Tensor, weights w: AttentionWeights, mask: AttentionMask,
        kind: AttentionKind, record: Bool, dropout: (seed: UInt64, site: UInt64, p: Float)? = nil
    ) throws(TensorError) -> (output: Tensor, record: AttentionRecord?) {
        let nq = q.shape[0], nk = k.shape[0], d = q.shape[1], h = w.heads
        guard d % h == 0 else { throw .invalidArgument(operation: "attention", detail: "width \(d) not divisible by \(h) heads") }
        let dk = d / h
        guard nk > 0 || nq == 0 else { throw .invalidArgument(operation: "attention", detail: "no keys to attend to") }
        if let keys = mask.keys, keys.count != nk {
            throw .shapeMismatch(operation: "attention mask", expected: [nk], found: [keys.count])
        }
        // sgemm (beta 0) writes every element of these: no zero-fill needed.
        let hnn = h * nq * nk
        var scores = [Float](unsafeUninitializedCapacity: hnn) { _, c in c = hnn }                          // [heads, nq, nk]
        var probs = record ? [Float](unsafeUninitializedCapacity: hnn) { _, c in c = hnn } : []            // [heads, nq, nk]
        var context = [Float](unsafeUninitializedCapacity: nq * d) { _, c in c = nq * d }                  // [nq, d]
        // The record's per-head copies of Q, K, V, filled by each head's worker.
        var qh = record ? [Float](unsafeUninitializedCapacity: nq * d) { _, c in c = nq * d } : []         // [heads, nq, d_k]
        var kh = record ? [Float](unsafeUninitializedCapacity: nk * d) { _, c in c = nk * d } : []         // [heads, nk, d_k]
        var vh = record ? [Float](unsafeUninitializedCapacity: nk * d) { _, c in c = nk * d } : []         // [heads, nk, d_k]
        let scale = 1 / Float(dk).squareRoot()
        // Heads split across cores: scores, mask, softmax and context of a head are its own, and
        // so is their share of the output projection (its input columns), added up at the end.
        let plan = Parallel.plan(h)
        var partials = PartialSums(parts: plan.parts, count: nq * d)  // [parts, nq, d]
        w.o.withView(inDim: d, outDim: d) { o in
        q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
        v.data.withUnsafeBufferPointer { vp in
        scores.withUnsafeMutableBufferPointer { sb in
        probs.withUnsafeMutableBufferPointer { pb in
        context.withUnsafeMutableBufferPointer { cb in
        partials.storage.withUnsafeMutableBufferPointer { ob in
        withMutablePointers(&qh, &kh, &vh) { qr, kr, vr in
            guard nq > 0, nk > 0 else { return }
            let s = SharedPointer(sb.baseAddress!), c = SharedPointer(cb.baseAddress!), out = SharedPointer(ob.baseAddress!)
            let pp = record ? pb.baseAddress.map(SharedPointer.init) : nil
            Parallel.run(plan) { part, heads in
                for head in heads {
                    if record {
                        copyHead(head, of: qp.baseAddress!, rows: nq, width: d, headWidth: dk, into: qr.base)
                        copyHead(head, of: kp.baseAddress!, rows: nk, width: d, headWidth: dk, into: kr.base)
                        copyHead(head, of: vp.baseAddress!, rows: nk, width: d, headWidth: dk, into: vr.base)
                    }
                    let sh = s.base + head * nq * nk
                    BLAS.sgemm(transA: false, transB: true, m: nq, n: nk, k: dk, alpha: scale,
                               a: qp.baseAddress! + head * dk, lda: d, b: kp.baseAddress! + head * dk, ldb: d, c: sh, ldc: nk)
                    if !mask.isEmpty {
                        for i in 0..<nq {
                            for j in 0..<nk where !mask.allows(query: i + mask.queryOffset, key: j) { sh[i * nk + j] = -.infinity }
                        }
                    }
                    // Softmax in place, or into the record's buffer so the scores stay.
                    let ph: UnsafeMutablePointer<Float>
                    if let pp {
                        ph = pp.base + head * nq * nk
                        ph.update(from: sh, count: nq * nk)
                    } else {
                        ph = sh
                    }
                    Ops.softmaxRows(ph, rows: nq, width: nk)
                    if let dropout {
                        Dropout.apply(ph, count: nq * nk, offset: head * nq * nk, seed: dropout.seed, site: dropout.site, p: dropout.p)
                    }
                    BLAS.sgemm(transA: false, transB: false, m: nq, n: dk, k: nk,
                               a: ph, lda: nk, b: vp.baseAddress! + head * dk, ldb: d, c: c.base + head * dk, ldc: d)
                }
                let cols = (heads.lowerBound * dk)..<(heads.upperBound * dk)
                o.partial(cols, x: c.base + cols.lowerBound, ldx: d, rows: nq, into: out.base + part * nq * d, ldc: d)
            }
        }}}}}}}}}
        let contextTensor = Tensor(uncheckedShape: [nq, d], data: context)
        let outData = w.o.bias.map { b in b.data.withUnsafeBufferPointer { partials.total(bias: $0.baseAddress!, width: d) } }
            ?? partials.total(bias: nil, width: d)
        let output = Tensor(uncheckedShape: [nq, d], data: outData)  // [nq, d]
        guard record else { return (output, nil) }
        let rec = AttentionRecord(
            kind: kind,
            scores: Tensor(uncheckedShape: [h, nq, nk], data: scores),
            weights: Tensor(uncheckedShape: [h, nq, nk], data: probs),
            q: Tensor(uncheckedShape: [h, nq, dk], data: qh), k: Tensor(uncheckedShape: [h, nk, dk], data: kh),
            v: Tensor(uncheckedShape: [h, nk, dk], data: vh),
            context: contextTensor, output: output)
        return (output, rec)
    }

    /// Head `head`'s columns of x [rows, width] into dst [heads, rows, headWidth].
    private static func copyHead(_ head: Int, of x: UnsafePointer<Float>, rows: Int, width: Int, headWidth dk: Int,
                                 into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<rows { (dst + (head * rows + i) * dk).update(from: x + i * width + head * dk, count: dk) }
    }

    /// Runs body with the three buffers' base pointers (nil-free: empty buffers are not touched).
    private static func withMutablePointers(
        _ a: inout [Float], _ b: inout [Float], _ c: inout [Float],
        _ body: (SharedPointer<Float>, SharedPointer<Float>, SharedPointer<Float>) -> Void
    ) {
        var dummy: Float = 0
        withUnsafeMutablePointer(to: &dummy) { placeholder in
            a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeMutableBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                body(SharedPointer(ap.baseAddress ?? placeholder), SharedPointer(bp.baseAddress ?? placeholder),
                     SharedPointer(cp.baseAddress ?? placeholder))
            }}}
        }
    }
}

/// Keys and values of each layer's self-attention for the tokens seen so far, for incremental
/// decoding (GPT-2 and the Marian decoder). Each [len, d].
public struct KVCache: Sendable {
    public private(set) var keys: [Tensor]
    public private(set) var values: [Tensor]

    public init(layers: Int, width: Int) {
        keys = Array(repeating: Tensor.zeros([0, width]), count: layers)
        values = keys
    }

    /// Tokens cached so far.
    public var count: Int { keys.first?.shape[0] ?? 0 }

    /// Appends the new tokens' keys and values [n, d] to `layer`; returns all of them [len + n, d].
    mutating func extend(layer: Int, keys k: Tensor, values v: Tensor) throws(TensorError) -> (keys: Tensor, values: Tensor) {
        keys[layer] = try Self.concat(keys[layer], k)
        values[layer] = try Self.concat(values[layer], v)
        return (keys[layer], values[layer])
    }

    /// Rows of `b` after the rows of `a`. [m, d] + [n, d] → [m+n, d]
    static func concat(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
        guard a.shape[1] == b.shape[1] else { throw .shapeMismatch(operation: "KV cache append", expected: a.shape, found: b.shape) }
        return Tensor(uncheckedShape: [a.shape[0] + b.shape[0], a.shape[1]], data: a.data + b.data)
    }
}
