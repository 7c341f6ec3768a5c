import AttnvizTensor

/// One training batch, right-padded with the config's pad id: B source rows of S ids, B
/// decoder-input rows and B label rows of T ids. Source pads are masked from attention; labels
/// equal to pad are ignored by the loss.
public struct TrainingBatch: Sendable, Equatable {
    public let batch: Int, sourceLength: Int, targetLength: Int
    public let inputIDs: [Int]         // [B, S]
    public let decoderInputIDs: [Int]  // [B, T]
    public let labels: [Int]           // [B, T]

    public init(batch: Int, sourceLength: Int, targetLength: Int, inputIDs: [Int], decoderInputIDs: [Int], labels: [Int]) {
        self.batch = batch; self.sourceLength = sourceLength; self.targetLength = targetLength
        self.inputIDs = inputIDs; self.decoderInputIDs = decoderInputIDs; self.labels = labels
    }
}

/// What one forward (+ backward) pass reports.
public struct StepResult: Sendable {
    public var loss: Double     // mean label-smoothed cross-entropy over non-pad labels
    public var tokens: Int      // non-pad labels
    public var correct: Int     // of those, how many the argmax gets right (teacher forced)
    public var logits: [Float]  // [B·T, vocab], kept only when asked
}

/// The Marian encoder–decoder as a trainable network over a flat parameter buffer, in
/// precision S. `step` runs the forward pass keeping what backward needs, then the backward
/// pass, leaving ∂loss/∂θ in `grads` (same layout as `params`).
public final class MarianNetwork<S: TrainScalar>: @unchecked Sendable {
    public let config: MarianConfig
    public let layout: MarianLayout
    public let params: Buffer<S>
    public let grads: Buffer<S>
    public let finalLogitsBias: [S]  // [vocab] buffer, not trained
    public var dropout: DropoutRates
    let positions: [S]               // [max_position_embeddings, d]
    let eps: S = S(MarianModel.layerNormEps)

    public init(config: MarianConfig, finalLogitsBias: [S], dropout: DropoutRates) {
        self.config = config
        layout = MarianLayout(config: config)
        params = Buffer(count: layout.count)
        grads = Buffer(count: layout.count)
        self.finalLogitsBias = finalLogitsBias
        self.dropout = dropout
        positions = MarianModel.positions(0..<config.maxPositionEmbeddings, d: config.dModel).data.map { S($0) }
    }

    public convenience init(checkpoint c: MarianCheckpoint) {
        self.init(config: c.config, finalLogitsBias: c.finalLogitsBias.data.map { S($0) }, dropout: c.dropout)
        for e in layout.entries {
            guard let t = c.parameters[e.name] else { continue }  // load() read every entry
            for i in 0..<e.count { params.base[e.offset + i] = S(t.data[i]) }
        }
    }

    /// The parameters (or, with `gradients`, the gradients) as Float tensors under HF names.
    public func tensors(gradients: Bool = false) -> [String: Tensor] {
        let source = gradients ? grads : params
        var out: [String: Tensor] = [:]
        for e in layout.entries {
            out[e.name] = Tensor(uncheckedShape: e.shape, data: (0..<e.count).map { Float(source.base[e.offset + $0]) })
        }
        return out
    }

    /// What a post-LN sub-layer keeps: h = LayerNorm(x + dropout(sublayer(x))).
    struct Residual {
        var drop: DropoutMask<S>, norm: NormSaved<S>
    }

    struct AttentionBlock {
        var attention: AttentionSaved<S>, residual: Residual
    }

    struct FeedForwardBlock {
        var ffn: FeedForwardSaved<S>, residual: Residual
    }

    /// The per-step settings every block reads.
    struct Pass {
        let rows: Int, pHidden: S, pAttention: S, pActivation: S
    }

    /// x [rows, d] + dropout(sub) → LayerNorm → [rows, d]
    func addNorm(_ x: [S], _ sub: [S], _ slot: NormSlot, _ pass: Pass, rng: inout DropoutRNG) -> ([S], Residual) {
        var sub = sub
        let drop = DropoutMask<S>(count: sub.count, p: pass.pHidden, rng: &rng)
        drop.apply(&sub)
        let (h, norm) = LayerNormOps.forward(Elementwise.add(x, sub), rows: pass.rows, slot, eps: eps, params: params.base)
        return (h, Residual(drop: drop, norm: norm))
    }

