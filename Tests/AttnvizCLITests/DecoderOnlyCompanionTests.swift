import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// A GPT-2 directory as the companion (`render --decoder-model tiny/gpt2`): the decoder-only
/// representation (tokens = decoderTokens = the cut text's BPE tokens, every layer a causal decoder
/// layer), the causal proof on it, and the companion sections' statuses and values in report.json.
@Suite struct DecoderOnlyCompanionTests {
    static let gpt2 = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/gpt2").path
    static let text = CompanionSectionTests.text

    static func runs() throws -> (a: Trace, b: Trace) {
        let session = try AttentionChapterSectionTests.tiny("bert")
        let base = try session.trace(text: text)
        let out = session.run([.companion(text: text, changeLast: false), .companion(text: text, changeLast: true)], base: base,
                              companion: Companion.open(directory: gpt2))
        let a = try #require(out[.companion(text: text, changeLast: false)]?.trace, "\(out[.companion(text: text, changeLast: false)]?.reason ?? "")")
        let b = try #require(out[.companion(text: text, changeLast: true)]?.trace)
        return (a, b)
    }

    @Test func decoderOnlyTraceIsTheCutTextsBPETokens() throws {
        let (a, _) = try Self.runs()
        // The same text, cut here, tokenized by GPT-2's own tokenizer.
        let kept = MainEncoderDecoderTests.expectedSource(Self.text, limit: Experiment.decoderOnlyCompanionCharacters).kept
        let tokenizer = try #require(try AttentionChapterSectionTests.tiny("gpt2").tokenizer)
        let ids = try tokenizer.encode(kept, pair: nil, maxLength: Int.max, source: "t").tokens.map(\.id)
        #expect(a.tokens.map(\.id) == ids)
        #expect(a.decoderTokens.map(\.id) == ids)
        #expect(a.model.architecture == .decoder && !a.layers.isEmpty)
        #expect(a.layers.allSatisfy { $0.stack == .decoder && $0.attention.count == 1 && $0.attention[0].kind == .decoderSelf })
        #expect(CompanionAnalysis.decoderSide(a).layers.count == a.layers.count)
        #expect(CompanionAnalysis.inputText(a) == kept)
        print("  gpt2 companion: “\(kept)” → \(ids.count) tokens, \(a.truncatedTokens) characters dropped")
    }

    @Test func causalProofOnTheDecoderOnlyCompanion() throws {
        let (a, b) = try Self.runs()
        let n = a.tokens.count
        #expect(n >= 2 && b.tokens.count == n)
        #expect(a.tokens.dropLast().map(\.id) == b.tokens.dropLast().map(\.id) && a.tokens.last?.id != b.tokens.last?.id)
        let d = a.lastHidden.count / max(n, 1)
        var earlierDiffer = 0
        for i in 0..<(n - 1) where Array(a.lastHidden.data[(i * d)..<((i + 1) * d)]) != Array(b.lastHidden.data[(i * d)..<((i + 1) * d)]) { earlierDiffer += 1 }
        let lastSame = Array(a.lastHidden.data[((n - 1) * d)...]) == Array(b.lastHidden.data[((n - 1) * d)...])
        var future = 0, nonzero = 0
        for layer in a.layers {
            let w = layer.attention[0].weights
            for h in 0..<w.shape[0] { for i in 0..<n { for j in 0..<n where j > i { future += 1; if w.data[(h * n + i) * n + j] != 0 { nonzero += 1 } } } }
        }
        print("  gpt2 causal: \(n) positions, \(earlierDiffer) earlier rows differ, last changed \(!lastSame); \(future) future weights, \(nonzero) nonzero")
        #expect(earlierDiffer == 0 && !lastSame)
        #expect(future > 0 && nonzero == 0)
    }

