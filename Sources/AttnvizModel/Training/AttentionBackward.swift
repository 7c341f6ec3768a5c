/// One multi-head attention block in the flat parameter buffer.
public struct AttentionSlot: Sendable, Equatable {
    public let q: DenseSlot, k: DenseSlot, v: DenseSlot, o: DenseSlot
    public let heads: Int
    public init(q: DenseSlot, k: DenseSlot, v: DenseSlot, o: DenseSlot, heads: Int) {
        self.q = q; self.k = k; self.v = v; self.o = o; self.heads = heads
    }
}

/// A batch's attention geometry: B sequences, nq queries and nk keys each, which keys are
/// real (false = padding, [B, nk]; nil = all), and whether key j > query i is hidden.
public struct BatchMask: Sendable {
    public var batch: Int, queries: Int, keys: Int
    public var keyIsReal: [Bool]?  // [B, nk]
    public var causal: Bool

    public init(batch: Int, queries: Int, keys: Int, keyIsReal: [Bool]?, causal: Bool) {
        self.batch = batch; self.queries = queries; self.keys = keys
        self.keyIsReal = keyIsReal; self.causal = causal
    }

    func hidden(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        (causal && j > i) || (keyIsReal.map { !$0[b * keys + j] } ?? false)
    }
}

public struct AttentionSaved<S: TrainScalar>: Sendable {
    public var xq: [S], xkv: [S]     // [B·nq, d], [B·nk, d]
    public var q: [S], k: [S], v: [S] // [B·nq, d], [B·nk, d], [B·nk, d]
    public var probs: [S]             // [B, heads, nq, nk] softmax (masked entries exactly 0)
    public var dropped: [S]           // [B, heads, nq, nk] probs after attention dropout (= probs when p = 0)
    public var drop: DropoutMask<S>
    public var context: [S]           // [B·nq, d] heads concatenated, out_proj's input
}

/// Scaled dot-product multi-head attention, batched: per sequence b and head h,
/// P = softmax(Q_bh·K_bhᵀ/√d_k + mask), C_bh = dropout(P)·V_bh, out = C·W_oᵀ + b_o.
public enum AttentionOps {
    /// xq [B·nq, d] (queries), xkv [B·nk, d] (keys and values) → [B·nq, d]
    public static func forward<S: TrainScalar>(_ xq: [S], _ xkv: [S], mask m: BatchMask, _ s: AttentionSlot, dropout: S,
                                               rng: inout DropoutRNG, params p: UnsafePointer<S>) -> (y: [S], saved: AttentionSaved<S>) {
        let B = m.batch, nq = m.queries, nk = m.keys, d = s.q.outDim, h = s.heads, dk = d / h
        let q = Dense.forward(xq, rows: B * nq, s.q, params: p)    // [B·nq, d]
        let k = Dense.forward(xkv, rows: B * nk, s.k, params: p)   // [B·nk, d]
        let v = Dense.forward(xkv, rows: B * nk, s.v, params: p)   // [B·nk, d]
        let scale = 1 / S(dk).squareRoot()
        var probs = [S](repeating: 0, count: B * h * nq * nk)       // [B, h, nq, nk]
        probs.withUnsafeMutableBufferPointer { pb in
        q.withUnsafeBufferPointer { qb in
        k.withUnsafeBufferPointer { kb in
            for b in 0..<B {
                for head in 0..<h {
                    let P = pb.baseAddress! + (b * h + head) * nq * nk
                    S.gemm(transA: false, transB: true, m: nq, n: nk, k: dk, alpha: scale,
                           a: qb.baseAddress! + b * nq * d + head * dk, lda: d, b: kb.baseAddress! + b * nk * d + head * dk, ldb: d,
                           beta: 0, c: P, ldc: nk)
                    for i in 0..<nq { softmaxRow(P + i * nk, count: nk) { m.hidden(b, i, $0) } }
                }
            }
        }}}
        let drop = DropoutMask<S>(count: probs.count, p: dropout, rng: &rng)
        var dropped = probs
        drop.apply(&dropped)
        var context = [S](repeating: 0, count: B * nq * d)          // [B·nq, d]
        context.withUnsafeMutableBufferPointer { cb in
        dropped.withUnsafeBufferPointer { pb in
        v.withUnsafeBufferPointer { vb in
            for b in 0..<B {
                for head in 0..<h {
                    S.gemm(transA: false, transB: false, m: nq, n: dk, k: nk, alpha: 1,
                           a: pb.baseAddress! + (b * h + head) * nq * nk, lda: nk, b: vb.baseAddress! + b * nk * d + head * dk, ldb: d,
                           beta: 0, c: cb.baseAddress! + b * nq * d + head * dk, ldc: d)
                }
            }
        }}}
        let y = Dense.forward(context, rows: B * nq, s.o, params: p)  // [B·nq, d]
        return (y, AttentionSaved(xq: xq, xkv: xkv, q: q, k: k, v: v, probs: probs, dropped: dropped, drop: drop, context: context))
    }