    /// dh → (d residual input, d sub-layer output); LayerNorm gradients into `grads`.
    func addNormBackward(_ dh: [S], _ r: Residual, _ slot: NormSlot, rows: Int) -> (dx: [S], dSub: [S]) {
        let dSum = LayerNormOps.backward(dh, saved: r.norm, rows: rows, slot, params: params.base, grads: grads.base)
        var dSub = dSum
        r.drop.apply(&dSub)
        return (dSum, dSub)
    }

    /// Attention of x over `memory` (nil: itself) + residual + LayerNorm.
    func attentionBlock(_ x: [S], memory: [S]?, mask: BatchMask, _ slot: AttentionSlot, _ norm: NormSlot, _ pass: Pass,
                        rng: inout DropoutRNG) -> ([S], AttentionBlock) {
        let (a, saved) = AttentionOps.forward(x, memory ?? x, mask: mask, slot, dropout: pass.pAttention, rng: &rng, params: params.base)
        let (h, residual) = addNorm(x, a, norm, pass, rng: &rng)
        return (h, AttentionBlock(attention: saved, residual: residual))
    }

    /// dh → (dx, d memory); for self-attention both gradients are already in dx and d memory is empty.
    func attentionBlockBackward(_ dh: [S], _ b: AttentionBlock, mask: BatchMask, _ slot: AttentionSlot, _ norm: NormSlot,
                                rows: Int, cross: Bool) -> (dx: [S], dMemory: [S]) {
        var (dx, dSub) = addNormBackward(dh, b.residual, norm, rows: rows)
        let (dq, dkv) = AttentionOps.backward(dSub, saved: b.attention, mask: mask, slot, params: params.base, grads: grads.base)
        Elementwise.accumulate(&dx, dq)
        guard cross else { Elementwise.accumulate(&dx, dkv); return (dx, []) }
        return (dx, dkv)
    }

    func feedForwardBlock(_ x: [S], _ slot: FeedForwardSlot, _ norm: NormSlot, _ pass: Pass, rng: inout DropoutRNG) -> ([S], FeedForwardBlock) {
        let (f, saved) = FeedForwardOps.forward(x, rows: pass.rows, slot, activation: config.activationFunction, dropout: pass.pActivation,
                                                rng: &rng, params: params.base)
        let (h, residual) = addNorm(x, f, norm, pass, rng: &rng)
        return (h, FeedForwardBlock(ffn: saved, residual: residual))
    }

    func feedForwardBlockBackward(_ dh: [S], _ b: FeedForwardBlock, _ slot: FeedForwardSlot, _ norm: NormSlot, rows: Int) -> [S] {
        var (dx, dSub) = addNormBackward(dh, b.residual, norm, rows: rows)
        Elementwise.accumulate(&dx, FeedForwardOps.backward(dSub, saved: b.ffn, rows: rows, slot, activation: config.activationFunction,
                                                            params: params.base, grads: grads.base))
        return dx
    }

