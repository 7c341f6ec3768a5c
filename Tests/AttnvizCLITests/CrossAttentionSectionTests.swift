import AttnvizModel
@testable import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// attn-cross and arch-enc-vs-dec on the shipped companion (models/reverse-words): every number the
/// sections report is recomputed here with plain loops from the trace, the checkpoint and the
/// text — the gold alignment of reverse-words included, written out here from its definition.
@Suite struct CrossAttentionSectionTests {
    static let shipped = CompanionSectionTests.shipped
    static let example = CompanionSectionTests.text
    static let unseen = "Seven old maps hide the river under my town."
    static let chinese = "我们今天在北京学习注意力机制。"
    static let texts = [example, unseen, chinese]

    /// A study of `text` on a tiny main model with the shipped companion's runs made.
    static func study(_ section: any Section, text: String, main: String = "bert") throws -> Study {
        let session = try AttentionChapterSectionTests.tiny(main)
        let trace = try session.trace(text: text)
        var s = Study(inputName: "t", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        s.runs = session.run(section.experiments(s), base: trace, companion: Companion.open(directory: shipped))
        return s
    }

    /// A named value of a section (findings or values).
    static func value(_ c: SectionContent, _ name: String) -> Double? {
        for f in c.findings { for v in f.values where v.name == name { if case let .number(x) = v.value { return x } } }
        for v in c.values where v.name == name { if case let .number(x) = v.value { return x } }
        return nil
    }

    static func config() throws -> [String: Any] { try CompanionSectionTests.json(shipped + "/config.json") }

    /// What the companion reads: whitespace runs → one space, cut after the last whole word that
    /// keeps at most `limit` Unicode scalars (written out here, not Companion.cut).
    static func cut(_ text: String, limit: Int) -> [[Unicode.Scalar]] {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map { Array($0.unicodeScalars) }
        var kept: [[Unicode.Scalar]] = [], length = 0
        for w in words {
            let next = length + (kept.isEmpty ? 0 : 1) + w.count
            if next > limit { break }
            kept.append(w); length = next
        }
        return kept
    }

    /// The character vocabulary's ids: </s> 0, <unk> 1, <pad> 2, then U+0020–U+007E; one id per scalar.
    static func id(_ s: Unicode.Scalar) -> Int { (0x20...0x7E).contains(s.value) ? Int(s.value) - 0x20 + 3 : 1 }

    /// reverse-words in scalars: the source ids (with </s>), the label ids (target + </s>), and for
    /// each label the source position it copies (nil for </s>). A word keeps its spelling; the
    /// space before an output word copies the space after that word in the source, or the one
    /// before it when the word is the source's last.
    static func reverseWords(_ words: [[Unicode.Scalar]]) -> (source: [Int], labels: [Int], gold: [Int?]) {
        var source: [Int] = [], starts: [Int] = []
        for (k, w) in words.enumerated() {
            if k > 0 { source.append(id(" ")) }
            starts.append(source.count)
            source += w.map(id)
        }
        source.append(0)
        var labels: [Int] = [], gold: [Int?] = []
        for (n, k) in words.indices.reversed().enumerated() {
            if n > 0 {
                labels.append(id(" "))
                gold.append(k < words.count - 1 ? starts[k] + words[k].count : starts[k] - 1)
            }
            for c in words[k].indices { labels.append(id(words[k][c])); gold.append(starts[k] + c) }
        }
        labels.append(0); gold.append(nil)
        return (source, labels, gold)
    }

    @Test(arguments: texts) func goldArgmaxCountRecomputed(text: String) throws {
        let config = try Self.config()
        let maxCharacters = try #require(((config["attnviz"] as? [String: Any])?["max_characters"] as? NSNumber)?.intValue)
        let positions = try #require((config["max_position_embeddings"] as? NSNumber)?.intValue)
        let limit = min(maxCharacters, positions - 1)
        let s = try Self.study(AttnCrossSection(), text: text)
        let content = try AttnCrossSection().build(s)
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        let t = try #require(s.run(CompanionAnalysis.run(s)).trace)
        let (source, labels, gold) = Self.reverseWords(Self.cut(text, limit: limit))
        // What the companion read and was fed: the source ids (one per character, <unk> included),
        // the decoder input = <pad> + labels shifted right, and the gold alignment the trace carries.
        #expect(t.tokens.map(\.id) == source)
        #expect(t.decoderTokens.map(\.id) == [2] + labels.dropLast())
        #expect(t.decoderAlignment == gold)
        for (i, g) in gold.enumerated() { if let g { #expect(labels[i] == source[g], "label \(i) does not copy source \(g)") } }
        let T = labels.count, S = source.count
        let rows = gold.enumerated().compactMap { i, g in g.map { (i, $0) } }
        // Naive argmax counts per layer and head, and on each layer's head mean.
        var best = 0, bestWeight = -1.0, checked = 0, worstRowSum = 0.0
        var bestMisses = (rows: 0, spaces: 0)
        var unknownRows = 0
        for (_, g) in rows where source[g] == 1 { unknownRows += 1 }
        for layer in t.layers where layer.stack == .decoder {
            let a = try #require(layer.attention.first { $0.kind == .cross })
            let H = a.weights.shape[0]
            #expect(a.weights.shape == [H, T, S] && a.q.shape[1] == T && a.k.shape[1] == S && a.v.shape[1] == S)
            func w(_ h: Int, _ i: Int, _ j: Int) -> Float { a.weights.data[(h * T + i) * S + j] }
            func argmax(_ f: (Int) -> Double) -> Int { var m = 0; for j in 1..<S where f(j) > f(m) { m = j }; return m }
            for h in 0..<H {
                for i in 0..<T {
                    var sum = 0.0
                    for j in 0..<S { sum += Double(w(h, i, j)) }
                    worstRowSum = max(worstRowSum, abs(sum - 1))
                }
                let hits = rows.filter { i, g in argmax { Double(w(h, i, $0)) } == g }.count
                let reported = try #require(Self.value(content, "gold_argmax_L\(layer.index)_H\(h)"))
                #expect(reported == Double(hits), "L\(layer.index) H\(h): section \(reported), recomputed \(hits)")
                print("  gold-argmax L\(layer.index) H\(h): \(hits)/\(rows.count)")
                // The best head: most gold maxima, then the most mean weight on the gold cells.
                let goldWeight = rows.reduce(0.0) { $0 + Double(w(h, $1.0, $1.1)) } / Double(max(rows.count, 1))
                if hits > best || (hits == best && goldWeight > bestWeight) {
                    best = hits; bestWeight = goldWeight
                    let missed = rows.filter { i, g in argmax { Double(w(h, i, $0)) } != g }
                    bestMisses = (missed.count, missed.filter { source[$0.1] == Self.id(" ") }.count)
                }
                checked += 1
            }
            let meanHits = rows.filter { i, g in argmax { j in (0..<H).reduce(0.0) { $0 + Double(w($1, i, j)) } / Double(H) } == g }.count
            print("  gold-argmax L\(layer.index) head mean: \(meanHits)/\(rows.count)")
            #expect(Self.value(content, "gold_argmax_mean_L\(layer.index)") == Double(meanHits))
        }
        let rowTol = 4 * Double(Float.ulpOfOne) * Double(S)
        print("  \(text.prefix(20))…: T \(T), S \(S), gold rows \(rows.count) (\(unknownRows) <unk>), best \(best) (gold weight \(bestWeight), misses \(bestMisses.rows), spaces \(bestMisses.spaces)), row sums within \(worstRowSum) (tol \(rowTol))")
        #expect(checked > 0)
        #expect(Self.value(content, "gold_rows") == Double(rows.count))
        #expect(Self.value(content, "gold_argmax_best") == Double(best))
        #expect(worstRowSum <= rowTol)
        #expect((Self.value(content, "row_sum_max_deviation") ?? .infinity) <= rowTol)
        if bestMisses.spaces > 0 {
            #expect(Self.value(content, "best_head_misses") == Double(bestMisses.rows))
            #expect(Self.value(content, "best_head_space_misses") == Double(bestMisses.spaces))
        } else {
            #expect(Self.value(content, "best_head_space_misses") == nil)
        }
        #expect(abs((Self.value(content, "gold_weight_best") ?? -1) - bestWeight) <= 4 * Double(Float.ulpOfOne) * Double(rows.count))
        // Text outside the vocabulary: said plainly, and counted.
        if unknownRows > 0 {
            #expect(Self.value(content, "unknown_rows") == Double(unknownRows))
            #expect(content.answer.joined().contains("outside its printable-ASCII vocabulary"))
        }
        if text == Self.example { #expect(t.truncatedTokens > 0 && content.answer.joined().contains("was cut")) }
    }

    /// Cross-attention's Q is the decoder's stream (after its self-attention sub-layer) times W_Q,
    /// K and V the encoder's output times W_K and W_V: recomputed from the checkpoint in Double.
    @Test func queriesFromTheDecoderKeysAndValuesFromTheEncoder() throws {
        let s = try Self.study(AttnCrossSection(), text: Self.unseen)
        let t = try #require(s.run(CompanionAnalysis.run(s)).trace)
        let file = try SafetensorsFile(path: Self.shipped + "/model.safetensors")
        let encoderOutput = try #require(t.layers.last { $0.stack == .encoder }).output
        let u = Double(Float.ulpOfOne) / 2
        var worst = 0.0, worstRatio = 0.0, compared = 0
        for layer in t.layers where layer.stack == .decoder {
            let a = try #require(layer.attention.first { $0.kind == .cross })
            let stream = try #require(layer.sublayers.first { $0.name == "self-attention" }).residualOut
            let H = a.heads, dk = a.q.shape[2]
            for (name, x, recorded) in [("q_proj", stream, a.q), ("k_proj", encoderOutput, a.k), ("v_proj", encoderOutput, a.v)] {
                let W = try file.tensor("model.decoder.layers.\(layer.index).encoder_attn.\(name).weight")
                let b = try file.tensor("model.decoder.layers.\(layer.index).encoder_attn.\(name).bias")
                let n = x.shape[0], d = x.shape[1]
                #expect(recorded.shape == [H, n, dk] && W.shape == [H * dk, d])
                let gamma = Double(d + 1) * u / (1 - Double(d + 1) * u)
                for r in 0..<n {
                    for h in 0..<H {
                        for c in 0..<dk {
                            let k = h * dk + c
                            var exact = Double(b.data[k]), magnitude = abs(Double(b.data[k]))
                            for m in 0..<d { let p = Double(x.data[r * d + m]) * Double(W.data[k * d + m]); exact += p; magnitude += abs(p) }
                            let diff = abs(Double(recorded.data[(h * n + r) * dk + c]) - exact)
                            let tol = 2 * gamma * magnitude + u * abs(exact)
                            worst = max(worst, diff); worstRatio = max(worstRatio, diff / max(tol, .leastNonzeroMagnitude))
                            compared += 1
                        }
                    }
                }
            }
        }
        print("  Q/K/V from decoder/encoder: \(compared) values, max |Δ| \(worst), worst Δ/tol \(worstRatio)")
        #expect(compared > 0)
        #expect(worstRatio <= 1)
    }

    @Test func missingCompanionIsUnavailable() throws {
        for section in [AttnCrossSection(), ArchEncVsDecSection()] as [any Section] {
            let session = try AttentionChapterSectionTests.tiny("bert")
            let trace = try session.trace(text: "the cat sat")
            var s = Study(inputName: "t", text: "the cat sat", pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
            s.runs = session.run(section.experiments(s), base: trace, companion: Companion.open(directory: "/nonexistent/companion"))
            let content = try section.build(s)
            #expect(content.unavailable != nil && !content.answer.isEmpty, "\(section.id)")
        }
    }

    /// arch-enc-vs-dec: weight on later positions (decoder exactly 0, encoder > 0, main model),
    /// and the parameters per layer counted from the checkpoint's tensors.
    @Test(arguments: ["bert", "gpt2"]) func encoderVersusDecoderFindingsRecomputed(main: String) throws {
        let s = try Self.study(ArchEncVsDecSection(), text: Self.unseen, main: main)
        let content = try ArchEncVsDecSection().build(s)
        #expect(content.unavailable == nil, "\(content.unavailable ?? "")")
        let t = try #require(s.run(CompanionAnalysis.run(s)).trace)
        /// Mean over layers, heads and queries of Σ_{j>i} w_ij, and the largest such w_ij.
        func later(_ layers: [LayerRecord], _ kind: AttentionKind) -> (mean: Double, max: Double) {
            var total = 0.0, rows = 0, largest = 0.0
            for l in layers {
                guard let a = l.attention.first(where: { $0.kind == kind }) else { continue }
                let H = a.weights.shape[0], n = a.weights.shape[1]
                for h in 0..<H {
                    for i in 0..<n {
                        var row = 0.0
                        for j in 0..<n where j > i { let v = Double(a.weights.data[(h * n + i) * n + j]); row += v; largest = max(largest, v) }
                        total += row; rows += 1
                    }
                }
            }
            return (total / Double(max(rows, 1)), largest)
        }
        let enc = later(t.layers, .encoderSelf), dec = later(t.layers, .decoderSelf)
        let mainLater = later(s.trace.layers, main == "gpt2" ? .decoderSelf : .encoderSelf)
        print("  later-position weight: companion encoder \(enc.mean), decoder \(dec.mean) (max \(dec.max)); main \(main) \(mainLater.mean)")
        #expect(dec.mean == 0 && dec.max == 0 && enc.mean > 0)
        let tol = 8 * Double(Float.ulpOfOne) * Double(t.tokens.count)
        #expect(abs((Self.value(content, "encoder_later_weight_mean") ?? -1) - enc.mean) <= tol)
        #expect(Self.value(content, "decoder_later_weight_mean") == 0 && Self.value(content, "decoder_later_weight_max") == 0)
        #expect(abs((Self.value(content, "main_later_weight_mean") ?? -1) - mainLater.mean) <= 8 * Double(Float.ulpOfOne) * Double(s.n))
        if main == "gpt2" { #expect(mainLater.mean == 0) } else { #expect(mainLater.mean > 0) }
        // Parameters per layer from the tensors' shapes in the checkpoint.
        let file = try SafetensorsFile(path: Self.shipped + "/model.safetensors")
        func count(_ prefix: String) -> Int {
            file.tensors.filter { $0.key.hasPrefix(prefix) }.reduce(0) { $0 + $1.value.shape.reduce(1, *) }
        }
        let encLayer = count("model.encoder.layers.0."), decLayer = count("model.decoder.layers.0."), cross = count("model.decoder.layers.0.encoder_attn.")
        let d = try #require((try Self.config()["d_model"] as? NSNumber)?.intValue)
        print("  parameters per layer: encoder \(encLayer), decoder \(decLayer), cross-attention \(cross) (incl. its LayerNorm \(count("model.decoder.layers.0.encoder_attn_layer_norm.")))")
        #expect(Self.value(content, "encoder_layer_parameters") == Double(encLayer))
        #expect(Self.value(content, "decoder_layer_parameters") == Double(decLayer))
        // "encoder_attn." excludes "encoder_attn_layer_norm." (different prefix): Q, K, V, O with biases.
        #expect(Self.value(content, "cross_attention_parameters_per_layer") == Double(cross))
        #expect(cross == 4 * (d * d + d))
        #expect(content.findings.contains { $0.text.contains("exactly the cross-attention plus the third LayerNorm") } == (decLayer - encLayer == cross + 2 * d))
    }
}
