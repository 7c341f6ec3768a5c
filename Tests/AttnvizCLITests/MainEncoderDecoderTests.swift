import AttnvizModel
@testable import AttnvizReport
import AttnvizTrace
import Foundation
import Testing

/// `render --model models/reverse-words`: an encoder–decoder attnviz trained as the MAIN model,
/// through the real binary. Its input is checked against the definitions written out here (the
/// character vocabulary, the word-boundary cut, the teacher-forced decoder input = start token + gold
/// output shifted right), and every section of the catalogue is computed or says why not.
@Suite struct MainEncoderDecoderTests {
    static let model = CLI.repoRoot.appendingPathComponent("models/reverse-words").path
    static let limit = 48  // models/reverse-words' attnviz.max_characters (read from config.json below)

    static func render(_ text: String) throws -> (root: [String: Any], html: String) {
        let tmp = try TempDir()
        let input = tmp.file("input.txt")
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let out = tmp.file("report")
        let r = try CLI.run(["render", input, "--model", model, "--output", out, "--quiet", "--no-timings"])
        #expect(r.status == 0 && !r.signaled, "\(r.stderr)")
        let root = try CompanionSectionTests.json(out + "/report.json")
        return (root, try String(contentsOfFile: out + "/index.html", encoding: .utf8))
    }

    /// Whitespace runs → one space; then the longest run of whole words with at most `limit` scalars.
    static func expectedSource(_ text: String, limit: Int) -> (kept: String, dropped: Int) {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        let normal = words.joined(separator: " ")
        var kept = ""
        for w in words {
            let next = kept.isEmpty ? w : kept + " " + w
            if next.unicodeScalars.count > limit { break }
            kept = next
        }
        if kept.isEmpty { kept = String(String.UnicodeScalarView(normal.unicodeScalars.prefix(limit))) }
        return (kept, normal.unicodeScalars.count - kept.unicodeScalars.count)
    }

    /// One token per scalar: printable ASCII as itself, anything else <unk>.
    static func charTokens(_ s: String) -> [String] {
        s.unicodeScalars.map { (0x20...0x7E).contains($0.value) ? String($0) : "<unk>" }
    }

    static let texts = [
        ("example", (try? String(contentsOfFile: CLI.repoRoot.appendingPathComponent("examples/sentence.txt").path, encoding: .utf8)) ?? "the cat sat"),
        ("unseen", "Seven quiet owls watched the frozen harbor while a lighthouse blinked twice."),
        ("chinese", "今天天气很好，我们去公园散步吧。"),
        ("short", "hi"),
    ]

