import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// The companion encoder–decoder (render --decoder-model, default the shipped models/reverse-words)
/// and the three sections built on it: train-lr, train-label-smoothing, attn-causal-mask. Each
/// claim is recomputed here from its definition, from the files and the traces.
@Suite struct CompanionSectionTests {
    static let shipped = CLI.repoRoot.appendingPathComponent("models/reverse-words").path
    static let text = (try? String(contentsOfFile: CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, encoding: .utf8)) ?? "the cat sat on the mat"

    /// A study of `text` on the tiny BERT (main model) with the shipped companion's runs made.
    static func study(_ section: any Section, companion: Companion = Companion.open(directory: shipped)) throws -> Study {
        let session = try AttentionChapterSectionTests.tiny("bert")
        let trace = try session.trace(text: text)
        var s = Study(inputName: "t", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        s.runs = session.run(section.experiments(s), base: trace, companion: companion)
        return s
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// lr = factor · d^-0.5 · min(step^-0.5, step · warmup^-1.5), written out here.
    static func formula(_ step: Double, d: Double, warmup: Double, factor: Double) -> Double {
        factor * pow(d, -0.5) * min(pow(step, -0.5), step * pow(warmup, -1.5))
    }

    @Test func learningRateCurveIsTheFormula() throws {
        let config = try Self.json(Self.shipped + "/config.json")
        let a = try #require(config["attnviz"] as? [String: Any])
        let d = try #require((config["d_model"] as? NSNumber)?.doubleValue)
        let warmup = try #require((a["warmup"] as? NSNumber)?.doubleValue), factor = try #require((a["lr_factor"] as? NSNumber)?.doubleValue)
        // The shipped log: every logged lr on the formula (both in Double).
        let log = try String(contentsOfFile: Self.shipped + "/training_log.jsonl", encoding: .utf8)
        var worstLog = 0.0, records = 0
        for line in log.split(separator: "\n") {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let step = try #require((o["step"] as? NSNumber)?.doubleValue), lr = try #require((o["lr"] as? NSNumber)?.doubleValue)
            let f = Self.formula(step, d: d, warmup: warmup, factor: factor)
            worstLog = max(worstLog, abs(lr - f) / f); records += 1
        }
        // The section's curve and helper against the formula.
        let c = CompanionAnalysis.Config(dModel: Int(d), layers: 2, decoderLayers: 2, heads: 4, dFF: 256, vocab: 98, warmup: warmup, factor: factor,
                                         labelSmoothing: 0.1, dropout: 0.1, attentionDropout: 0.1, batchSize: 64, steps: 9000, maxCharacters: 48, task: "", optimizer: "")
        let steps = (1...2000).map { Double($0 * 7) }
        var worstCurve = 0.0
        for (x, y) in zip(steps, TrainLrSection.curve(c, warmup: warmup, steps: steps)) {
            let f = Self.formula(x, d: d, warmup: warmup, factor: factor); worstCurve = max(worstCurve, abs(y - f) / f)
        }
        // And the section's findings.
        let content = try TrainLrSection().build(try Self.study(TrainLrSection()))
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        let peak = try #require(AttentionChapterSectionTests.value(content, "peak_lr"))
        let peakRel = abs(peak - Self.formula(warmup, d: d, warmup: warmup, factor: factor)) / Self.formula(warmup, d: d, warmup: warmup, factor: factor)
        let logged = try #require(AttentionChapterSectionTests.value(content, "log_lr_max_rel_diff"))
        print("  lr: \(records) log records, max rel diff \(worstLog); curve \(worstCurve); peak \(peakRel); section (Float log) \(logged)")
        #expect(records > 0)
        #expect(worstLog <= 16 * Double.ulpOfOne)
        #expect(worstCurve <= 16 * Double.ulpOfOne)
        #expect(peakRel <= 16 * Double.ulpOfOne)
        #expect(logged <= 2 * Double(Float.ulpOfOne))  // the log passes through Float tensors
    }

    @Test func smoothedTargetSumsToOneAndMatchesTheDefinition() throws {
        let s = try Self.study(TrainLabelSmoothingSection())
        let content = try TrainLabelSmoothingSection().build(s)
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        let t = try #require(s.run(CompanionAnalysis.run(s)).trace)
        let config = try Self.json(Self.shipped + "/config.json")
        let eps = try #require(((config["attnviz"] as? [String: Any])?["label_smoothing"] as? NSNumber)?.doubleValue)
        let V = try #require((config["vocab_size"] as? NSNumber)?.intValue)
        let y = try #require(t.decoderTokens.dropFirst().first).id  // the first gold output character
        let q = CompanionAnalysis.smoothed(target: y, vocab: V, epsilon: eps)
        var worst = 0.0, sum = 0.0
        for k in 0..<V {
            let definition = (k == y ? 1 - eps : 0) + eps / Double(V)
            worst = max(worst, abs(q[k] - definition)); sum += q[k]
        }
        let tol = 4 * Double.ulpOfOne * Double(V)
        let target = try #require(AttentionChapterSectionTests.value(content, "target_probability"))
        let other = try #require(AttentionChapterSectionTests.value(content, "other_probability"))
        print("  smoothing: ε \(eps), V \(V), max |q − def| \(worst), |Σq − 1| \(abs(sum - 1)), target \(target)")
        #expect(q.count == V)
        #expect(worst <= 2 * Double.ulpOfOne)
        #expect(abs(sum - 1) <= tol)
        #expect(abs(target - (1 - eps + eps / Double(V))) <= 2 * Double.ulpOfOne)
        #expect(abs(other - eps / Double(V)) <= 2 * Double.ulpOfOne)
    }

    @Test func causalProofRecomputedFromTheTraces() throws {
        let s = try Self.study(AttnCausalMaskSection())
        let content = try AttnCausalMaskSection().build(s)
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        let a = try #require(s.run(CompanionAnalysis.run(s)).trace)
        let b = try #require(s.run(.companion(text: s.text, changeLast: true)).trace)
        let n = a.decoderTokens.count
        #expect(n >= 2 && b.decoderTokens.count == n)
        #expect(a.decoderTokens.dropLast().map(\.id) == b.decoderTokens.dropLast().map(\.id) && a.decoderTokens.last?.id != b.decoderTokens.last?.id)
        // Every decoder tensor recorded per position: earlier rows bit-identical, the last one changed.
        func rows(_ x: Tensor) -> [[Float]] { let d = x.count / max(x.shape[0], 1); return (0..<x.shape[0]).map { Array(x.data[($0 * d)..<(($0 + 1) * d)]) } }
        var compared = 0, earlierDiffer = 0
        var pairs = [(a.lastHidden, b.lastHidden)]
        for (la, lb) in zip(a.layers, b.layers) where la.stack == .decoder { pairs.append((la.output, lb.output)) }
        for (x, y) in pairs {
            let rx = rows(x), ry = rows(y)
            #expect(rx.count == n && ry.count == n)
            for i in 0..<(n - 1) { compared += 1; if rx[i] != ry[i] { earlierDiffer += 1 } }
            #expect(rx.last != ry.last)
        }
        // The decoder self-attention weights: zero above the diagonal.
        var future = 0, nonzero = 0
        for layer in a.layers where layer.stack == .decoder {
            let w = try #require(layer.attention.first { $0.kind == .decoderSelf }).weights
            for h in 0..<w.shape[0] { for i in 0..<n { for j in 0..<n where j > i { future += 1; if w.data[(h * n + i) * n + j] != 0 { nonzero += 1 } } } }
        }
        print("  causal: \(n) decoder positions, \(compared) earlier rows compared, \(earlierDiffer) differ; \(future) future weights, \(nonzero) nonzero")
        #expect(compared > 0 && earlierDiffer == 0)
        #expect(future > 0 && nonzero == 0)
        #expect(AttentionChapterSectionTests.value(content, "earlier_outputs_identical") == Double(n - 1))
        #expect(AttentionChapterSectionTests.value(content, "future_weights_zero") == Double(future))
    }

    @Test func inputIsCutAtAWordBoundary() {
        let (kept, dropped) = Companion.cut("  the   cat sat on the mat ", limit: 12)
        #expect(kept == "the cat sat")
        #expect(dropped == "the cat sat on the mat".count - kept.count)
        #expect(Companion.cut("short", limit: 48) == ("short", 0))
        #expect(Companion.cut("abcdefghij klm", limit: 4) == ("abcd", 10))
        if let long = try? Self.study(AttnCausalMaskSection()), let t = long.run(CompanionAnalysis.run(long)).trace {
            #expect(t.tokens.count - 1 <= 48 && t.truncatedTokens > 0)  // the example is longer than 48 characters
        } else {
            Issue.record("the companion run on the example is missing")
        }
    }

    /// (A GPT-2 companion is read as a decoder-only companion: DecoderOnlyCompanionTests.)
    @Test func missingOrWrongCompanionIsUnavailableWithTheReason() throws {
        let bert = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/bert").path
        for companion in [Companion.open(directory: "/nonexistent/companion"), Companion.open(directory: bert)] {
            for section in [TrainLrSection(), TrainLabelSmoothingSection(), AttnCausalMaskSection()] as [any Section] {
                let content = try section.build(try Self.study(section, companion: companion))
                #expect(content.unavailable != nil, "\(section.id)")
                print("  \(section.id): \(content.unavailable ?? "")")
            }
        }
    }

    /// The example rendered by the real binary with MiniLM and the shipped companion.
    @Test func sectionsAreComputedInReportJSON() throws {
        _ = try AttentionChapterSectionTests.miniLM()
        let tmp = try TempDir()
        let out = tmp.file("report")
        let r = try CLI.run(["render", CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, "--output", out, "--quiet", "--no-timings"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try Self.json(out + "/report.json")
        let sections = try #require(root["sections"] as? [[String: Any]])
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        let expected: [String: [String]] = [
            "train-lr": ["d_model", "warmup", "peak_lr", "log_records", "log_lr_max_rel_diff", "loss_first", "loss_last"],
            "train-label-smoothing": ["epsilon", "vocab_size", "target_probability", "other_probability", "sum_deviation"],
            "attn-causal-mask": ["decoder_layers", "future_weights_zero", "future_weights", "earlier_outputs_identical", "earlier_positions",
                                 "earlier_max_abs_diff", "last_max_abs_diff"],
        ]
        for (id, names) in expected {
            let section = try #require(sections.first { $0["id"] as? String == id }, "\(id) missing")
            #expect(section["status"] as? String == "computed", "\(id): \(section["reason"] ?? "")")
            let values = section["values"] as? [String: Any] ?? [:]
            for name in names { #expect(values[name] != nil, "\(id).\(name) missing") }
            print("  \(id): \(values)")
        }
        #expect(html.contains("reverse-words"))
        let causal = (sections.first { $0["id"] as? String == "attn-causal-mask" }?["values"] as? [String: Any]) ?? [:]
        #expect((causal["earlier_max_abs_diff"] as? Double) == 0)
        #expect((causal["earlier_outputs_identical"] as? Int) == (causal["earlier_positions"] as? Int))
    }
}
