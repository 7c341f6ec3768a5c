import AttnvizTensor
import AttnvizTrace

extension Session {
    /// `.stepwise(repeats:)`: the sentence in one pass vs one token at a time. Measurements:
    /// "parallel" (one call over all n tokens) and "sequential" (n calls; each token goes through
    /// every layer attending to the cached keys and values of the tokens before it, as a decoder
    /// or an RNN must work). For an encoder the step-by-step outputs are not its real outputs
    /// (its tokens also see what follows): only the cost is compared. Both run on the first
    /// `stepwiseLimit` tokens at most (each step streams every weight once: 512 steps take seconds);
    /// the measurements' `n` says how many. The sequential run is timed once, after the parallel
    /// runs have warmed the caches.
    func stepwise(repeats: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        let n = min(base.tokens.count, Self.stepwiseLimit)
        let ids = Array(base.tokens.prefix(n).map(\.id)), types = Array(base.tokens.prefix(n).map(\.typeId))
        let parallel: Double, sequential: Double
        switch model {
        case let .bert(bert):
            parallel = try Self.medianTime(repeats: repeats) { () throws(ModelError) in _ = try bert.forward(ids: ids, typeIds: types) }
            sequential = try Self.medianTime(repeats: 1, warm: true) { () throws(ModelError) in
                var cache = KVCache(layers: bert.layers.count, width: bert.config.hiddenSize)
                for i in 0..<n { _ = try bert.causalStep(id: ids[i], typeId: types[i], cache: &cache) }
            }
        case let .gpt2(gpt):
            parallel = try Self.medianTime(repeats: repeats) { () throws(ModelError) in _ = try gpt.forward(ids: ids) }
            sequential = try Self.medianTime(repeats: 1, warm: true) { () throws(ModelError) in
                var cache = gpt.emptyCache()
                for i in 0..<n { _ = try gpt.step(ids: [ids[i]], cache: &cache) }
            }
        case .marian:
            return .unavailable("attnviz times single-stack models (BERT, GPT-2) only")
        }
        return .measured([Measurement(label: "parallel", n: n, seconds: parallel, calls: 1),
                          Measurement(label: "sequential", n: n, seconds: sequential, calls: n)], tensors: [:])
    }
}

extension Session {
    /// Tokens the step-by-step comparison runs at most.
    public static let stepwiseLimit = 64
}

extension BertModel {
    /// One token through every layer, attending to the keys and values cached for the tokens
    /// before it (and itself). BERT is not trained this way; this exists to time step-by-step
    /// processing with the real weights and widths. Returns the token's last hidden state [1, d].
    func causalStep(id: Int, typeId: Int, cache: inout KVCache) throws(ModelError) -> Tensor {
        let past = cache.count
        try checkTokenIDs([id], past: past, positions: config.maxPositionEmbeddings, vocabSize: config.vocabSize, source: "input")
        guard typeId >= 0, typeId < config.typeVocabSize else { throw .input(path: "input", problem: "token type \(typeId) is outside 0..<\(config.typeVocabSize)") }
        let word = try wordEmbeddings.gather([id])  // [1, d]
        var x = try math("embeddings") { () throws(TensorError) -> Tensor in
            let sum = try Ops.add(try Ops.add(word, try Ops.gather(positionEmbeddings, rows: [past])),
                                  try Ops.gather(tokenTypeEmbeddings, rows: [typeId]))  // [1, d]
            return try embeddingNorm(sum)                                                // [1, d]
        }
        let mask = AttentionMask(keys: nil, causal: true, queryOffset: past)
        for (l, layer) in layers.enumerated() {
            x = try math("layer \(l)") { () throws(TensorError) -> Tensor in
                let (q, kNew, vNew) = GPT2Model.split(try layer.qkv(x), d: x.shape[1])  // each [1, d]
                let (k, v) = try cache.extend(layer: l, keys: kNew, values: vNew)        // [past+1, d]
                let (attnOut, _) = try MultiHeadAttention.attend(q: q, k: k, v: v, weights: layer.attention, mask: mask,
                                                                 kind: .encoderSelf, record: false)
                let (_, h1) = try layer.attentionNorm(attnOut, plus: x)  // [1, d]
                let (_, _, ffnOut) = try layer.ffn(h1)                   // [1, d]
                return try layer.outputNorm(ffnOut, plus: h1).out        // [1, d]
            }
        }
        return x
    }
}
