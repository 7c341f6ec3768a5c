import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// The experiments behind attn-self-vs-local, attn-dot-vs-add, attn-qk-different and
/// attn-bert-mask, checked against their definitions with naive loops written here (not the
/// sections' code), and the sections' named values in a real render's report.json.
@Suite struct AttentionVariantSectionTests {
    static func session(_ model: String) throws -> Session {
        let dir = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/\(model)").path
        return try Session.open(directory: dir, note: nil)
    }

    /// A study of `text` with every experiment the report asks for already run.
    static func study(_ session: Session, _ text: String, timings: Bool = false) throws -> Study {
        let trace = try session.trace(text: text)
        var s = Study(inputName: "s", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: timings)
        s.runs = session.run(ReportPlan.experiments(for: s), base: trace)
        return s
    }

    static func value(_ c: SectionContent, _ name: String) -> Double? {
        for f in c.findings { for v in f.values where v.name == name { if case let .number(x) = v.value { return x } } }
        for (n, v) in c.values where n == name { if case let .number(x) = v { return x } }
        return nil
    }

    // MARK: tied W_K := W_Q

    /// With k := q the score matrix q·kᵀ/√d_k recomputed here from the recorded q and k is
    /// symmetric, the recorded scores equal it wherever the model's mask leaves them finite, and
    /// the recorded k equals the recorded q; the section's symmetry value stays within the same
    /// tolerance, while the trained layer's is far outside it.
    @Test(arguments: ["bert", "gpt2"])
    func tiedQueryKeyScoresAreSymmetric(model: String) throws {
        let session = try Self.session(model)
        let s = try Self.study(session, "The cat sat on the mat, because it was tired of the dog.")
        let layer = s.layers.first ?? 0
        let tied = try #require(s.run(.tiedQueryKey(layer: layer)).trace)
        let a = try #require(tied.layers[layer].selfAttention)
        let h = a.q.shape[0], n = a.q.shape[1], dk = a.q.shape[2]
        #expect(a.k.data == a.q.data, "the tied layer's keys are its queries")
        var asym = 0.0, recordedDiff = 0.0, tolSym = 0.0
        for hd in 0..<h {
            var p = [Double](repeating: 0, count: n * n), mag = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n {
                    var dot = 0.0, abs = 0.0
                    for c in 0..<dk {
                        let x = Double(a.q.data[(hd * n + i) * dk + c]) * Double(a.k.data[(hd * n + j) * dk + c])
                        dot += x; abs += Swift.abs(x)
                    }
                    p[i * n + j] = dot / Double(dk).squareRoot(); mag[i * n + j] = abs / Double(dk).squareRoot()
                }
            }
            for i in 0..<n {
                for j in 0..<n {
                    let tol = 8 * Double(Float.ulpOfOne) * Double(dk).squareRoot() * max(mag[i * n + j], 1e-30)
                    tolSym = max(tolSym, tol)
                    asym = max(asym, Swift.abs(p[i * n + j] - p[j * n + i]))
                    let r = a.scores.data[(hd * n + i) * n + j]
                    if r.isFinite {
                        let d = Swift.abs(Double(r) - p[i * n + j])
                        recordedDiff = max(recordedDiff, d)
                        #expect(d <= tol, "recorded score [\(hd), \(i), \(j)] = \(r) vs q·k/√d_k = \(p[i * n + j])")
                    } else {
                        #expect(j > i && model == "gpt2", "only a causal model masks scores ([\(hd), \(i), \(j)])")
                    }
                }
            }
        }
        // The recorded matrix itself, where both S_ij and S_ji are kept.
        var recordedAsym = 0.0
        for hd in 0..<h { for i in 0..<n { for j in (i + 1)..<max(n, i + 1) {
            let x = a.scores.data[(hd * n + i) * n + j], y = a.scores.data[(hd * n + j) * n + i]
            if x.isFinite && y.isFinite { recordedAsym = max(recordedAsym, Swift.abs(Double(x) - Double(y))) }
        } } }
        #expect(recordedAsym <= 2 * tolSym)
        let content = try AttnQKDifferentSection().build(s)
        let reported = try #require(Self.value(content, "symmetry_max_abs_diff"))
        let trained = try #require(Self.value(content, "trained_symmetry_max_abs_diff"))
        print("  \(model): tied max |P − Pᵀ| = \(asym), recorded S − Sᵀ ≤ \(recordedAsym), recorded vs recomputed ≤ \(recordedDiff), reported \(reported), trained \(trained), tol \(tolSym)")
        #expect(asym <= tolSym)
        #expect(reported <= tolSym)
        #expect(trained > 1000 * tolSym, "the trained layer's scores are not symmetric")
        // Diagonal share: mean over heads and queries of w_ii, both runs.
        for (name, t) in [("diagonal_share_tied", tied), ("diagonal_share_trained", s.trace)] {
            let w = try #require(t.layers[layer].selfAttention?.weights)
            var total = 0.0
            for hd in 0..<h { for i in 0..<n { total += Double(w.data[(hd * n + i) * n + i]) } }
            let expected = total / Double(h * n), got = try #require(Self.value(content, name))
            #expect(Swift.abs(got - expected) <= 1e-12 * Double(h * n), "\(name): \(got) vs \(expected)")
        }
    }

    // MARK: local and strided key patterns

    /// Under `.restricted(pattern)` the recorded scores are −∞ exactly where the pattern (and,
    /// for GPT-2, the causal mask) forbids a key, finite everywhere else, and the forbidden
    /// weights are exactly 0 — for several lengths, 1 and 2 tokens included.
    @Test(arguments: ["bert", "gpt2"])
    func restrictedScoresBlockExactlyThePattern(model: String) throws {
        let session = try Self.session(model)
        let causal = model == "gpt2"
        for n in [1, 2, 3, 5, 9, 17] {
            let ids = (0..<n).map { 10 + 7 * $0 }
            let base = try session.trace(inputIDs: ids, decoderInputIDs: nil)
            let patterns: [KeyPattern] = [.local(window: 1), .local(window: 2), .strided(stride: 2), .strided(stride: 3),
                                          .local(window: AttnSelfVsLocalSection.window(n: n)), .strided(stride: AttnSelfVsLocalSection.stride(n: n))]
            let outcomes = session.run(patterns.map { .restricted($0) }, base: base)
            var wrong = 0, cells = 0
            for p in patterns {
                let t = try #require(outcomes[.restricted(p)]?.trace, "\(p) at n = \(n)")
                for layer in t.layers {
                    let a = try #require(layer.selfAttention)
                    for hd in 0..<a.heads {
                        for i in 0..<n {
                            for j in 0..<n {
                                let allowed: Bool
                                switch p {  // the definitions, written out
                                case let .local(w): allowed = (i - j) * (i - j) <= w * w && !(causal && j > i)
                                case let .strided(s): allowed = (i - j) % s == 0 && !(causal && j > i)
                                }
                                let score = a.scores.data[(hd * n + i) * n + j], weight = a.weights.data[(hd * n + i) * n + j]
                                cells += 1
                                if allowed ? !score.isFinite : (score != -.infinity || weight != 0) { wrong += 1 }
                            }
                        }
                    }
                }
            }
            print("  \(model) n = \(n): \(cells) cells checked, \(wrong) wrong")
            #expect(wrong == 0, "n = \(n)")
        }
    }

    /// The section's counts of allowed scores equal a direct count of the pattern's definition.
    @Test func allowedScoreCountsMatchTheDefinition() throws {
        let session = try Self.session("bert")
        let s = try Self.study(session, "A short sentence with a few more words than that, to have some length.")
        let content = try AttnSelfVsLocalSection().build(s)
        let n = s.n, w = max(1, n / 8), st = max(2, Int(Double(n).squareRoot()))
        var local = 0, strided = 0
        for i in 0..<n { for j in 0..<n { if abs(i - j) <= w { local += 1 }; if abs(i - j) % st == 0 { strided += 1 } } }
        print("  n = \(n): full \(n * n), local ±\(w) \(local), strided \(st) \(strided)")
        #expect(Self.value(content, "full_allowed_scores") == Double(n * n))
        #expect(Self.value(content, "local_allowed_scores") == Double(local))
        #expect(Self.value(content, "strided_allowed_scores") == Double(strided))
        #expect(Self.value(content, "window") == Double(w))
        #expect(Self.value(content, "stride") == Double(st))
    }

    // MARK: [MASK] vs [PAD]

    /// The [MASK] run puts the mask token at the chosen position; its column receives weight
    /// > 0 from every query in every layer and head and its row sums to 1, while in the padded
    /// run every [PAD] column is exactly 0 for every query; the section reports the same.
    @Test func maskColumnIsAttendedPadColumnsAreZero() throws {
        let session = try Self.session("bert")
        let s = try Self.study(session, "The animal did not cross the street because it was too tired.")
        let p = try #require(AttnBertMaskSection.position(s))
        let masked = try #require(s.run(.masked(position: p)).trace)
        #expect(masked.tokens[p].text == "[MASK]")
        #expect(masked.tokens.indices.filter { $0 != p }.allSatisfy { masked.tokens[$0].id == s.trace.tokens[$0].id })
        let n = s.n
        var smallest = Float.infinity, worstRow = 0.0, columnTotal = 0.0, columnCount = 0
        for layer in masked.layers {
            let w = try #require(layer.selfAttention?.weights)
            for hd in 0..<w.shape[0] {
                var row = 0.0
                for j in 0..<n { row += Double(w.data[(hd * n + p) * n + j]) }
                worstRow = max(worstRow, abs(row - 1))
                for i in 0..<n {
                    smallest = min(smallest, w.data[(hd * n + i) * n + p])
                    if i != p { columnTotal += Double(w.data[(hd * n + i) * n + p]); columnCount += 1 }
                }
            }
        }
        let padded = try #require(s.padded.trace)
        let total = padded.tokens.count
        var padMax: Float = 0, padCells = 0
        for layer in padded.layers {
            let w = try #require(layer.selfAttention?.weights)
            for hd in 0..<w.shape[0] { for i in 0..<total { for j in n..<total { padMax = max(padMax, w.data[(hd * total + i) * total + j]); padCells += 1 } } }
        }
        print("  [MASK] at \(p): smallest weight on its column \(smallest), row sum off by ≤ \(worstRow); \(padCells) pad cells, max \(padMax)")
        #expect(smallest > 0)
        #expect(worstRow <= 8 * Double(Float.ulpOfOne) * Double(n).squareRoot())
        #expect(padCells > 0 && padMax == 0)
        let content = try AttnBertMaskSection().build(s)
        #expect(content.unavailable == nil)
        #expect(Self.value(content, "pad_column_weight_max") == 0)
        let meanColumn = try #require(Self.value(content, "mask_column_weight_mean"))
        let expected = columnTotal / Double(max(columnCount, 1))  // every layer has the same count
        #expect(abs(meanColumn - expected) <= 1e-6 * max(expected, 1e-12), "\(meanColumn) vs \(expected)")
    }

    /// GPT-2 has no [MASK] token and no pad token: the section says so instead of failing.
    @Test func gpt2SaysWhyThereIsNoMask() throws {
        let s = try Self.study(try Self.session("gpt2"), "The cat sat on the mat.")
        let content = try AttnBertMaskSection().build(s)
        let why = try #require(content.unavailable)
        print("  gpt2: \(why)")
        #expect(why.contains("mask token"))
    }

    /// The four sections build for 1, 2 and 3 tokens on both tiny models (ids given directly:
    /// no [CLS], no word to mask), with and without timings, and say why when a run is missing.
    @Test(arguments: ["bert", "gpt2"])
    func sectionsBuildForVeryShortInputs(model: String) throws {
        let session = try Self.session(model)
        let sections: [any Section] = [AttnSelfVsLocalSection(), AttnDotVsAddSection(), AttnQKDifferentSection(), AttnBertMaskSection()]
        for n in [1, 2, 3] {
            for timings in [false, true] {
                let trace = try session.trace(inputIDs: (0..<n).map { 11 + $0 }, decoderInputIDs: nil)
                var s = Study(inputName: "s", text: "", pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: timings)
                s.runs = session.run(sections.flatMap { $0.experiments(s) }, base: trace)
                for section in sections {
                    let c = try section.build(s)
                    #expect(!c.answer.isEmpty)
                    #expect(c.unavailable != nil || !c.findings.isEmpty, "\(section.id) at n = \(n)")
                    for f in c.findings { for v in f.values { if case let .number(x) = v.value { #expect(x.isFinite, "\(section.id): \(v.name)") } } }
                }
            }
        }
    }

    // MARK: FLOP formulas

    /// The dot-product and additive operation counts equal a count made by running both scorers
    /// as naive loops (a multiply-add = 2, an add = 1, a tanh = 1 in its own tally).
    @Test func flopFormulasMatchADirectCount() {
        var worst = 0
        for n in [1, 2, 3, 5] {
            for m in [1, 2, 4] {
                for dk in [1, 2, 3] {
                    for da in [1, 2, 5] {
                        var dot = 0
                        for _ in 0..<n { for _ in 0..<m { for _ in 0..<dk { dot += 2 } } }
                        var proj = 0, pair = 0, tanh = 0
                        for _ in 0..<n { for _ in 0..<da { for _ in 0..<dk { proj += 2 } } }  // W₁q
                        for _ in 0..<m { for _ in 0..<da { for _ in 0..<dk { proj += 2 } } }  // W₂k
                        for _ in 0..<n { for _ in 0..<m { for _ in 0..<da { pair += 1; tanh += 1; pair += 2 } } }  // add, tanh, v·
                        let f = VariantAnalysis.additiveFlops(n: n, m: m, dk: dk, da: da)
                        let diffs = [VariantAnalysis.dotProductFlops(n: n, m: m, dk: dk) - dot, f.projections - proj, f.pairwise - pair, f.tanh - tanh]
                        worst = max(worst, diffs.map(abs).max() ?? 0)
                    }
                }
            }
        }
        print("  FLOP formulas vs direct count: max |Δ| = \(worst)")
        #expect(worst == 0)
    }

    /// The timed scoring run's "dot" tensor is the head's recorded scores (encoder: no mask).
    @Test func scoringDotEqualsTheRecordedScores() throws {
        let session = try Self.session("bert")
        let s = try Self.study(session, "The cat sat on the mat.", timings: true)
        guard case let .measured(ms, tensors)? = s.runs[.scoring(layer: 0, head: 0, repeats: AttnDotVsAddSection.repeats(s))] else {
            Issue.record("no scoring run"); return
        }
        #expect(ms.map(\.label).sorted() == ["additive", "dot"])
        let dot = try #require(tensors["dot"]), a = try #require(s.trace.layers[0].selfAttention)
        let n = s.n, dk = a.q.shape[2]
        var worst = 0.0, tol = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var mag = 0.0
                for c in 0..<dk { mag += abs(Double(a.q.data[i * dk + c]) * Double(a.k.data[j * dk + c])) }
                tol = max(tol, 8 * Double(Float.ulpOfOne) * Double(dk).squareRoot() * mag / Double(dk).squareRoot())
                worst = max(worst, abs(Double(dot.data[i * n + j]) - Double(a.scores.data[i * n + j])))
            }
        }
        print("  scoring dot vs recorded scores: max |Δ| = \(worst) (tol \(tol))")
        #expect(worst <= tol)
    }

    // MARK: report.json of a real render

    /// Rendering the example with the real binary lists the four sections as computed, with
    /// their named values, and every finding's text appears in the page.
    @Test func reportJSONHasTheSectionsAndTheirValues() throws {
        let tmp = try TempDir()
        let out = tmp.file("report")
        let input = CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path
        let r = try CLI.run(["render", input, "--output", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let sections = try #require(root["sections"] as? [[String: Any]])
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        let expected: [String: [String]] = [
            "attn-self-vs-local": ["window", "stride", "full_allowed_scores", "local_allowed_scores", "strided_allowed_scores",
                                   "local_cost_share", "strided_cost_share", "full_weight_inside_local", "full_weight_inside_strided",
                                   "local_last_layer_relative_change", "strided_last_layer_relative_change", "local_pooled_cosine",
                                   "strided_pooled_cosine", "local_cls_cosine", "strided_cls_cosine"],
            "attn-dot-vs-add": ["d_k", "dot_flops", "additive_flops", "additive_tanh_evaluations", "additive_over_dot_flops",
                                "scaled_score_std", "unscaled_score_std", "dot_microseconds", "additive_microseconds",
                                "additive_over_dot_time", "dot_vs_recorded_scores_max_abs_diff"],
            "attn-qk-different": ["layer", "head", "symmetry_max_abs_diff", "tied_score_max_abs", "trained_symmetry_max_abs_diff",
                                  "trained_score_max_abs", "diagonal_share_trained", "diagonal_share_tied", "self_best_trained", "self_best_tied"],
            "attn-bert-mask": ["masked_position", "masked_token", "mask_row_sum_max_abs_dev", "mask_row_effective_keys",
                               "mask_column_weight_mean", "original_column_weight_mean", "mask_vs_original_cosine_first",
                               "mask_vs_original_cosine_last", "other_tokens_cosine_last", "pad_tokens", "pad_column_weight_max"],
        ]
        func escaped(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
        }
        for (id, names) in expected.sorted(by: { $0.key < $1.key }) {
            let item = try #require(sections.first { $0["id"] as? String == id }, "\(id) in report.json")
            #expect(item["status"] as? String == "computed", "\(id): \(item["reason"] ?? "")")
            let values = item["values"] as? [String: Any] ?? [:]
            let missing = names.filter { values[$0] == nil }
            print("  \(id): \(values.count) values, missing \(missing)")
            #expect(missing.isEmpty, "\(id)")
            for f in item["findings"] as? [[String: Any]] ?? [] {
                let text = f["text"] as? String ?? ""
                #expect(html.contains(escaped(text)), "\(id): finding not in the page: \(text)")
            }
        }
        let n = (root["tokens"] as? [Any])?.count ?? 0
        let local = try #require(sections.first { $0["id"] as? String == "attn-self-vs-local" }?["values"] as? [String: Any])
        #expect(local["full_allowed_scores"] as? Int == n * n)
        let bert = try #require(sections.first { $0["id"] as? String == "attn-bert-mask" }?["values"] as? [String: Any])
        #expect(bert["pad_column_weight_max"] as? Double == 0)
        let qk = try #require(sections.first { $0["id"] as? String == "attn-qk-different" }?["values"] as? [String: Any])
        let sym = try #require(qk["symmetry_max_abs_diff"] as? Double), top = try #require(qk["tied_score_max_abs"] as? Double)
        #expect(sym <= 8 * Double(Float.ulpOfOne) * top, "tied scores symmetric relative to their size")
    }
}
