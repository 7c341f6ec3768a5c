import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// Finite-difference checks of every backward piece at float64: central differences with
/// h = 1e-5, whose truncation error (~h²·f‴ ≈ 1e-10) and rounding error (~1e-16·|L|/h ≈ 1e-11·|L|)
/// are far below the tolerance 1e-6 · max(1, |L|, max|∂L|) used for each element.
@Suite struct TrainingGradientTests {
    static let h = 1e-5

    /// Random values in [−scale, scale).
    static func random(_ n: Int, _ rng: inout DropoutRNG, scale: Double = 1) -> [Double] {
        (0..<n).map { _ in (rng.uniform() * 2 - 1) * scale }
    }

    /// Compares analytic gradients with central differences of `loss` over `count` scalars at
    /// `values`; prints and checks the largest difference.
    static func check(_ what: String, analytic: [Double], count: Int, values: UnsafeMutablePointer<Double>,
                      loss: () -> Double) {
        #expect(analytic.count == count, "\(what): gradient length")
        let l0 = abs(loss())
        var worst = 0.0, largest = 0.0
        for i in 0..<count {
            let keep = values[i]
            values[i] = keep + h
            let up = loss()
            values[i] = keep - h
            let down = loss()
            values[i] = keep
            let numeric = (up - down) / (2 * h)
            worst = max(worst, abs(numeric - analytic[i]))
            largest = max(largest, abs(numeric))
        }
        let tolerance = 1e-6 * max(1, l0, largest)
        print("finite differences, \(what): max |Δ| = \(worst) over \(count) values (max |∂L| \(largest), tolerance \(tolerance))")
        #expect(worst <= tolerance, "\(what): max |Δ| \(worst) > \(tolerance)")
        #expect(largest > 0, "\(what): every gradient is zero — the check would be vacuous")
    }

    /// Parameters [count] with random values, gradients zeroed.
    static func buffers(_ count: Int, _ rng: inout DropoutRNG, scale: Double = 0.5) -> (Buffer<Double>, Buffer<Double>) {
        let p = Buffer<Double>(count: count), g = Buffer<Double>(count: count)
        for (i, v) in random(count, &rng, scale: scale).enumerated() { p.base[i] = v }
        return (p, g)
    }