    /// dy [B·nq, d] → (dxq [B·nq, d], dxkv [B·nk, d]); for self-attention the caller adds them.
    public static func backward<S: TrainScalar>(_ dy: [S], saved sv: AttentionSaved<S>, mask m: BatchMask, _ s: AttentionSlot,
                                                params p: UnsafePointer<S>, grads g: UnsafeMutablePointer<S>) -> (dxq: [S], dxkv: [S]) {
        let B = m.batch, nq = m.queries, nk = m.keys, d = s.q.outDim, h = s.heads, dk = d / h
        let scale = 1 / S(dk).squareRoot()
        let dContext = Dense.backward(dy, x: sv.context, rows: B * nq, s.o, params: p, grads: g)  // [B·nq, d]
        var dq = [S](repeating: 0, count: B * nq * d)  // [B·nq, d]
        var dkk = [S](repeating: 0, count: B * nk * d) // [B·nk, d]
        var dv = [S](repeating: 0, count: B * nk * d)  // [B·nk, d]
        var dP = [S](repeating: 0, count: nq * nk)      // [nq, nk] one head at a time
        let keep = sv.drop.scale
        dContext.withUnsafeBufferPointer { dcb in
        sv.q.withUnsafeBufferPointer { qb in
        sv.k.withUnsafeBufferPointer { kb in
        sv.v.withUnsafeBufferPointer { vb in
        sv.probs.withUnsafeBufferPointer { pb in
        sv.dropped.withUnsafeBufferPointer { db in
        dq.withUnsafeMutableBufferPointer { dqb in
        dkk.withUnsafeMutableBufferPointer { dkb in
        dv.withUnsafeMutableBufferPointer { dvb in
        dP.withUnsafeMutableBufferPointer { dpb in
            let dPp = dpb.baseAddress!
            for b in 0..<B {
                for head in 0..<h {
                    let off = (b * h + head) * nq * nk
                    let dC = dcb.baseAddress! + b * nq * d + head * dk
                    let qh = qb.baseAddress! + b * nq * d + head * dk
                    let kh = kb.baseAddress! + b * nk * d + head * dk, vh = vb.baseAddress! + b * nk * d + head * dk
                    // dV = dropout(P)ᵀ·dC [nk, dk];  d(dropout(P)) = dC·Vᵀ [nq, nk]
                    S.gemm(transA: true, transB: false, m: nk, n: dk, k: nq, alpha: 1, a: db.baseAddress! + off, lda: nk,
                           b: dC, ldb: d, beta: 0, c: dvb.baseAddress! + b * nk * d + head * dk, ldc: d)
                    S.gemm(transA: false, transB: true, m: nq, n: nk, k: dk, alpha: 1, a: dC, lda: d, b: vh, ldb: d,
                           beta: 0, c: dPp, ldc: nk)
                    if !keep.isEmpty { for i in 0..<(nq * nk) { dPp[i] *= keep[off + i] } }
                    // Softmax backward: dS = P ⊙ (dP − Σ_j P·dP) row by row (masked: P = 0 → 0).
                    let P = pb.baseAddress! + off
                    for i in 0..<nq {
                        let row = i * nk
                        var dot: S = 0
                        for j in 0..<nk { dot += P[row + j] * dPp[row + j] }
                        for j in 0..<nk { dPp[row + j] = P[row + j] * (dPp[row + j] - dot) }
                    }
                    // dQ = dS·K/√d_k [nq, dk];  dK = dSᵀ·Q/√d_k [nk, dk]
                    S.gemm(transA: false, transB: false, m: nq, n: dk, k: nk, alpha: scale, a: dPp, lda: nk, b: kh, ldb: d,
                           beta: 0, c: dqb.baseAddress! + b * nq * d + head * dk, ldc: d)
                    S.gemm(transA: true, transB: false, m: nk, n: dk, k: nq, alpha: scale, a: dPp, lda: nk, b: qh, ldb: d,
                           beta: 0, c: dkb.baseAddress! + b * nk * d + head * dk, ldc: d)
                }
            }
        }}}}}}}}}}
        let dxq = Dense.backward(dq, x: sv.xq, rows: B * nq, s.q, params: p, grads: g)        // [B·nq, d]
        var dxkv = Dense.backward(dkk, x: sv.xkv, rows: B * nk, s.k, params: p, grads: g)     // [B·nk, d]
        Elementwise.accumulate(&dxkv, Dense.backward(dv, x: sv.xkv, rows: B * nk, s.v, params: p, grads: g))
        return (dxq, dxkv)
    }

    /// Softmax of one row in place; hidden entries get exactly 0. A row with every key hidden
    /// cannot occur (the batch reader refuses all-padding sources; the causal diagonal is visible).
    @inline(__always)
    static func softmaxRow<S: TrainScalar>(_ row: UnsafeMutablePointer<S>, count: Int, hidden: (Int) -> Bool) {
        var maxValue = -S.infinity
        for j in 0..<count where !hidden(j) { maxValue = max(maxValue, row[j]) }
        var sum: S = 0
        for j in 0..<count {
            if hidden(j) { row[j] = 0 } else { row[j] = S.exp(row[j] - maxValue); sum += row[j] }
        }
        guard sum > 0 else { return }
        let inv = 1 / sum
        for j in 0..<count { row[j] *= inv }
    }
}
