import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// The block, dropout and BERT sections (block-ffn, block-activations, block-batchnorm,
/// block-gradients, train-dropout, bert-vs-elmo, bert-downstream): each computed claim against its
/// definition, recomputed here with naive loops from the recorded tensors.
@Suite struct BlockBertSectionTests {
    static let text = "The animal didn't cross the street because it was too tired, and the street was wide that afternoon."

    static func open(_ model: String) throws -> Session {
        try Session.open(directory: CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/\(model)").path, note: nil)
    }

    static func run(_ session: Session, _ e: Experiment, base: Trace) throws -> Trace {
        let outcome = session.run([e], base: base)[e]
        return try #require(outcome?.trace, "\(e): \(outcome?.reason ?? "no outcome")")
    }

    static func ulpTol(_ k: Int, scale: Double) -> Double { 8 * Double(Float.ulpOfOne) * Double(k).squareRoot() * max(scale, 1e-30) }

    /// Eval is deterministic: a second plain run gives every recorded tensor bit for bit.
    @Test(arguments: ["bert", "gpt2"])
    func evalRunsAreBitIdentical(model: String) throws {
        let session = try Self.open(model)
        let trace = try session.trace(text: Self.text)
        let again = try Self.run(session, .repeatRun, base: trace)
        var worst: Float = 0, compared = 0
        for (a, b) in zip(trace.layers, again.layers) {
            for (x, y) in [(a.output, b.output), (a.ffnAct, b.ffnAct), (a.selfAttention?.weights, b.selfAttention?.weights)].compactMap({ p in p.0.flatMap { x in p.1.map { (x, $0) } } }) {
                #expect(x.shape == y.shape && x.data == y.data)
                for (u, v) in zip(x.data, y.data) { worst = max(worst, abs(u - v)) }
                compared += 1
            }
        }
        #expect(trace.lastHidden.data == again.lastHidden.data)
        print("  \(model) eval repeat: \(compared) tensors, max |Δ| = \(worst)")
        #expect(compared >= 3 * trace.layers.count)
    }

    /// Dropout on: the embedding output is the eval one with elements zeroed at rate p (within
    /// binomial bounds) and the rest scaled by exactly 1/(1 − p); layer 0's attention weights are
    /// the softmax of its recorded scores, each either 0 or scaled by 1/(1 − p); outputs differ.
    @Test func dropoutZeroesAtRatePAndScalesTheRest() throws {
        let session = try Self.open("bert")
        let trace = try session.trace(text: Self.text)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(trace.model.configJSON.utf8)) as? [String: Any])
        let pHidden = (json["hidden_dropout_prob"] as? NSNumber)?.doubleValue ?? 0.1
        let pAttn = (json["attention_probs_dropout_prob"] as? NSNumber)?.doubleValue ?? 0.1
        #expect(pHidden > 0 && pAttn > 0, "the tiny BERT fixture trains with dropout")
        let train = try Self.run(session, .dropout(seed: 7), base: trace)
        let other = try Self.run(session, .dropout(seed: 8), base: trace)
        // Embedding output.
        let e0 = try #require(trace.embeddings?.output), e1 = try #require(train.embeddings?.output)
        var n = 0, zeros = 0, worstScale = 0.0
        let scale = 1 / (1 - pHidden)
        for (a, b) in zip(e0.data, e1.data) where a != 0 {
            n += 1
            if b == 0 { zeros += 1; continue }
            worstScale = max(worstScale, abs(Double(b) - Double(a) * scale) / abs(Double(a) * scale))
        }
        // Attention weights of layer 0 in the dropout run against the softmax of its own scores.
        let att = try #require(train.layers.first?.selfAttention)
        let h = att.scores.shape[0], q = att.scores.shape[1], k = att.scores.shape[2]
        var cells = 0, dropped = 0, worstAttn = 0.0
        let scaleA = 1 / (1 - pAttn)
        for head in 0..<h {
            for i in 0..<q {
                let row = (0..<k).map { Double(att.scores.data[(head * q + i) * k + $0]) }
                let mx = row.max() ?? 0
                let e = row.map { exp($0 - mx) }, sum = e.reduce(0, +)
                for j in 0..<k {
                    let w = Double(att.weights.data[(head * q + i) * k + j]), p = e[j] / sum
                    cells += 1
                    if w == 0 { dropped += 1 } else { worstAttn = max(worstAttn, abs(w - p * scaleA)) }
                }
            }
        }
        func bound(_ count: Int, _ p: Double) -> Double { 4 * (Double(count) * p * (1 - p)).squareRoot() }
        print("  dropout: embeddings \(zeros)/\(n) zeroed (p = \(pHidden), expected \(Double(n) * pHidden) ± \(bound(n, pHidden))), kept scale max rel. error \(worstScale)")
        print("  dropout: attention L0 \(dropped)/\(cells) zeroed (p = \(pAttn), expected \(Double(cells) * pAttn) ± \(bound(cells, pAttn))), kept weights max |Δ| from softmax/(1−p) \(worstAttn)")
        #expect(abs(Double(zeros) - Double(n) * pHidden) <= bound(n, pHidden))
        #expect(abs(Double(dropped) - Double(cells) * pAttn) <= bound(cells, pAttn))
        #expect(worstScale <= 4 * Double(Float.ulpOfOne))
        #expect(worstAttn <= Self.ulpTol(k, scale: scaleA) * 4)
        let diff = BlockAnalysis.maxAbsDiff(trace.lastHidden, train.lastHidden), seeds = BlockAnalysis.maxAbsDiff(train.lastHidden, other.lastHidden)
        print("  dropout: final output max |train − eval| = \(diff), between seeds 7 and 8 = \(seeds)")
        #expect(diff > 0 && seeds > 0)
        // The same seed gives the same masks.
        let same = try Self.run(session, .dropout(seed: 7), base: trace)
        #expect(same.lastHidden.data == train.lastHidden.data)
    }

    /// The tiny GPT-2's config sets every dropout probability to 0: its dropout run is the eval run.
    @Test func zeroDropoutProbabilityChangesNothing() throws {
        let session = try Self.open("gpt2")
        let trace = try session.trace(text: Self.text)
        let train = try Self.run(session, .dropout(seed: 7), base: trace)
        print("  gpt2 (p = 0) dropout vs eval: max |Δ| = \(BlockAnalysis.maxAbsDiff(trace.lastHidden, train.lastHidden))")
        #expect(train.lastHidden.data == trace.lastHidden.data)
    }

    /// The ablations do what their definitions say, checked on layer 0 from the recorded tensors:
    /// no LayerNorm → out = x + f(x); no residual → out = LN(f(x)) with LN's γ, β recovered from the
    /// trained run's own LayerNorm input/output; neither → out = f(x). The attention output of
    /// layer 0 is unchanged (same input).
    @Test func ablationsMatchARecomputationOfLayerZero() throws {
        let session = try Self.open("bert")
        let trace = try session.trace(text: Self.text)
        let main = try #require(trace.layers.first?.sublayers.first)
        let d = main.normInput.rowWidth, n = main.normInput.rowCount
        let eps = trace.model.layerNormEps
        func standardise(_ x: Tensor) -> [Double] {
            var z = [Double](repeating: 0, count: x.count)
            for i in 0..<x.rowCount {
                let row = x.row(i).map(Double.init)
                let mu = row.reduce(0, +) / Double(d), v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(d)
                for k in 0..<d { z[i * d + k] = (row[k] - mu) / (v + eps).squareRoot() }
            }
            return z
        }
        // γ, β of the attention LayerNorm by least squares over tokens.
        let z = standardise(main.normInput)
        var gamma = [Double](repeating: 0, count: d), beta = gamma
        for k in 0..<d {
            let zs = (0..<n).map { z[$0 * d + k] }, ys = (0..<n).map { Double(main.normOutput.data[$0 * d + k]) }
            let mz = zs.reduce(0, +) / Double(n), my = ys.reduce(0, +) / Double(n)
            var c = 0.0, v = 0.0
            for i in 0..<n { c += (zs[i] - mz) * (ys[i] - my); v += (zs[i] - mz) * (zs[i] - mz) }
            gamma[k] = v > 0 ? c / v : 0; beta[k] = my - gamma[k] * mz
        }
        for (residual, layerNorm) in [(false, true), (true, false), (false, false)] {
            let t = try Self.run(session, .ablated(residual: residual, layerNorm: layerNorm), base: trace)
            let sub = try #require(t.layers.first?.sublayers.first), ffn = try #require(t.layers.first?.sublayers.last)
            #expect(sub.output.data == main.output.data, "layer 0 sees the same input, so its attention output is the same")
            var expected = [Double](repeating: 0, count: sub.output.count)
            switch (residual, layerNorm) {
            case (false, true):
                let zf = standardise(sub.output)
                for i in 0..<n { for k in 0..<d { expected[i * d + k] = gamma[k] * zf[i * d + k] + beta[k] } }
            case (true, false):
                for i in expected.indices { expected[i] = Double(sub.residualIn.data[i]) + Double(sub.output.data[i]) }
            default:
                for i in expected.indices { expected[i] = Double(sub.output.data[i]) }
            }
            let scale = expected.map(abs).max() ?? 1
            let worst = zip(expected, sub.residualOut.data).map { abs($0 - Double($1)) }.max() ?? 0
            let tol = Self.ulpTol(d, scale: scale)
            print("  ablation residual=\(residual) layerNorm=\(layerNorm): layer 0 attention sub-layer max |Δ| vs recomputation \(worst) (tol \(tol))")
            #expect(worst <= tol)
            // The FFN sub-layer composes the same way, and its result is the layer's output.
            #expect(ffn.residualIn.data == sub.residualOut.data)
            #expect(t.layers[0].output.data == ffn.residualOut.data)
            if !layerNorm {
                let sum = zip(ffn.residualIn.data, ffn.output.data).map { residual ? Double($0) + Double($1) : Double($1) }
                let w = zip(sum, ffn.residualOut.data).map { abs($0 - Double($1)) }.max() ?? 0
                #expect(w <= Self.ulpTol(d, scale: sum.map(abs).max() ?? 1))
            }
        }
    }

    /// Replacing the last word: for BERT every earlier position's final output changes; for the
    /// causal GPT-2 every earlier position is bit-identical in every layer. Embeddings of earlier
    /// positions are identical in both.
    @Test(arguments: ["bert", "gpt2"])
    func lastWordChangeReachesEarlierOutputsOnlyInTheEncoder(model: String) throws {
        let session = try Self.open(model)
        let trace = try session.trace(text: Self.text)
        var study = Study(inputName: "s", text: Self.text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let sub = try #require(BertDownstreamSection.substitution(study))
        #expect(sub.id != trace.tokens[sub.position].id)
        let changed = try Self.run(session, .substituted(position: sub.position, id: sub.id), base: trace)
        #expect(changed.tokens[sub.position].id == sub.id)
        let d = trace.model.dModel
        func rowsEqual(_ a: Tensor, _ b: Tensor, _ i: Int) -> Bool { Array(a.data[(i * d)..<((i + 1) * d)]) == Array(b.data[(i * d)..<((i + 1) * d)]) }
        let e0 = try #require(trace.embeddings?.output), e1 = try #require(changed.embeddings?.output)
        #expect((0..<sub.position).allSatisfy { rowsEqual(e0, e1, $0) })
        var minChange = Float.infinity, maxChange: Float = 0
        for (a, b) in zip(trace.layers, changed.layers) {
            for i in 0..<sub.position {
                var m: Float = 0
                for k in 0..<d { m = max(m, abs(a.output.data[i * d + k] - b.output.data[i * d + k])) }
                minChange = min(minChange, m); maxChange = max(maxChange, m)
            }
        }
        print("  \(model): last word at \(sub.position) replaced; earlier positions' max |Δ| over layers from \(minChange) to \(maxChange)")
        if trace.model.architecture == .encoder {
            let last = try #require(trace.layers.last), lastChanged = try #require(changed.layers.last)
            #expect((0..<sub.position).allSatisfy { !rowsEqual(last.output, lastChanged.output, $0) })
        } else {
            #expect(maxChange == 0)
        }
        // The section states the same.
        study.runs = session.run([.substituted(position: sub.position, id: sub.id)], base: trace)
        let content = try BertDownstreamSection().build(study)
        let values = Dictionary(content.findings.flatMap(\.values).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let expectedChanged = trace.model.architecture == .encoder ? sub.position : 0
        #expect(values["earlier_changed_final"] == .number(Double(expectedChanged)))
    }

    /// Values and derivatives of the activation curves against central finite differences, the
    /// curves against the model's own (Float) activations, and the facts the text states.
    @Test func activationDerivativesMatchFiniteDifferences() throws {
        let h = 1e-5
        for c in ActivationCurve.allCases {
            var worst = 0.0, worstValue = 0.0
            for i in -400...400 {
                let x = Double(i) / 100 + 0.003  // never exactly at ReLU's kink
                let fd = (c.value(x + h) - c.value(x - h)) / (2 * h)
                worst = max(worst, abs(fd - c.derivative(x)))
                if let a = Activation(rawValue: c.rawValue) {
                    let xf = Double(Float(x)); worstValue = max(worstValue, abs(Double(a.apply(Float(x))) - c.value(xf)) / max(1, abs(c.value(xf))))
                }
            }
            print("  \(c.label): max |f′ − finite difference| = \(worst), max rel. |f − model's Float f| = \(worstValue)")
            #expect(worst <= 1e-8)
            #expect(worstValue <= 8 * Double(Float.ulpOfOne))
        }
        let xs = (-6000...6000).map { Double($0) / 1000 }
        let gap = xs.map { abs(ActivationCurve.gelu.value($0) - ActivationCurve.geluTanh.value($0)) }.max() ?? 1
        let geluMin = xs.min { ActivationCurve.gelu.value($0) < ActivationCurve.gelu.value($1) } ?? 0
        let siluMin = xs.min { ActivationCurve.silu.value($0) < ActivationCurve.silu.value($1) } ?? 0
        print("  GELU erf vs tanh max |Δ| = \(gap); GELU min \(ActivationCurve.gelu.value(geluMin)) at \(geluMin); Swish min \(ActivationCurve.silu.value(siluMin)) at \(siluMin)")
        #expect(gap < 5e-4)
        #expect(abs(ActivationCurve.gelu.value(geluMin) + 0.17) < 0.005 && abs(geluMin + 0.75) < 0.01)
        #expect(abs(ActivationCurve.silu.value(siluMin) + 0.28) < 0.005 && abs(siluMin + 1.28) < 0.01)
        #expect(ActivationCurve(config: "gelu") == .gelu && ActivationCurve(config: "gelu_new") == .geluTanh && ActivationCurve(config: "swish") == .silu)
    }

    /// Inactive shares and never-active units against naive loops, for both definitions.
    @Test(arguments: ["bert", "gpt2"])
    func inactiveFractionsEqualNaiveLoops(model: String) throws {
        let trace = try Self.open(model).trace(text: Self.text)
        for l in trace.layers {
            var below = 0, zero = 0
            for v in l.ffnPre.data where v < -2 { below += 1 }
            for v in l.ffnAct.data where v == 0 { zero += 1 }
            let total = Double(l.ffnPre.count)
            #expect(BlockAnalysis.inactiveFraction(pre: l.ffnPre, act: l.ffnAct, relu: false, threshold: -2) == Double(below) / total)
            #expect(BlockAnalysis.inactiveFraction(pre: l.ffnPre, act: l.ffnAct, relu: true) == Double(zero) / total)
            let n = l.ffnPre.rowCount, w = l.ffnPre.rowWidth
            let never = (0..<w).filter { u in (0..<n).allSatisfy { l.ffnPre.data[$0 * w + u] < -2 } }.count
            #expect(BlockFFNSection.unitsInactiveForEveryToken(l, relu: false) == never)
            print("  \(model) layer \(l.index): \(below)/\(Int(total)) pre-activations below −2, \(never) units never active")
        }
    }

    /// Left + self + right = 1 per layer, each share equal to a naive recomputation; a causal
    /// model puts nothing on the right.
    @Test(arguments: ["bert", "gpt2"])
    func leftSelfRightSharesSumToOne(model: String) throws {
        let trace = try Self.open(model).trace(text: Self.text)
        let content = trace.tokens.indices.filter { !trace.tokens[$0].isSpecial }
        let keys = Set(content)
        for l in trace.layers {
            let w = try #require(l.selfAttention?.weights)
            let r = BlockAnalysis.directionShares(w, queries: content, keys: keys)
            let h = w.shape[0], n = w.shape[1]
            var left = 0.0, rows = 0.0
            for head in 0..<h {
                for i in content {
                    let kept = content.reduce(0.0) { $0 + Double(w.data[(head * n + i) * n + $1]) }
                    left += content.filter { $0 < i }.reduce(0.0) { $0 + Double(w.data[(head * n + i) * n + $1]) } / kept
                    rows += 1
                }
            }
            let sum = r.left + r.selfShare + r.right
            print("  \(model) layer \(l.index): left \(r.left) self \(r.selfShare) right \(r.right), sum − 1 = \(sum - 1), naive left − left = \(left / rows - r.left)")
            #expect(abs(sum - 1) <= 1e-12)
            #expect(abs(left / rows - r.left) <= 1e-12)
            if trace.model.architecture != .encoder { #expect(r.right == 0) }
        }
    }

    /// BatchNorm statistics are the plain per-feature mean and variance of the rows.
    @Test func batchStatisticsEqualNaiveMeanAndVariance() throws {
        let trace = try Self.open("bert").trace(text: Self.text)
        let x = try #require(trace.embeddings?.sum)
        let d = x.rowWidth, n = x.rowCount
        let st = BatchStats((0..<n).map { x.row($0) }, d: d)
        var worst = 0.0
        for k in 0..<d {
            let col = (0..<n).map { Double(x.data[$0 * d + k]) }
            let m = col.reduce(0, +) / Double(n), v = col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)
            worst = max(worst, abs(m - st.mean[k]), abs(v - st.variance[k]))
        }
        print("  batch statistics vs naive: max |Δ| = \(worst)")
        #expect(worst <= 1e-9)
    }

    /// The seven sections are computed in report.json of a real render of the example, with their
    /// named values.
    @Test func sectionsAreComputedInReportJSON() throws {
        let minilm = (NSHomeDirectory() as NSString).appendingPathComponent(".cache/attnviz/models/all-MiniLM-L6-v2")
        let model = FileManager.default.fileExists(atPath: minilm + "/config.json") ? minilm : CLI.tinyBert
        let example = try String(contentsOf: CLI.repoRoot.appendingPathComponent("examples/sentence.txt"), encoding: .utf8)
        let (_, json, _) = try ReportJSONTests.render(example, model: model, extra: ["--no-timings"])
        let sections = try #require(json["sections"] as? [[String: Any]])
        let expected: [String: [String]] = [
            "block-ffn": ["d_model", "d_ff", "ffn_parameter_share", "inactive_share_max", "units_inactive_for_every_token"],
            "block-activations": ["activation", "negative_share", "median", "mean_derivative", "gelu_erf_tanh_max_abs_diff"],
            "block-batchnorm": ["mean_distance_batch1", "bn_change_largest_batch", "bn_change_largest_batch_pads", "layernorm_stats_change"],
            "block-gradients": ["rms_last_trained", "rms_last_no_residual", "rms_last_no_layernorm", "rms_last_neither", "cosine_last_no_residual"],
            "train-dropout": ["eval_repeat_max_abs_diff", "p_hidden", "p_attention", "embedding_dropped_share", "final_output_max_abs_diff"],
            "bert-vs-elmo": ["left_share_mean", "self_share_mean", "right_share_mean", "special_share_mean"],
            "bert-downstream": ["earlier_positions", "earlier_changed_final", "earlier_bit_identical_all_layers"],
        ]
        for (id, names) in expected {
            let section = try #require(sections.first { $0["id"] as? String == id }, "\(id) missing")
            #expect(section["status"] as? String == "computed", "\(id): \(section["status"] ?? "")")
            let values = section["values"] as? [String: Any] ?? [:]
            for name in names { #expect(values[name] != nil, "\(id) lacks \(name)") }
            print("  \(id): \(names.map { "\($0)=\(values[$0] ?? "-")" }.joined(separator: ", "))")
        }
        let drop = try #require(sections.first { $0["id"] as? String == "train-dropout" }?["values"] as? [String: Any])
        #expect(drop["eval_repeat_max_abs_diff"] as? Double == 0)
        let down = try #require(sections.first { $0["id"] as? String == "bert-downstream" }?["values"] as? [String: Any])
        #expect(down["earlier_changed_final"] as? Double == down["earlier_positions"] as? Double)
    }
}
