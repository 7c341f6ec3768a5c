import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// The embedding and BERT sections (input-embedding, input-embed-scale, input-bert-embeddings,
/// bert-pretraining, bert-cls-pooling, bert-io): each computed claim against its definition,
/// recomputed here from the trace with plain loops.
@Suite struct EmbeddingBertSectionTests {
    static var miniLM: String { ModelRegistry.defaultDirectory }
    static var hasMiniLM: Bool { FileManager.default.fileExists(atPath: miniLM + "/model.safetensors") }
    /// The real model when set-up fetched it, else the tiny BERT (the claims hold for any BERT).
    static var bert: String { hasMiniLM ? miniLM : CLI.tinyBert }

    /// A study of `text` (and `pair`) with every experiment the sections ask for already run.
    static func study(_ text: String, pair: String? = nil, model: String = bert) throws -> Study {
        let session = try Session.open(directory: model, note: nil)
        let trace = try session.trace(text: text, pair: pair)
        var s = Study(inputName: "s", text: text, pair: pair, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        s.runs = session.run(ReportPlan.experiments(for: s), base: trace)
        return s
    }

    /// Named values of a section's findings and values, by name.
    static func values(_ c: SectionContent) -> [String: FindingValue] {
        var out: [String: FindingValue] = [:]
        for f in c.findings { for v in f.values { out[v.name] = v.value } }
        for v in c.values { out[v.name] = v.value }
        return out
    }

    static func number(_ c: SectionContent, _ name: String) -> Double? {
        if case let .number(v)? = values(c)[name] { return v }
        return nil
    }

    static func naiveCosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for k in 0..<min(a.count, b.count) { dot += Double(a[k]) * Double(b[k]); na += Double(a[k] * a[k]); nb += Double(b[k] * b[k]) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    static func row(_ t: Tensor, _ i: Int) -> [Float] {
        let d = t.shape[1]
        return (0..<d).map { t.data[i * d + $0] }
    }

    // MARK: input-bert-embeddings

    /// The recorded sum is token + segment + position, element by element (recomputed in
    /// Double); the section's reported difference is within the same float32 bound.
    @Test(arguments: [(false, false), (true, false), (false, true)])
    func embeddingSumIsTokenPlusSegmentPlusPosition(pair: Bool, tiny: Bool) throws {
        let s = try Self.study("The animal didn't cross the street because it was too tired.", pair: pair ? "It was late." : nil,
                               model: tiny ? CLI.tinyBert : Self.bert)
        let e = try #require(s.trace.embeddings)
        let t = try #require(e.tokenType)
        // Two float32 additions, each rounding by at most half an ulp of a partial sum ≤ Σ|parts|.
        var worst = 0.0, worstExcess = -Double.infinity, maxScale = 0.0
        for k in 0..<e.sum.count {
            let parts = [Double(e.word.data[k]), Double(t.data[k]), Double(e.position.data[k])]
            let exact = parts.reduce(0, +)
            let scale = parts.map(abs).reduce(0, +)
            let tol = 2 * Double(Float.ulpOfOne) * scale
            let diff = abs(Double(e.sum.data[k]) - exact)
            worst = max(worst, diff); worstExcess = max(worstExcess, diff - tol); maxScale = max(maxScale, scale)
        }
        let content = try InputBertEmbeddingsSection().build(s)
        let reported = try #require(Self.number(content, "sum_max_abs_diff"))
        print("  sum = token + segment + position (pair: \(pair), tiny: \(tiny)): max |Δ| = \(worst), section reports \(reported)")
        #expect(worstExcess <= 0)
        #expect(reported <= 4 * Double(Float.ulpOfOne) * maxScale)
        // The LayerNorm fit: the first hidden state is a per-dimension affine map of the standardised sum.
        let fit = try #require(Self.number(content, "layernorm_fit_max_abs_diff"))
        let outScale = Double(e.output.data.map(abs).max() ?? 1)
        print("  LayerNorm fit residual \(fit) (output scale \(outScale))")
        #expect(fit <= 64 * Double(Float.ulpOfOne) * outScale * Double(e.sum.shape[1]).squareRoot())
    }

    /// A pair's token types: 0 up to and including the first [SEP], 1 after it; segment rows
    /// equal within a segment and different between them; the section counts the same.
    @Test func segmentIDsOfAPair() throws {
        let a = "Attention is all you need.", b = "The model uses no recurrence at all."
        let s = try Self.study(a, pair: b)
        let session = try Session.open(directory: Self.bert, note: nil)
        let na = try session.trace(text: a).tokens.count - 2, nb = try session.trace(text: b).tokens.count - 2
        let expected = [Int](repeating: 0, count: na + 2) + [Int](repeating: 1, count: nb + 1)
        #expect(s.trace.tokens.map(\.typeId) == expected)
        let t = try #require(s.trace.embeddings?.tokenType)
        var within = 0.0
        for i in 0..<s.n { for j in 0..<s.n where expected[i] == expected[j] {
            within = max(within, zip(Self.row(t, i), Self.row(t, j)).map { abs(Double($0 - $1)) }.max() ?? 0)
        } }
        let between = zip(Self.row(t, 0), Self.row(t, s.n - 1)).map { abs(Double($0 - $1)) }.max() ?? 0
        print("  pair: \(na + 2) type-0 and \(nb + 1) type-1 tokens; segment rows within a segment max |Δ| = \(within), between = \(between)")
        #expect(within == 0)
        #expect(between > 0)
        let content = try InputBertEmbeddingsSection().build(s)
        #expect(Self.number(content, "segment_a_tokens") == Double(na + 2))
        #expect(Self.number(content, "segment_b_tokens") == Double(nb + 1))
        #expect(content.groups.flatMap(\.figures).contains { $0.file.hasSuffix("segment-vectors") })
    }

    // MARK: bert-pretraining

    /// Over 1000 seeds: each draw picks round(15%) of the candidates (at least 1), distinct and
    /// among the candidates; every position is picked with probability k/m, and the 80/10/10
    /// split holds — each within 4 binomial standard deviations.
    @Test(arguments: [7, 57, 200])
    func mlmSamplingProportionsWithinBinomialBounds(m: Int) {
        let candidates = (0..<m).map { $0 * 2 + 1 }, vocab = 30522, seeds = 1000
        let k = MLMSampler.count(candidates: m)
        #expect(k >= 1 && abs(Double(k) / Double(m) - 0.15) <= 0.5 / Double(m) + 1e-12)
        var perPosition = [Int: Int](), fates = [MLMSampler.Fate: Int](), total = 0
        for seed in 0..<seeds {
            let picks = MLMSampler.sample(candidates: candidates, vocab: vocab, seed: UInt64(seed))
            #expect(picks.count == k)
            #expect(Set(picks.map(\.position)).count == picks.count)
            #expect(picks.allSatisfy { candidates.contains($0.position) })
            #expect(picks.allSatisfy { $0.fate != .random || ($0.randomID ?? -1) >= 0 && ($0.randomID ?? vocab) < vocab })
            for p in picks { perPosition[p.position, default: 0] += 1; fates[p.fate, default: 0] += 1; total += 1 }
        }
        func within4Sigma(_ count: Int, n: Int, p: Double) -> (ok: Bool, z: Double) {
            let sd = (Double(n) * p * (1 - p)).squareRoot()
            let z = sd > 0 ? (Double(count) - Double(n) * p) / sd : 0
            return (abs(z) <= 4, z)
        }
        let p = Double(k) / Double(m)
        var worstZ = 0.0
        for c in candidates {
            let r = within4Sigma(perPosition[c, default: 0], n: seeds, p: p)
            worstZ = max(worstZ, abs(r.z))
            #expect(r.ok || p == 1, "position \(c) chosen \(perPosition[c, default: 0]) times of \(seeds), p = \(p)")
        }
        let zMask = within4Sigma(fates[.mask, default: 0], n: total, p: 0.8)
        let zRandom = within4Sigma(fates[.random, default: 0], n: total, p: 0.1)
        let zKeep = within4Sigma(fates[.keep, default: 0], n: total, p: 0.1)
        print("  MLM m = \(m): k = \(k) (\(Double(k) / Double(m))); per-position max |z| = \(worstZ); shares mask/random/keep z = \(zMask.z), \(zRandom.z), \(zKeep.z) over \(total) picks")
        #expect(zMask.ok && zRandom.ok && zKeep.ok)
        // Seeded: the same seed gives the same sample.
        #expect(MLMSampler.sample(candidates: candidates, vocab: vocab, seed: 7) == MLMSampler.sample(candidates: candidates, vocab: vocab, seed: 7))
    }

    /// The section's table lists exactly the sampler's picks for its seed, with the original id as label.
    @Test func pretrainingTableIsTheSeededSample() throws {
        let s = try Self.study("The animal didn't cross the street because it was too tired. It was late.")
        let content = try BertPretrainingSection().build(s)
        let candidates = s.trace.tokens.indices.filter { !s.trace.tokens[$0].isSpecial }
        let picks = MLMSampler.sample(candidates: candidates, vocab: s.trace.model.vocabSize, seed: BertPretrainingSection.seed)
        let table = try #require(content.tables.first)
        #expect(table.rows.map { $0[0] } == picks.map { "\($0.position)" })
        #expect(table.rows.map { $0[4] } == picks.map { "\(s.trace.tokens[$0.position].id)" })
        #expect(Self.number(content, "mlm_chosen") == Double(picks.count))
        #expect(Self.number(content, "content_tokens") == Double(candidates.count))
        // Split at the sentence end: A is the first sentence.
        let pairTable = try #require(content.tables.last)
        #expect(pairTable.rows.first?[2] == "The animal didn't cross the street because it was too tired.")
        #expect(pairTable.rows.first?[3] == "It was late.")
        #expect(pairTable.rows.last?[2] == "It was late.", "SOP's negative swaps the segments")
    }

    // MARK: bert-io

    /// The same word twice: identical token-embedding rows, different outputs; the section's
    /// cosines equal naive ones.
    @Test func sameWordIdenticalInputsDifferentOutputs() throws {
        let s = try Self.study("I sat on the river bank, then went to the bank.")
        let positions = s.trace.tokens.indices.filter { s.trace.tokens[$0].text == "bank" }
        try #require(positions.count == 2, "tokens: \(s.trace.tokens.map(\.text))")
        let (i, j) = (positions[0], positions[1])
        let e = try #require(s.trace.embeddings)
        let inputDiff = zip(Self.row(e.word, i), Self.row(e.word, j)).map { abs($0 - $1) }.max() ?? 1
        let out = s.trace.layers.last?.output ?? s.trace.lastHidden
        let outputCosine = Self.naiveCosine(Self.row(out, i), Self.row(out, j))
        let outputDiff = zip(Self.row(out, i), Self.row(out, j)).map { abs($0 - $1) }.max() ?? 0
        print("  “bank” at \(i) and \(j): input rows max |Δ| = \(inputDiff); last-layer cosine = \(outputCosine), max |Δ| = \(outputDiff)")
        #expect(inputDiff == 0)
        #expect(outputDiff > 1e3 * Float.ulpOfOne * (out.data.map(abs).max() ?? 1))
        let content = try BertIOSection().build(s)
        if case let .text(w)? = Self.values(content)["word"] { #expect(w == "bank") } else { Issue.record("no word value") }
        let reported = try #require(Self.number(content, "output_cosine_last_layer"))
        let tol = 8 * Double(Float.ulpOfOne) * Double(out.shape[1]).squareRoot()
        print("  section cosine \(reported) vs naive \(outputCosine): |Δ| = \(abs(reported - outputCosine)) (tol \(tol))")
        #expect(abs(reported - outputCosine) <= tol)
        #expect(Self.number(content, "input_embedding_max_abs_diff") == 0)
        #expect(BertIOSection().experiments(s).isEmpty, "a repeated word needs no built-in run")
    }

    /// No repeated word: the built-in pair is run, and “bank” there has identical input rows.
    @Test func builtInPairWhenNothingRepeats() throws {
        let s = try Self.study("Attention helps.")
        #expect(BertIOSection().experiments(s).count == 2)
        let content = try BertIOSection().build(s)
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        if case let .text(src)? = Self.values(content)["word_source"] { #expect(src == "the built-in pair") } else { Issue.record("no source") }
        #expect(Self.number(content, "input_embedding_max_abs_diff") == 0)
    }

    // MARK: bert-cls-pooling and input-embedding

    /// [CLS] and mean pooling (all tokens under the mask) and their cosines, against naive loops.
    @Test func poolingCosinesEqualNaiveLoops() throws {
        let s = try Self.study("The animal didn't cross the street because it was too tired.")
        let content = try BertClsPoolingSection().build(s)
        func pooled(_ t: Trace) -> (cls: [Float], mean: [Float]) {
            let h = t.lastHidden, n = h.shape[0], d = h.shape[1]
            var mean = [Double](repeating: 0, count: d)
            for i in 0..<n { for k in 0..<d { mean[k] += Double(h.data[i * d + k]) } }
            return (Self.row(h, 0), mean.map { Float($0 / Double(n)) })
        }
        let own = pooled(s.trace)
        let d = own.cls.count
        let tol = 16 * Double(Float.ulpOfOne) * Double(d).squareRoot()
        let own1 = try #require(Self.number(content, "first_vs_mean_cosine"))
        var worst = abs(own1 - Self.naiveCosine(own.cls, own.mean))
        let runs = BertClsPoolingSection.builtIn.map { s.run(.otherText($0.text, pair: nil)).trace }
        let a = pooled(try #require(runs[0]))
        for (k, role) in ["paraphrase", "related", "unrelated"].enumerated() {
            let other = pooled(try #require(runs[k + 1]))
            let cls = try #require(Self.number(content, "cls_\(role)")), mean = try #require(Self.number(content, "mean_\(role)"))
            worst = max(worst, abs(cls - Self.naiveCosine(a.cls, other.cls)), abs(mean - Self.naiveCosine(a.mean, other.mean)))
        }
        print("  pooling cosines: max |Δ| section vs naive = \(worst) (tol \(tol))")
        #expect(worst <= tol)
    }

    /// input-embedding's mean cosine over pairs of different ids and the one-hot/dense counts;
    /// input-embed-scale's token/position ratio — against naive loops.
    @Test func embeddingStatisticsEqualNaiveLoops() throws {
        let s = try Self.study("The animal didn't cross the street because it was too tired, the animal said.")
        let e = try #require(s.trace.embeddings)
        let ids = s.trace.tokens.map(\.id)
        var sum = 0.0, count = 0
        for i in 0..<s.n { for j in (i + 1)..<s.n where ids[i] != ids[j] { sum += Self.naiveCosine(Self.row(e.word, i), Self.row(e.word, j)); count += 1 } }
        let content = try InputEmbeddingSection().build(s)
        let reported = try #require(Self.number(content, "mean_cosine"))
        let tol = 16 * Double(Float.ulpOfOne) * Double(e.word.shape[1]).squareRoot()
        print("  mean cosine over \(count) pairs: naive \(sum / Double(count)), section \(reported), |Δ| = \(abs(reported - sum / Double(count)))")
        #expect(abs(reported - sum / Double(count)) <= tol)
        #expect(Self.number(content, "distinct_id_pairs") == Double(count))
        let m = s.trace.model
        #expect(Self.number(content, "table_parameters") == Double(m.vocabSize * m.dModel))
        #expect(Self.number(content, "one_hot_bytes") == Double(s.n * m.vocabSize * 4))

        func norm(_ r: [Float]) -> Double { r.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let tokenMean = (0..<s.n).map { norm(Self.row(e.word, $0)) }.reduce(0, +) / Double(s.n)
        let posMean = (0..<s.n).map { norm(Self.row(e.position, $0)) }.reduce(0, +) / Double(s.n)
        let scale = try InputEmbedScaleSection().build(s)
        let ratio = try #require(Self.number(scale, "token_to_position_norm_ratio"))
        print("  token/position norm ratio: naive \(tokenMean / posMean), section \(ratio)")
        #expect(abs(ratio - tokenMean / posMean) <= 1e-9 * ratio)
        let sinNorm = try #require(Self.number(scale, "sinusoidal_pe_norm"))
        #expect(abs(sinNorm - (Double(m.dModel / 2)).squareRoot()) <= 1e-5 * sinNorm)
    }

    // MARK: through the real binary

    /// The six sections are computed in report.json of the example (and of a pair), with their values.
    @Test func sectionsComputedInReportJSON() throws {
        let example = try String(contentsOf: CLI.repoRoot.appendingPathComponent("examples/sentence.txt"), encoding: .utf8)
        let (dir, json, _) = try ReportJSONTests.render(example, model: Self.bert, extra: ["--no-timings"])
        _ = dir
        let sections = try #require(json["sections"] as? [[String: Any]])
        func section(_ id: String) -> [String: Any]? { sections.first { $0["id"] as? String == id } }
        func values(_ id: String) -> [String: Any] {
            var out: [String: Any] = [:]
            for f in section(id)?["findings"] as? [[String: Any]] ?? [] { for (k, v) in f["values"] as? [String: Any] ?? [:] { out[k] = v } }
            for (k, v) in section(id)?["values"] as? [String: Any] ?? [:] { out[k] = v }
            return out
        }
        let expected: [String: [String]] = [
            "input-embedding": ["mean_cosine", "most_similar_cosine", "table_parameters", "one_hot_bytes", "dense_bytes"],
            "input-embed-scale": ["token_norm_mean", "position_norm_mean", "token_to_position_norm_ratio", "sinusoidal_pe_norm"],
            "input-bert-embeddings": ["sum_max_abs_diff", "segment_a_tokens", "layernorm_fit_max_abs_diff"],
            "bert-pretraining": ["content_tokens", "mlm_chosen", "mlm_masked", "seeds_mask_share", "segment_a_tokens", "pair_length"],
            "bert-cls-pooling": ["first_vs_mean_cosine", "cls_paraphrase", "mean_paraphrase", "cls_spread", "mean_spread"],
            "bert-io": ["word", "word_source", "input_embedding_max_abs_diff", "output_cosine_last_layer", "output_cosine_min"],
        ]
        for (id, names) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(section(id)?["status"] as? String == "computed", "\(id): \(section(id)?["status"] ?? "missing") \(section(id)?["reason"] ?? "")")
            let v = values(id)
            for name in names { #expect(v[name] != nil, "\(id) lacks \(name)") }
            print("  \(id): " + names.map { "\($0) = \(v[$0] ?? "—")" }.joined(separator: ", "))
        }
        #expect((values("bert-io")["input_embedding_max_abs_diff"] as? Double) == 0)
        #expect((values("bert-io")["output_cosine_last_layer"] as? Double ?? 1) < 1)

        let tmp = try TempDir()
        let second = try tmp.write("b.txt", "It has no recurrence.")
        let (pairDir, pairJSON, _) = try ReportJSONTests.render("Attention is all you need.", model: Self.bert, extra: ["--no-timings", "--pair", second])
        _ = pairDir
        let pairSections = try #require(pairJSON["sections"] as? [[String: Any]])
        let embeddings = try #require(pairSections.first { $0["id"] as? String == "input-bert-embeddings" })
        let pairValues = (embeddings["findings"] as? [[String: Any]] ?? []).reduce(into: [String: Any]()) { acc, f in
            for (k, v) in f["values"] as? [String: Any] ?? [:] { acc[k] = v }
        }
        print("  pair: segment_b_tokens = \(pairValues["segment_b_tokens"] ?? "—"), segment_vector_distance = \(pairValues["segment_vector_distance"] ?? "—")")
        #expect((pairValues["segment_b_tokens"] as? Double ?? 0) > 0)
        #expect((pairValues["segment_vector_distance"] as? Double ?? 0) > 0)
    }
}
