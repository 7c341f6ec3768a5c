import AttnvizModel
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// What the recorder keeps must describe the run it came from: the recorded scores are the
/// recorded Q·Kᵀ/√d_k, the context is the recorded weights times V, and the FFN activation is the
/// activation of the recorded pre-activation — per head, for every layer and attention kind.
@Suite struct RecordConsistencyTests {
    static func check(_ recorder: Recorder, activation: Activation, label: String) throws {
        // Worst |Δ| and worst |Δ| / bound, the bound 2γₖ·Σ|aᵢbᵢ| of two float32 sums of the
        // same k products in different orders (RoundingBound.gamma).
        var worstScore: Float = 0, worstContext: Float = 0, worstAct: Float = 0
        var ratioScore = 0.0, ratioContext = 0.0, ratioAct = 0.0
        #expect(!recorder.layers.isEmpty)
        for layer in recorder.layers {
            for a in layer.attention {
                let (h, nq, nk) = (a.weights.shape[0], a.weights.shape[1], a.weights.shape[2])
                let dk = a.q.shape[2]
                #expect(a.q.shape == [h, nq, dk] && a.k.shape == [h, nk, dk] && a.v.shape == [h, nk, dk])
                #expect(a.context.shape == [nq, h * dk])
                let scale = 1 / Float(dk).squareRoot()
                for head in 0..<h {
                    for i in 0..<nq {
                        for j in 0..<nk {
                            let s = a.scores.data[(head * nq + i) * nk + j]
                            guard s.isFinite else { continue }  // masked
                            var dot: Float = 0, magnitude = 0.0
                            for c in 0..<dk {
                                let term = a.q.data[(head * nq + i) * dk + c] * a.k.data[(head * nk + j) * dk + c]
                                dot += term
                                magnitude += Double(abs(term))
                            }
                            let delta = abs(dot * scale - s)
                            worstScore = max(worstScore, delta)
                            // One more rounding for the scale factor on each side.
                            ratioScore = max(ratioScore, Double(delta) / (2 * RoundingBound.gamma(dk + 2) * magnitude * Double(scale) + .leastNormalMagnitude))
                        }
                        for c in 0..<dk {
                            var sum: Float = 0, magnitude = 0.0
                            for j in 0..<nk {
                                let term = a.weights.data[(head * nq + i) * nk + j] * a.v.data[(head * nk + j) * dk + c]
                                sum += term
                                magnitude += Double(abs(term))
                            }
                            let delta = abs(sum - a.context.data[i * h * dk + head * dk + c])
                            worstContext = max(worstContext, delta)
                            ratioContext = max(ratioContext, Double(delta) / (2 * RoundingBound.gamma(nk + 1) * magnitude + .leastNormalMagnitude))
                        }
                    }
                }
            }
            for (pre, act) in zip(layer.ffnPre.data, layer.ffnAct.data) {
                // The same function of the same input: a few ulps of the input's scale at most.
                let delta = abs(activation.apply(pre) - act)
                worstAct = max(worstAct, delta)
                ratioAct = max(ratioAct, Double(delta) / (4 * RoundingBound.eps32 * max(Double(abs(pre)), Double(abs(act)), 1e-30)))
            }
        }
        print("  \(label): recorded scores vs Q·Kᵀ/√d_k max|Δ| = \(worstScore), context vs weights·V = \(worstContext), FFN act = \(worstAct)")
        print("  \(label): |Δ| / bound: scores \(ratioScore), context \(ratioContext), FFN act \(ratioAct)")
        #expect(ratioScore <= 1)
        #expect(ratioContext <= 1)
        #expect(ratioAct <= 1)
    }

    @Test func bert() throws {
        guard case let .bert(model) = try ModelRegistry.load(directory: Fixtures.path("tiny/bert")) else { throw CancellationError() }
        let ids = try SafetensorsFile(path: Fixtures.path("tiny/bert/golden_g2_pair.safetensors")).integers("input_ids")
        let recorder = Recorder()
        _ = try model.forward(ids: ids, typeIds: Array(repeating: 0, count: ids.count), recorder: recorder)
        try Self.check(recorder, activation: model.config.hiddenAct, label: "tiny BERT")
    }

    @Test func gpt2() throws {
        guard case let .gpt2(model) = try ModelRegistry.load(directory: Fixtures.path("tiny/gpt2")) else { throw CancellationError() }
        let ids = try SafetensorsFile(path: Fixtures.path("tiny/gpt2/golden_g2.safetensors")).integers("input_ids")
        let recorder = Recorder()
        _ = try model.forward(ids: ids, recorder: recorder)
        try Self.check(recorder, activation: model.config.activationFunction, label: "tiny GPT-2")
    }

    @Test func marianEncoderDecoderAndCross() throws {
        guard case let .marian(model) = try ModelRegistry.load(directory: Fixtures.path("tiny/marian")) else { throw CancellationError() }
        let file = try SafetensorsFile(path: Fixtures.path("tiny/marian/golden_g1.safetensors"))
        let src = try file.integers("input_ids"), tgt = try file.integers("decoder_input_ids")
        let mask = try file.integers("attention_mask").map { $0 != 0 }
        let recorder = Recorder()
        let encoded = try model.encode(ids: src, mask: mask, recorder: recorder)
        var cache = model.emptyCache()
        _ = try model.decode(ids: tgt, encoderOutput: encoded, encoderMask: mask, cache: &cache, recorder: recorder)
        #expect(recorder.layers.contains { $0.attention.contains { $0.kind == .cross } })
        try Self.check(recorder, activation: model.config.activationFunction, label: "tiny Marian")
    }
}