    /// The real binary: MiniLM main model, tiny GPT-2 companion.
    @Test func companionSectionsInReportJSON() throws {
        _ = try AttentionChapterSectionTests.miniLM()
        let tmp = try TempDir()
        let out = tmp.file("report")
        let r = try CLI.run(["render", CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, "--decoder-model", Self.gpt2,
                             "--output", out, "--quiet", "--no-timings"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try CompanionSectionTests.json(out + "/report.json")
        let sections = try #require(root["sections"] as? [[String: Any]])
        func section(_ id: String) throws -> [String: Any] { try #require(sections.first { $0["id"] as? String == id }, "\(id) missing") }
        func values(_ id: String) throws -> [String: Any] { try #require(try section(id)["values"] as? [String: Any]) }
        let config = try CompanionSectionTests.json(Self.gpt2 + "/config.json")
        let d = try #require((config["n_embd"] as? NSNumber)?.intValue), V = try #require((config["vocab_size"] as? NSNumber)?.intValue)
        // attn-causal-mask: computed, every earlier output bit-identical.
        #expect(try section("attn-causal-mask")["status"] as? String == "computed")
        let causal = try values("attn-causal-mask")
        #expect(causal["earlier_outputs_identical"] as? Int == causal["earlier_positions"] as? Int)
        #expect((causal["earlier_positions"] as? Int ?? 0) > 0 && causal["future_weights_zero"] as? Int == causal["future_weights"] as? Int)
        // train-lr: no training log (not available, says GPT-2), the formula still drawn for its d_model.
        let lr = try section("train-lr")
        #expect(lr["status"] as? String == "not available" && ((lr["reason"] as? String) ?? "").contains("GPT-2"))
        #expect(((lr["figures"] as? [String]) ?? []).count == 1)
        let lrv = try values("train-lr")
        let peak = CompanionSectionTests.formula(4000, d: Double(d), warmup: 4000, factor: 1)
        #expect(lrv["d_model"] as? Int == d)
        #expect(abs(((lrv["peak_lr"] as? NSNumber)?.doubleValue ?? 0) - peak) <= 16 * Double.ulpOfOne * peak)
        // train-label-smoothing: computed over GPT-2's vocabulary with the paper's ε, marked as such.
        let ls = try section("train-label-smoothing")
        #expect(ls["status"] as? String == "computed")
        let lsv = try values("train-label-smoothing")
        let eps = (lsv["epsilon"] as? NSNumber)?.doubleValue ?? -1
        #expect(lsv["vocab_size"] as? Int == V)
        #expect(abs(((lsv["target_probability"] as? NSNumber)?.doubleValue ?? 0) - (1 - eps + eps / Double(V))) <= 4 * Double.ulpOfOne)
        let text = ((ls["findings"] as? [[String: Any]]) ?? []).compactMap { $0["text"] as? String }.joined()
        #expect(text.contains("records none"))
        // arch-enc-vs-dec: a decoder-only page — no encoder parameters, no cross-attention, future weight 0;
        // attn-cross and train-parallel say why they are not available.
        let ed = try values("arch-enc-vs-dec")
        #expect(ed["encoder_layer_parameters"] == nil && ed["cross_attention_parameters_per_layer"] == nil)
        #expect((ed["decoder_later_weight_max"] as? NSNumber)?.doubleValue == 0)
        #expect(!((try section("arch-enc-vs-dec")["figures"] as? [String]) ?? []).contains { $0.contains("encoder-block") })
        for id in ["attn-cross", "train-parallel", "train-decoder-io"] {
            let sec = try section(id)
            #expect(sec["status"] as? String == "not available" && ((sec["reason"] as? String) ?? "").contains("decoder-only"), "\(id): \(sec["reason"] ?? "")")
        }
        // arch-overview draws the companion's decoder block.
        #expect(((try section("arch-overview")["figures"] as? [String]) ?? []).contains { $0.contains("companion-decoder") })
        print("  gpt2 companion report: causal \(causal), lr \(lrv), smoothing \(lsv)")
    }
}
