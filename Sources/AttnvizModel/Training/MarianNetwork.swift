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

    struct EncoderSaved {
        var attention: AttentionSaved<S>, attentionDrop: DropoutMask<S>, selfNorm: NormSaved<S>
        var ffn: FeedForwardSaved<S>, ffnDrop: DropoutMask<S>, finalNorm: NormSaved<S>
    }

    struct DecoderSaved {
        var attention: AttentionSaved<S>, attentionDrop: DropoutMask<S>, selfNorm: NormSaved<S>
        var cross: AttentionSaved<S>, crossDrop: DropoutMask<S>, crossNorm: NormSaved<S>
        var ffn: FeedForwardSaved<S>, ffnDrop: DropoutMask<S>, finalNorm: NormSaved<S>
    }

    /// Forward and (with `backward`) backward over one batch. Gradients are overwritten.
    /// `smoothing` is ε of the label-smoothed loss; dropout masks come from `rng`.
    public func step(_ b: TrainingBatch, smoothing: Double, rng: inout DropoutRNG, backward: Bool = true,
                     keepLogits: Bool = false) -> StepResult {
        let B = b.batch, Sn = b.sourceLength, T = b.targetLength, d = config.dModel
        let p = UnsafePointer(params.base), g = grads.base
        let pHidden = S(dropout.hidden), pAttention = S(dropout.attention), pActivation = S(dropout.activation)
        let act = config.activationFunction, emb = layout.embedding
        let sourceReal = b.inputIDs.map { $0 != config.padTokenId }
        let encoderMask = BatchMask(batch: B, queries: Sn, keys: Sn, keyIsReal: sourceReal, causal: false)
        let selfMask = BatchMask(batch: B, queries: T, keys: T, keyIsReal: nil, causal: true)
        let crossMask = BatchMask(batch: B, queries: T, keys: Sn, keyIsReal: sourceReal, causal: false)

        // Encoder.
        var x = emb.embed(b.inputIDs, length: Sn, positions: positions, params: p)  // [B·S, d]
        let encoderEmbeddingDrop = DropoutMask<S>(count: x.count, p: pHidden, rng: &rng)
        encoderEmbeddingDrop.apply(&x)
        var encoderSaved: [EncoderSaved] = []
        for layer in layout.encoder {
            var (a, aS) = AttentionOps.forward(x, x, mask: encoderMask, layer.selfAttention, dropout: pAttention, rng: &rng, params: p)
            let aDrop = DropoutMask<S>(count: a.count, p: pHidden, rng: &rng)
            aDrop.apply(&a)
            let (h1, n1) = LayerNormOps.forward(Elementwise.add(x, a), rows: B * Sn, layer.selfNorm, eps: eps, params: p)  // [B·S, d]
            var (f, fS) = FeedForwardOps.forward(h1, rows: B * Sn, layer.ffn, activation: act, dropout: pActivation, rng: &rng, params: p)
            let fDrop = DropoutMask<S>(count: f.count, p: pHidden, rng: &rng)
            fDrop.apply(&f)
            let (h2, n2) = LayerNormOps.forward(Elementwise.add(h1, f), rows: B * Sn, layer.finalNorm, eps: eps, params: p)  // [B·S, d]
            encoderSaved.append(EncoderSaved(attention: aS, attentionDrop: aDrop, selfNorm: n1, ffn: fS, ffnDrop: fDrop, finalNorm: n2))
            x = h2
        }
        let memory = x  // [B·S, d]

        // Decoder (teacher forced).
        var y = emb.embed(b.decoderInputIDs, length: T, positions: positions, params: p)  // [B·T, d]
        let decoderEmbeddingDrop = DropoutMask<S>(count: y.count, p: pHidden, rng: &rng)
        decoderEmbeddingDrop.apply(&y)
        var decoderSaved: [DecoderSaved] = []
        for layer in layout.decoder {
            var (a, aS) = AttentionOps.forward(y, y, mask: selfMask, layer.selfAttention, dropout: pAttention, rng: &rng, params: p)
            let aDrop = DropoutMask<S>(count: a.count, p: pHidden, rng: &rng)
            aDrop.apply(&a)
            let (h1, n1) = LayerNormOps.forward(Elementwise.add(y, a), rows: B * T, layer.selfNorm, eps: eps, params: p)  // [B·T, d]
            var (c, cS) = AttentionOps.forward(h1, memory, mask: crossMask, layer.crossAttention, dropout: pAttention, rng: &rng, params: p)
            let cDrop = DropoutMask<S>(count: c.count, p: pHidden, rng: &rng)
            cDrop.apply(&c)
            let (h2, n2) = LayerNormOps.forward(Elementwise.add(h1, c), rows: B * T, layer.crossNorm, eps: eps, params: p)  // [B·T, d]
            var (f, fS) = FeedForwardOps.forward(h2, rows: B * T, layer.ffn, activation: act, dropout: pActivation, rng: &rng, params: p)
            let fDrop = DropoutMask<S>(count: f.count, p: pHidden, rng: &rng)
            fDrop.apply(&f)
            let (h3, n3) = LayerNormOps.forward(Elementwise.add(h2, f), rows: B * T, layer.finalNorm, eps: eps, params: p)  // [B·T, d]
            decoderSaved.append(DecoderSaved(attention: aS, attentionDrop: aDrop, selfNorm: n1, cross: cS, crossDrop: cDrop, crossNorm: n2,
                                             ffn: fS, ffnDrop: fDrop, finalNorm: n3))
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
        for (layer, sv) in zip(layout.decoder, decoderSaved).reversed() {
            let ds3 = LayerNormOps.backward(dy, saved: sv.finalNorm, rows: B * T, layer.finalNorm, params: p, grads: g)
            var df = ds3
            sv.ffnDrop.apply(&df)
            var dh2 = FeedForwardOps.backward(df, saved: sv.ffn, rows: B * T, layer.ffn, activation: act, params: p, grads: g)
            Elementwise.accumulate(&dh2, ds3)
            let ds2 = LayerNormOps.backward(dh2, saved: sv.crossNorm, rows: B * T, layer.crossNorm, params: p, grads: g)
            var dc = ds2
            sv.crossDrop.apply(&dc)
            var (dh1, dm) = AttentionOps.backward(dc, saved: sv.cross, mask: crossMask, layer.crossAttention, params: p, grads: g)
            Elementwise.accumulate(&dh1, ds2)
            Elementwise.accumulate(&dMemory, dm)
            let ds1 = LayerNormOps.backward(dh1, saved: sv.selfNorm, rows: B * T, layer.selfNorm, params: p, grads: g)
            var da = ds1
            sv.attentionDrop.apply(&da)
            let (dq, dkv) = AttentionOps.backward(da, saved: sv.attention, mask: selfMask, layer.selfAttention, params: p, grads: g)
            dy = Elementwise.add(ds1, Elementwise.add(dq, dkv))
        }
        decoderEmbeddingDrop.apply(&dy)
        emb.embedBackward(dy, ids: b.decoderInputIDs, grads: g)

        var dx = dMemory
        for (layer, sv) in zip(layout.encoder, encoderSaved).reversed() {
            let ds2 = LayerNormOps.backward(dx, saved: sv.finalNorm, rows: B * Sn, layer.finalNorm, params: p, grads: g)
            var df = ds2
            sv.ffnDrop.apply(&df)
            var dh1 = FeedForwardOps.backward(df, saved: sv.ffn, rows: B * Sn, layer.ffn, activation: act, params: p, grads: g)
            Elementwise.accumulate(&dh1, ds2)
            let ds1 = LayerNormOps.backward(dh1, saved: sv.selfNorm, rows: B * Sn, layer.selfNorm, params: p, grads: g)
            var da = ds1
            sv.attentionDrop.apply(&da)
            let (dq, dkv) = AttentionOps.backward(da, saved: sv.attention, mask: encoderMask, layer.selfAttention, params: p, grads: g)
            dx = Elementwise.add(ds1, Elementwise.add(dq, dkv))
        }
        encoderEmbeddingDrop.apply(&dx)
        emb.embedBackward(dx, ids: b.inputIDs, grads: g)
        return result
    }
}