    @Test(arguments: texts.indices)
    func rendersWithTheTaskModelAsMainModel(_ k: Int) throws {
        let (name, text) = Self.texts[k]
        let config = try CompanionSectionTests.json(Self.model + "/config.json")
        let limit = try #require(((config["attnviz"] as? [String: Any])?["max_characters"] as? NSNumber)?.intValue)
        let (root, html) = try Self.render(text)
        // The source: the cut text's characters, then </s>.
        let (kept, dropped) = Self.expectedSource(text, limit: limit)
        let tokens = try #require(root["tokens"] as? [String])
        #expect(tokens == Self.charTokens(kept) + ["</s>"], "\(name)")
        #expect(root["truncated_tokens"] as? Int == dropped, "\(name)")
        // The teacher-forced decoder input: <pad> (start) + the gold output (words reversed) + </s>, shifted right.
        let gold = kept.split(separator: " ").reversed().joined(separator: " ")
        let decoder = try #require(root["decoder_tokens"] as? [String])
        #expect(decoder == ["<pad>"] + Self.charTokens(gold), "\(name)")
        let model = try #require(root["model"] as? [String: Any])
        #expect(model["architecture"] as? String == "encoder-decoder" && model["norm_placement"] as? String == "post-LN" && model["positions"] as? String == "sinusoidal")
        // Every catalogue id present; implemented ones computed or not available with a reason.
        let catalogue = try Catalog.parse(String(contentsOfFile: CLI.repoRoot.appendingPathComponent("templates/questions.md").path, encoding: .utf8), source: "questions.md")
        let implemented = Set(Sections.all.map(\.id))
        let sections = try #require(root["sections"] as? [[String: Any]])
        var counts: [String: Int] = [:]
        for entry in catalogue.entries {
            let section = try #require(sections.first { $0["id"] as? String == entry.id }, "\(entry.id) missing")
            let status = section["status"] as? String ?? "?"
            counts[status, default: 0] += 1
            if implemented.contains(entry.id) {
                #expect(status == "computed" || status == "not available", "\(name) \(entry.id): \(status)")
                if status == "not available" { #expect(!((section["reason"] as? String) ?? "").isEmpty, "\(name) \(entry.id) has no reason") }
            } else {
                #expect(status == "not yet", "\(name) \(entry.id): \(status)")
            }
        }
        print("  \(name): \(tokens.count) source tokens, \(decoder.count) decoder inputs, \(dropped) dropped; \(counts)")
        // The architecture section draws the decoder block; the header says how the decoder was run.
        let arch = try #require(sections.first { $0["id"] as? String == "arch-overview" })
        #expect((arch["figures"] as? [String])?.contains { $0.contains("decoder-block") } == true)
        #expect(html.contains("teacher-forced"))
        // No sentence that holds only for other architectures (the page, tags stripped).
        let page = html.replacingOccurrences(of: "<[^>]+>", with: " ", options: .regularExpression)
        for wrong in ["is a causal decoder", "This is GPT-2", "In BERT (an encoder) every position", "tokens were dropped", "[CLS] and [SEP] included",
                      // Review 2 of the --model reverse-words report: the model has a pad token (<pad>, id 2), sinusoidal
                      // positions, no LayerNorm on the embedding sum, a ReLU FFN, and 2 + 2 blocks of different sizes.
                      "has no pad token of its own", "learned vector for position", "this is what the LayerNorm receives",
                      "Sum (input to the LayerNorm)", "first normalisation — the embedding sum", "is used for)",
                      "instead of ReLU's exact 0", "where ReLU outputs exactly 0;", "of the 2 blocks adds", "this model has 50 rows",
                      "(50 here)", "it was trained up to", "added special tokens.", "th of each layer"] {
            #expect(!page.contains(wrong), "\(name): “\(wrong)”")
        }
        try Self.checkReviewFixes(root, config: config, name: name)
    }

    /// The numbers behind the review-2 fixes, recomputed from config.json and the definitions.
    static func checkReviewFixes(_ root: [String: Any], config: [String: Any], name: String) throws {
        let sections = try #require(root["sections"] as? [[String: Any]])
        func values(_ id: String) -> [String: Any] { (sections.first { $0["id"] as? String == id }?["values"] as? [String: Any]) ?? [:] }
        func int(_ key: String) throws -> Int { try #require((config[key] as? NSNumber)?.intValue, "config \(key)") }
        let d = try int("d_model"), ff = try int("encoder_ffn_dim")
        // One encoder block: self-attention (4 d×d + bias) + FFN + 2 LayerNorms; a decoder block adds
        // cross-attention and its LayerNorm.
        let encoderBlock = 4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + 2 * (2 * d)
        let decoderBlock = encoderBlock + 4 * (d * d + d) + 2 * d
        let arch = values("arch-overview")
        #expect((arch["parameters_per_layer"] as? NSNumber)?.intValue == encoderBlock, "\(name)")
        #expect((arch["parameters_per_decoder_layer"] as? NSNumber)?.intValue == decoderBlock, "\(name)")
        print("  \(name): encoder block \(encoderBlock), decoder block \(decoderBlock)")
        // pos-sinusoidal draws this model's half-split table: it matches the recorded position rows
        // (float32 angles grow with the position: tolerance 8 ulps × the largest position), and the
        // interleaved one does not.
        let pos = values("pos-sinusoidal")
        let own = try #require((pos["table_vs_recorded_max_abs_diff"] as? NSNumber)?.doubleValue, "\(name): no table_vs_recorded_max_abs_diff")
        let other = try #require((pos["interleaved_vs_recorded_max_abs_diff"] as? NSNumber)?.doubleValue)
        print("  \(name): sinusoidal table vs recorded rows \(own), interleaved \(other)")
        let rows = (pos["recorded_position_rows"] as? NSNumber)?.doubleValue ?? 0
        #expect(rows > 0 && own <= 8 * Double(Float.ulpOfOne) * max(rows, 1), "\(name)")
        #expect(other > 0.1)
        // The model has a pad token, so the padded run is made (its numbers: paddedSourceChangesNoRealOutput).
        let padding = try #require(sections.first { $0["id"] as? String == "attn-padding-mask" })
        #expect(padding["status"] as? String == "computed", "\(name): \(padding["reason"] ?? "")")
        #expect(((padding["values"] as? [String: Any])?["pad_weight_max"] as? NSNumber)?.doubleValue == 0, "\(name)")
    }

    /// In-process: the source padded with <pad> (the id vocab.json gives it) under the key mask leaves
    /// every real token's encoder output and the decoder's outputs as they were (float rounding only),
    /// and no self- or cross-attention weight lands on a pad key.
    @Test func paddedSourceChangesNoRealOutput() throws {
        let session = try Session.open(directory: Self.model, note: nil)
        let vocab = try CompanionSectionTests.json(Self.model + "/vocab.json")
        let padId = try #require((vocab["<pad>"] as? NSNumber)?.intValue)
        let base = try session.trace(text: "the cat sat on the mat")
        let extra = 5
        let padded = try #require(try session.tracePadded(base, padCount: extra))
        let n = base.tokens.count, total = padded.tokens.count
        #expect(total == n + extra && padded.tokens.suffix(extra).allSatisfy { $0.id == padId && $0.text == "<pad>" })
        #expect(padded.decoderTokens.map(\.id) == base.decoderTokens.map(\.id))
        var worst: Float = 0, scale: Float = 0, onPads: Float = 0
        for (a, b) in zip(base.layers, padded.layers) {
            #expect(a.stack == b.stack)
            let d = a.output.rowWidth
            let rows = a.stack == .encoder ? n : a.output.rowCount  // decoder rows: all of them
            for k in 0..<(rows * d) { worst = max(worst, abs(a.output.data[k] - b.output.data[k])); scale = max(scale, abs(a.output.data[k])) }
            for att in b.attention where att.kind != .decoderSelf {
                let heads = att.weights.shape[0], nq = att.weights.shape[1], nk = att.weights.shape[2]
                #expect(nk == total)
                for h in 0..<heads { for i in 0..<nq { for j in n..<nk { onPads = max(onPads, att.weights.data[(h * nq + i) * nk + j]) } } }
            }
        }
        let d = Float(base.model.dModel)
        let tol = 8 * Float.ulpOfOne * (Float(total) * d).squareRoot() * max(scale, 1)
        print("  padded source: max |Δ| real outputs \(worst) (scale \(scale), tol \(tol)), max weight on a pad key \(onPads)")
        #expect(worst <= tol)
        #expect(onPads == 0)
    }

    /// In-process: the main trace's source tokens point back at the characters of the original text.
    @Test func sourceRangesPointAtTheOriginalText() throws {
        let session = try Session.open(directory: Self.model, note: nil)
        let text = "  the\tcat \n\n sat  "
        let t = try session.trace(text: text)
        let scalars = Array(text.unicodeScalars)
        #expect(t.tokens.map(\.text) == Self.charTokens("the cat sat") + ["</s>"])
        for token in t.tokens where token.text != "</s>" {
            let r = try #require(token.range)
            let covered = String(String.UnicodeScalarView(scalars[r]))
            if token.text == " " { #expect(covered.allSatisfy(\.isWhitespace) && !covered.isEmpty) } else { #expect(covered == token.text) }
        }
        #expect(t.decoderTokens.first?.id == CharVocabulary.pad)
        #expect(t.layers(of: .decoder).count > 0 && t.layers(of: .encoder).count > 0)
        // The report's encoder view: encoder layers only, lastHidden = the last encoder layer's output.
        let view = t.encoderSide
        #expect(view.layers.allSatisfy { $0.stack == .encoder } && view.layers.count == t.layers(of: .encoder).count)
        #expect(view.lastHidden.data == t.layers(of: .encoder).last?.output.data)
    }
}