    /// A buffer holding `values` (inputs perturbed in place by `check`).
    static func buffer(_ values: [Double]) -> Buffer<Double> {
        let b = Buffer<Double>(count: values.count)
        for (i, v) in values.enumerated() { b.base[i] = v }
        return b
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    // MARK: attention

    func attention(causal: Bool, cross: Bool, dropout: Double) {
        var rng = DropoutRNG(seed: 11)
        let B = 2, nq = 4, nk = cross ? 5 : 4, d = 6, heads = 2
        var next = 0
        func dense() -> DenseSlot { defer { next += d * d + d }; return DenseSlot(weight: next, bias: next + d * d, inDim: d, outDim: d) }
        let slot = AttentionSlot(q: dense(), k: dense(), v: dense(), o: dense(), heads: heads)
        let (p, g) = Self.buffers(next, &rng)
        let xq = Self.buffer(Self.random(B * nq * d, &rng)), xkv = Self.buffer(cross ? Self.random(B * nk * d, &rng) : [])
        // Padding: the second sequence's last two keys (and, for self-attention, queries).
        var real = [Bool](repeating: true, count: B * nk)
        real[B * nk - 1] = false; real[B * nk - 2] = false
        let mask = BatchMask(batch: B, queries: nq, keys: nk, keyIsReal: causal ? nil : real, causal: causal)
        let w = Self.random(B * nq * d, &rng)
        func loss() -> Double {
            var r = DropoutRNG(seed: 5)
            return Self.dot(AttentionOps.forward(xq.values, cross ? xkv.values : xq.values, mask: mask, slot, dropout: dropout, rng: &r, params: p.base).y, w)
        }
        var r = DropoutRNG(seed: 5)
        let (_, saved) = AttentionOps.forward(xq.values, cross ? xkv.values : xq.values, mask: mask, slot, dropout: dropout, rng: &r, params: p.base)
        if !causal {
            // Padded keys get exactly zero weight.
            var leaked = 0
            for b in 0..<B {
                for hh in 0..<heads {
                    for i in 0..<nq {
                        for j in 0..<nk where !real[b * nk + j] {
                            let index: Int = ((b * heads + hh) * nq + i) * nk + j
                            if saved.probs[index] != 0 { leaked += 1 }
                        }
                    }
                }
            }
            #expect(leaked == 0, "padded keys with non-zero weight")
        }
        let (dxq, dxkv) = AttentionOps.backward(w, saved: saved, mask: mask, slot, params: p.base, grads: g.base)
        let name = "attention (\(causal ? "causal" : "padding mask"), \(cross ? "cross" : "self"), dropout \(dropout))"
        Self.check(name + " ∂params", analytic: g.values, count: p.count, values: p.base, loss: loss)
        if cross {
            Self.check(name + " ∂queries", analytic: dxq, count: xq.count, values: xq.base, loss: loss)
            Self.check(name + " ∂memory", analytic: dxkv, count: xkv.count, values: xkv.base, loss: loss)
        } else {
            let dx = zip(dxq, dxkv).map { $0 + $1 }
            Self.check(name + " ∂x", analytic: dx, count: xq.count, values: xq.base, loss: loss)
        }
    }

    @Test func attentionWithPaddingMask() { attention(causal: false, cross: false, dropout: 0) }
    @Test func causalAttention() { attention(causal: true, cross: false, dropout: 0) }
    @Test func crossAttentionWithPaddingAndDropout() { attention(causal: false, cross: true, dropout: 0.3) }

    // MARK: LayerNorm, feed-forward

    @Test func layerNorm() {
        var rng = DropoutRNG(seed: 3)
        let n = 5, d = 7
        let slot = NormSlot(gamma: 0, beta: d, width: d)
        let (p, g) = Self.buffers(2 * d, &rng, scale: 1.5)
        let x = Self.buffer(Self.random(n * d, &rng, scale: 2))
        let w = Self.random(n * d, &rng)
        func loss() -> Double { Self.dot(LayerNormOps.forward(x.values, rows: n, slot, eps: 1e-5, params: p.base).y, w) }
        let saved = LayerNormOps.forward(x.values, rows: n, slot, eps: 1e-5, params: p.base).saved
        let dx = LayerNormOps.backward(w, saved: saved, rows: n, slot, params: p.base, grads: g.base)
        Self.check("LayerNorm ∂γ,β", analytic: g.values, count: p.count, values: p.base, loss: loss)
        Self.check("LayerNorm ∂x", analytic: dx, count: x.count, values: x.base, loss: loss)
    }

    @Test(arguments: Activation.allCases) func feedForward(_ activation: Activation) {
        var rng = DropoutRNG(seed: 7)
        let n = 3, d = 4, inner = 6
        let slot = FeedForwardSlot(fc1: DenseSlot(weight: 0, bias: inner * d, inDim: d, outDim: inner),
                                   fc2: DenseSlot(weight: inner * d + inner, bias: 2 * inner * d + inner, inDim: inner, outDim: d))
        let (p, g) = Self.buffers(2 * inner * d + inner + d, &rng, scale: 0.8)
        let x = Self.buffer(Self.random(n * d, &rng, scale: 1.5))
        let w = Self.random(n * d, &rng)
        func loss() -> Double {
            var r = DropoutRNG(seed: 1)
            return Self.dot(FeedForwardOps.forward(x.values, rows: n, slot, activation: activation, dropout: 0.25, rng: &r, params: p.base).y, w)
        }
        var r = DropoutRNG(seed: 1)
        let saved = FeedForwardOps.forward(x.values, rows: n, slot, activation: activation, dropout: 0.25, rng: &r, params: p.base).saved
        // ReLU's kink: finite differences are meaningless within h of 0.
        #expect(saved.pre.allSatisfy { abs($0) > 10 * Self.h }, "a pre-activation lies on ReLU's kink; pick another seed")
        let dx = FeedForwardOps.backward(w, saved: saved, rows: n, slot, activation: activation, params: p.base, grads: g.base)
        Self.check("FFN (\(activation.rawValue), dropout 0.25) ∂params", analytic: g.values, count: p.count, values: p.base, loss: loss)
        Self.check("FFN (\(activation.rawValue)) ∂x", analytic: dx, count: x.count, values: x.base, loss: loss)
    }

    // MARK: loss, embeddings

    @Test(arguments: [0.0, 0.1, 0.4]) func smoothedCrossEntropy(_ eps: Double) {
        var rng = DropoutRNG(seed: 9)
        let n = 5, V = 7, pad = 3
        let logitBuffer = Self.buffer(Self.random(n * V, &rng, scale: 3))
        let logits = logitBuffer.values
        let labels = [1, pad, 6, 0, pad]
        func loss() -> Double { (SmoothedCrossEntropy.evaluate(logitBuffer.values, labels: labels, vocab: V, smoothing: eps, ignore: pad) as SmoothedCrossEntropy.Result<Double>).loss }
        // The definition, written out: mean over non-pad rows of −Σ_j q_j log softmax_j.
        var reference = 0.0
        for r in 0..<n where labels[r] != pad {
            let row = Array(logits[(r * V)..<((r + 1) * V)])
            let lse = log(row.map { exp($0) }.reduce(0, +))
            for j in 0..<V { reference -= ((j == labels[r] ? 1 - eps : 0) + eps / Double(V)) * (row[j] - lse) }
        }
        reference /= 3
        let result: SmoothedCrossEntropy.Result<Double> = SmoothedCrossEntropy.evaluate(logits, labels: labels, vocab: V, smoothing: eps, ignore: pad)
        print("label-smoothed cross-entropy ε = \(eps): \(result.loss) vs definition \(reference)")
        #expect(abs(result.loss - reference) <= 1e-12 * max(1, abs(reference)))
        #expect(result.counted == 3)
        #expect(result.dLogits[(1 * V)..<(2 * V)].allSatisfy { $0 == 0 }, "ignored rows get no gradient")
        Self.check("cross-entropy ε = \(eps) ∂logits", analytic: result.dLogits, count: logitBuffer.count, values: logitBuffer.base, loss: loss)
    }

    @Test func tiedEmbeddings() {
        var rng = DropoutRNG(seed: 13)
        let V = 6, d = 4, B = 2, n = 3
        let emb = TiedEmbedding(table: 0, vocab: V, width: d, scale: 2, paddingID: nil)
        let (p, g) = Self.buffers(V * d, &rng)
        let positions = Self.random(n * d, &rng)
        let bias = Self.random(V, &rng)
        let ids = [1, 4, 4, 0, 5, 2]  // [B, n], id 4 twice
        let w = Self.random(B * n * V, &rng)
        // Embed, a fixed nonlinearity (so the two uses of the table interact), project.
        func forward() -> (x: [Double], h: [Double], logits: [Double]) {
            let x = emb.embed(ids, length: n, positions: positions, params: p.base)
            let h = x.map { tanh($0) }
            return (x, h, emb.project(h, rows: B * n, bias: bias, params: p.base))
        }
        func loss() -> Double { Self.dot(forward().logits, w) }
        let (x, hidden, _) = forward()
        let dh = emb.projectBackward(w, h: hidden, rows: B * n, params: p.base, grads: g.base)
        let dx = zip(dh, x).map { $0 * (1 - tanh($1) * tanh($1)) }
        emb.embedBackward(dx, ids: ids, grads: g.base)
        Self.check("tied embeddings + output projection ∂table", analytic: g.values, count: p.count, values: p.base, loss: loss)
        // nn.Embedding(padding_idx): the pad row gets only the projection's share.
        let padded = TiedEmbedding(table: 0, vocab: V, width: d, scale: 2, paddingID: 4)
        g.zero()
        padded.embedBackward(dx, ids: ids, grads: g.base)
        #expect((0..<d).allSatisfy { g.base[4 * d + $0] == 0 } && (0..<d).contains { g.base[1 * d + $0] != 0 })
    }

    // MARK: the whole model

    /// A tiny Marian config (JSON, as config.json would hold it).
    static func tinyConfig(d: Int = 8, layers: (Int, Int) = (1, 1), heads: Int = 2, ffn: Int = 12, vocab: Int = 11,
                           activation: String = "swish") throws -> MarianConfig {
        let json = """
        {"d_model": \(d), "encoder_layers": \(layers.0), "decoder_layers": \(layers.1), "encoder_attention_heads": \(heads),
         "decoder_attention_heads": \(heads), "encoder_ffn_dim": \(ffn), "decoder_ffn_dim": \(ffn),
         "activation_function": "\(activation)", "max_position_embeddings": 16, "vocab_size": \(vocab),
         "scale_embedding": true, "pad_token_id": \(vocab - 1), "decoder_start_token_id": \(vocab - 1)}
        """
        return try JSONDecoder().decode(MarianConfig.self, from: Data(json.utf8))
    }

    /// Every parameter of a tiny model (padding in the source, ignored labels, ε = 0.1, all three
    /// dropouts on with fixed masks) against finite differences of the full loss.
    @Test func wholeModel() throws {
        let config = try Self.tinyConfig()
        var rng = DropoutRNG(seed: 21)
        let net = MarianNetwork<Double>(config: config, finalLogitsBias: Self.random(11, &rng, scale: 0.1),
                                        dropout: DropoutRates(hidden: 0.1, attention: 0.2, activation: 0.15))
        for (i, v) in Self.random(net.params.count, &rng, scale: 0.5).enumerated() { net.params.base[i] = v }
        let pad = 10
        let batch = TrainingBatch(batch: 2, sourceLength: 4, targetLength: 3,
                                  inputIDs: [3, 5, 7, 1, 2, 8, pad, pad], decoderInputIDs: [pad, 4, 4, pad, 6, 9],
                                  labels: [4, 4, 2, 6, 9, pad])
        func loss() -> Double {
            var r = DropoutRNG(seed: 99)
            return net.step(batch, smoothing: 0.1, rng: &r, backward: false).loss
        }
        var r = DropoutRNG(seed: 99)
        let result = net.step(batch, smoothing: 0.1, rng: &r)
        #expect(result.tokens == 5)
        let analytic = net.grads.values
        // The padding id's embedding row gets only the output projection's share (nn.Embedding
        // padding_idx), so finite differences, which see every use, differ there by design:
        // compare every other parameter (tiedEmbeddings checks the pad row rule).
        let table = net.layout.embedding
        let padRow = (table.table + pad * table.width)..<(table.table + (pad + 1) * table.width)
        var kept: [Double] = [], numericIndex: [Int] = []
        for i in 0..<net.params.count where !padRow.contains(i) { kept.append(analytic[i]); numericIndex.append(i) }
        let view = Buffer<Double>(count: kept.count)
        for (j, i) in numericIndex.enumerated() { view.base[j] = net.params.base[i] }
        func viewLoss() -> Double {
            for (j, i) in numericIndex.enumerated() { net.params.base[i] = view.base[j] }
            return loss()
        }
        Self.check("whole model (1+1 layers, ε 0.1, dropout) ∂θ", analytic: kept, count: kept.count, values: view.base, loss: viewLoss)
    }

    // MARK: optimizer

    @Test func noamSchedule() {
        let s = NoamSchedule(dModel: 64, warmup: 100, factor: 2)
        for step in [1, 7, 99, 100, 101, 5000] {
            let expected = 2 / 8 * min(1 / Double(step).squareRoot(), Double(step) / pow(100, 1.5))
            #expect(abs(s.rate(step: step) - expected) <= 1e-15 * expected, "step \(step)")
        }
        #expect((1..<100).allSatisfy { s.rate(step: $0) < s.rate(step: $0 + 1) }, "rises during warmup")
        #expect((100..<300).allSatisfy { s.rate(step: $0) > s.rate(step: $0 + 1) }, "then decays as step^-0.5")
    }

    /// Three Adam steps against the update written out (bias-corrected moments).
    @Test func adamMatchesItsDefinition() {
        let p = Self.buffer([0.5, -1, 2]), g = Buffer<Double>(count: 3)
        let adam = Adam<Double>(count: 3)
        var m = [0.0, 0, 0], v = [0.0, 0, 0], theta = [0.5, -1, 2]
        for (t, grad) in [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]].enumerated() {
            for i in 0..<3 { g.base[i] = grad[i] }
            adam.update(params: p, grads: g, lr: 0.01)
            let k = Double(t + 1)
            for i in 0..<3 {
                m[i] = 0.9 * m[i] + 0.1 * grad[i]
                v[i] = 0.98 * v[i] + 0.02 * grad[i] * grad[i]
                theta[i] -= 0.01 * (m[i] / (1 - pow(0.9, k))) / ((v[i] / (1 - pow(0.98, k))).squareRoot() + 1e-9)
            }
        }
        let worst = zip(p.values, theta).map { abs($0 - $1) }.max() ?? .nan
        print("Adam, 3 steps vs the written-out update: max |Δθ| = \(worst)")
        #expect(worst <= 1e-12)
    }
}
