/// The shared token table [vocab, d] used three times: encoder and decoder embeddings
/// (× `scale`, plus fixed sinusoidal positions) and the tied output projection.
public struct TiedEmbedding: Sendable, Equatable {
    public let table: Int        // offset of model.shared.weight [vocab, d]
    public let vocab: Int, width: Int
    public let scale: Double     // √d_model with scale_embedding, else 1
    public let paddingID: Int?   // nn.Embedding(padding_idx): that row gets no gradient from lookups

    public init(table: Int, vocab: Int, width: Int, scale: Double, paddingID: Int?) {
        self.table = table; self.vocab = vocab; self.width = width; self.scale = scale; self.paddingID = paddingID
    }

    /// ids [B·n] → scale · table[ids] + positions[0..<n] for each of B rows: [B·n, d]
    public func embed<S: TrainScalar>(_ ids: [Int], length n: Int, positions: [S], params p: UnsafePointer<S>) -> [S] {
        let d = width, s = S(scale)
        var x = [S](repeating: 0, count: ids.count * d)  // [B·n, d]
        for (r, id) in ids.enumerated() {
            let row = p + table + id * d, pos = (r % n) * d
            for i in 0..<d { x[r * d + i] = s * row[i] + positions[pos + i] }
        }
        return x
    }

    /// dx [B·n, d] → d table[id] += scale · dx row (rows of the padding id excepted).
    public func embedBackward<S: TrainScalar>(_ dx: [S], ids: [Int], grads g: UnsafeMutablePointer<S>) {
        let d = width, s = S(scale)
        for (r, id) in ids.enumerated() where id != paddingID {
            let row = g + table + id * d
            for i in 0..<d { row[i] += s * dx[r * d + i] }
        }
    }

    /// h [n, d] → logits = h · tableᵀ + bias [n, vocab]
    public func project<S: TrainScalar>(_ h: [S], rows n: Int, bias: [S], params p: UnsafePointer<S>) -> [S] {
        let V = vocab, d = width
        var logits = [S](repeating: 0, count: n * V)  // [n, V]
        guard n > 0 else { return logits }
        logits.withUnsafeMutableBufferPointer { lb in
            h.withUnsafeBufferPointer { hb in
                let l = lb.baseAddress!
                for r in 0..<n { for j in 0..<V { l[r * V + j] = bias[j] } }
                S.gemm(transA: false, transB: true, m: n, n: V, k: d, alpha: 1, a: hb.baseAddress!, lda: d,
                       b: p + table, ldb: d, beta: 1, c: l, ldc: V)
            }
        }
        return logits
    }

    /// dlogits [n, vocab], h [n, d] → dh = dlogits · table [n, d]; d table += dlogitsᵀ · h.
    /// The bias (final_logits_bias) is a buffer, not trained.
    public func projectBackward<S: TrainScalar>(_ dLogits: [S], h: [S], rows n: Int, params p: UnsafePointer<S>,
                                                grads g: UnsafeMutablePointer<S>) -> [S] {
        let V = vocab, d = width
        var dh = [S](repeating: 0, count: n * d)  // [n, d]
        guard n > 0 else { return dh }
        dLogits.withUnsafeBufferPointer { lb in
        h.withUnsafeBufferPointer { hb in
        dh.withUnsafeMutableBufferPointer { db in
            S.gemm(transA: false, transB: false, m: n, n: d, k: V, alpha: 1, a: lb.baseAddress!, lda: V,
                   b: p + table, ldb: d, beta: 0, c: db.baseAddress!, ldc: d)
            S.gemm(transA: true, transB: false, m: V, n: d, k: n, alpha: 1, a: lb.baseAddress!, lda: V,
                   b: hb.baseAddress!, ldb: d, beta: 1, c: g + table, ldc: d)
        }}}
        return dh
    }
}

/// Label-smoothed cross-entropy as `torch.nn.CrossEntropyLoss(label_smoothing: ε, ignore_index: pad)`:
/// target q = (1 − ε)·one-hot + ε/V, loss = mean over non-ignored rows of −Σ_j q_j · log p_j.
public enum SmoothedCrossEntropy {
    public struct Result<S: TrainScalar>: Sendable {
        public var loss: Double       // mean over counted rows
        public var counted: Int       // rows whose label is not ignored
        public var correct: Int       // counted rows whose argmax equals the label
        public var dLogits: [S]       // [n, V] ∂loss/∂logits
    }

    /// logits [n, V], labels [n] (label == ignore → row skipped, gradient 0).
    public static func evaluate<S: TrainScalar>(_ logits: [S], labels: [Int], vocab V: Int, smoothing eps: Double,
                                                ignore: Int?) -> Result<S> {
        let n = labels.count
        let counted = labels.filter { $0 != ignore }.count
        var dLogits = [S](repeating: 0, count: n * V)  // [n, V]
        guard counted > 0 else { return Result(loss: .nan, counted: 0, correct: 0, dLogits: dLogits) }
        let perRow = 1 / S(counted), uniform = S(eps / Double(V)), hit = S(1 - eps)
        var total = 0.0, correct = 0
        for r in 0..<n where labels[r] != ignore {
            let o = r * V, y = labels[r]
            var m = -S.infinity, arg = 0
            for j in 0..<V where logits[o + j] > m { m = logits[o + j]; arg = j }
            var sum: S = 0, sumLogits: S = 0
            for j in 0..<V { sum += S.exp(logits[o + j] - m); sumLogits += logits[o + j] }
            let lse = m + S.log(sum)
            // −Σ q_j log p_j = lse − (1 − ε)·l_y − ε/V · Σ_j l_j
            total += Double(lse) - (1 - eps) * Double(logits[o + y]) - eps / Double(V) * Double(sumLogits)
            if arg == y { correct += 1 }
            for j in 0..<V {
                let p = S.exp(logits[o + j] - lse)
                dLogits[o + j] = (p - uniform - (j == y ? hit : 0)) * perRow
            }
        }
        return Result(loss: total / Double(counted), counted: counted, correct: correct, dLogits: dLogits)
    }
}