    /// Forward and (with `backward`) backward over one batch. Gradients are overwritten.
    /// `smoothing` is ε of the label-smoothed loss; dropout masks come from `rng`.
    public func step(_ b: TrainingBatch, smoothing: Double, rng: inout DropoutRNG, backward: Bool = true,
                     keepLogits: Bool = false) -> StepResult {
        let B = b.batch, Sn = b.sourceLength, T = b.targetLength, d = config.dModel
        let p = UnsafePointer(params.base), g = grads.base, emb = layout.embedding
        let source = Pass(rows: B * Sn, pHidden: S(dropout.hidden), pAttention: S(dropout.attention), pActivation: S(dropout.activation))
        let target = Pass(rows: B * T, pHidden: source.pHidden, pAttention: source.pAttention, pActivation: source.pActivation)
        let sourceReal = b.inputIDs.map { $0 != config.padTokenId }
        let encoderMask = BatchMask(batch: B, queries: Sn, keys: Sn, keyIsReal: sourceReal, causal: false)
        let selfMask = BatchMask(batch: B, queries: T, keys: T, keyIsReal: nil, causal: true)
        let crossMask = BatchMask(batch: B, queries: T, keys: Sn, keyIsReal: sourceReal, causal: false)

        // Encoder.
        var x = emb.embed(b.inputIDs, length: Sn, positions: positions, params: p)  // [B·S, d]
        let encoderEmbeddingDrop = DropoutMask<S>(count: x.count, p: source.pHidden, rng: &rng)
        encoderEmbeddingDrop.apply(&x)
        var encoderSaved: [(AttentionBlock, FeedForwardBlock)] = []
        for layer in layout.encoder {
            let (h1, a) = attentionBlock(x, memory: nil, mask: encoderMask, layer.selfAttention, layer.selfNorm, source, rng: &rng)  // [B·S, d]
            let (h2, f) = feedForwardBlock(h1, layer.ffn, layer.finalNorm, source, rng: &rng)                                       // [B·S, d]
            encoderSaved.append((a, f))
            x = h2
        }
        let memory = x  // [B·S, d]

        // Decoder (teacher forced).
        var y = emb.embed(b.decoderInputIDs, length: T, positions: positions, params: p)  // [B·T, d]
        let decoderEmbeddingDrop = DropoutMask<S>(count: y.count, p: target.pHidden, rng: &rng)
        decoderEmbeddingDrop.apply(&y)
        var decoderSaved: [(AttentionBlock, AttentionBlock, FeedForwardBlock)] = []
        for layer in layout.decoder {
            let (h1, a) = attentionBlock(y, memory: nil, mask: selfMask, layer.selfAttention, layer.selfNorm, target, rng: &rng)          // [B·T, d]
            let (h2, c) = attentionBlock(h1, memory: memory, mask: crossMask, layer.crossAttention, layer.crossNorm, target, rng: &rng)  // [B·T, d]
            let (h3, f) = feedForwardBlock(h2, layer.ffn, layer.finalNorm, target, rng: &rng)                                           // [B·T, d]
            decoderSaved.append((a, c, f))
            y = h3
        }
        let logits = emb.project(y, rows: B * T, bias: finalLogitsBias, params: p)  // [B·T, V]
        let ce: SmoothedCrossEntropy.Result<S> = SmoothedCrossEntropy.evaluate(logits, labels: b.labels, vocab: config.vocabSize,
                                                                               smoothing: smoothing, ignore: config.padTokenId)
        let result = StepResult(loss: ce.loss, tokens: ce.counted, correct: ce.correct, logits: keepLogits ? logits.map { Float($0) } : [])
        guard backward else { return result }

        grads.zero()
        var dy = emb.projectBackward(ce.dLogits, h: y, rows: B * T, params: p, grads: g)  // [B·T, d]
        var dMemory = [S](repeating: 0, count: B * Sn * d)                                // [B·S, d]
        for (layer, (a, c, f)) in zip(layout.decoder, decoderSaved).reversed() {
            let dh2 = feedForwardBlockBackward(dy, f, layer.ffn, layer.finalNorm, rows: B * T)
            let (dh1, dm) = attentionBlockBackward(dh2, c, mask: crossMask, layer.crossAttention, layer.crossNorm, rows: B * T, cross: true)
            Elementwise.accumulate(&dMemory, dm)
            dy = attentionBlockBackward(dh1, a, mask: selfMask, layer.selfAttention, layer.selfNorm, rows: B * T, cross: false).dx
        }
        decoderEmbeddingDrop.apply(&dy)
        emb.embedBackward(dy, ids: b.decoderInputIDs, grads: g)

        var dx = dMemory
        for (layer, (a, f)) in zip(layout.encoder, encoderSaved).reversed() {
            let dh1 = feedForwardBlockBackward(dx, f, layer.ffn, layer.finalNorm, rows: B * Sn)
            dx = attentionBlockBackward(dh1, a, mask: encoderMask, layer.selfAttention, layer.selfNorm, rows: B * Sn, cross: false).dx
        }
        encoderEmbeddingDrop.apply(&dx)
        emb.embedBackward(dx, ids: b.inputIDs, grads: g)
        return result
    }
}
