import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// bert-io: the same token in two contexts — identical input rows, different outputs.
struct BertIOSection: Section {
    let id = "bert-io"

    /// The built-in pair used when the input repeats no word, and the word they share.
    static let builtIn = ["I sat on the river bank.", "I put money in the bank."]
    static let builtInWord = "bank"

    /// Code-point offset of the last occurrence of `word` in `text`.
    static func offset(of word: String, in text: String) -> Int? {
        let t = Array(text.unicodeScalars), w = Array(word.unicodeScalars)
        guard !w.isEmpty, t.count >= w.count else { return nil }
        return (0...(t.count - w.count)).last { Array(t[$0..<($0 + w.count)]) == w }
    }

    /// Two positions of the user's input holding the same whole-word token id: the longest such
    /// word (first on ties), its first two occurrences.
    static func repeated(_ s: Study) -> (i: Int, j: Int)? {
        var first: [Int: Int] = [:], found: [(i: Int, j: Int)] = []
        for i in EmbeddingAnalysis.wholeWordTokens(s) {
            let tokenID = s.trace.tokens[i].id
            if let f = first[tokenID] { if !found.contains(where: { s.trace.tokens[$0.i].id == tokenID }) { found.append((f, i)) } } else { first[tokenID] = i }
        }
        return found.max { a, b in
            let la = s.trace.tokens[a.i].text.count, lb = s.trace.tokens[b.i].text.count
            return la != lb ? la < lb : a.i > b.i
        }
    }

    func experiments(_ s: Study) -> [Experiment] {
        Self.repeated(s) == nil ? Self.builtIn.map { .otherText($0, pair: nil) } : []
    }

    /// One context: the token's position and the per-stage rows it has there.
    struct Context {
        var trace: Trace
        var position: Int
        var label: String
    }

    /// The token's rows at every stage: token embedding, embedding output, each layer's output.
    static func stages(_ c: Context) -> [[Float]] {
        guard let e = c.trace.embeddings else { return [] }
        var out = [Array(e.word.row(c.position)), Array(e.output.row(c.position))]
        for l in c.trace.layers { out.append(Array(l.output.row(c.position))) }
        return out
    }

    /// The lowest cosine, and why the embedding output (token + position [+ segment], through
    /// BERT's LayerNorm) already differs — or does not, when both sit at the same position.
    func embeddingFinding(_ a: Context, _ b: Context, cosines: [Double], minName: String, minStage: Int, layerNorm: Bool) -> Finding {
        let samePosition = a.position == b.position, sameType = a.trace.tokens[a.position].typeId == b.trace.tokens[b.position].typeId
        let f: Finding = "The lowest cosine is \("output_cosine_min", cosines[minStage], "%.3f") at the \(minName); the embedding output has cosine \("embedding_output_cosine", cosines[1], "%.3f")"
        if samePosition && sameType {
            return f.appending(": both occurrences sit at position \(a.position), so token, position\(layerNorm ? " and segment rows are equal before the LayerNorm" : " rows are equal") — the difference comes from the layers alone.")
        }
        return f.appending(": a different position\(sameType ? "" : " and segment") vector was added\(layerNorm ? " before the LayerNorm" : "").")
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        var answer = [
            "BERT's input is a sequence of token ids (with segment ids and positions); its output is one vector per token from the last layer, plus whatever a task head reads from them. The input row of a token is a table lookup: the same id always gets the same token embedding, whatever surrounds it. Every layer then mixes in the other tokens through attention, so the output for that id depends on its sentence — it is contextual, which is what lets one word with two senses get two different vectors.",
        ]
        if m.architecture == .decoder {
            answer.append("\(m.name) is a causal decoder, not BERT: its output at a position depends only on the tokens to its left, so an earlier occurrence cannot see what follows it. The output still differs between contexts, as measured below.")
        } else {
            answer.append(m.architecture == .encoderDecoder
                ? "\(m.name) is an encoder–decoder, not BERT; its encoder (measured here) is bidirectional like BERT's: every position attends to both sides, so the two occurrences' outputs reflect the whole source around each."
                : "In BERT (an encoder) every position attends to both sides, so the two occurrences' outputs reflect the whole sentence around each.")
        }
        let a: Context, b: Context, source: String
        if let (i, j) = Self.repeated(s) {
            a = Context(trace: s.trace, position: i, label: "position \(i)")
            b = Context(trace: s.trace, position: j, label: "position \(j)")
            source = "your input"
        } else {
            var found: [Context] = []
            var reasons: [String] = []
            for (k, text) in Self.builtIn.enumerated() {
                let outcome = s.run(.otherText(text, pair: nil))
                guard let t = outcome.trace else { reasons.append(outcome.reason ?? "no run"); continue }
                guard let at = Self.offset(of: Self.builtInWord, in: text), let p = EmbeddingAnalysis.token(covering: at, in: t.tokens) else {
                    reasons.append("“\(Self.builtInWord)” not found in the tokens"); continue
                }
                found.append(Context(trace: t, position: p, label: k == 0 ? "context 1" : "context 2"))
            }
            guard found.count == 2, found[0].trace.tokens[found[0].position].id == found[1].trace.tokens[found[1].position].id else {
                return SectionContent(answer: answer, unavailable: "your input repeats no word, and the built-in pair could not be compared (\(reasons.isEmpty ? "the word got different ids" : reasons.joined(separator: "; "))).")
            }
            a = found[0]; b = found[1]
            source = "the built-in pair “\(Self.builtIn[0])” / “\(Self.builtIn[1])” (your input repeats no whole word)"
        }
        let raw = a.trace.tokens[a.position].text
        // Byte-level BPE marks a leading space with Ġ; show it as the report's labels do.
        let word = s.isByteLevelBPE ? raw.replacingOccurrences(of: "Ġ", with: "␣") : raw
        let note = source == "your input" || raw.lowercased() == Self.builtInWord ? "" : " (the first piece of “\(Self.builtInWord)”)"
        let sa = Self.stages(a), sb = Self.stages(b)
        guard sa.count == sb.count, sa.count >= 3 else { return SectionContent(answer: answer, unavailable: "this run recorded no embeddings or layers") }
        let cosines = zip(sa, sb).map { EmbeddingAnalysis.cosine($0.0, $0.1) }
        let diffs = zip(sa, sb).map { EmbeddingAnalysis.maxAbsDiff($0.0, $0.1) }
        // Reference: the first occurrence against every other token of its own sentence, per stage.
        let others = a.trace.tokens.indices.filter { $0 != a.position && a.trace.tokens[$0].id != a.trace.tokens[a.position].id }
        let otherStages = others.map { Self.stages(Context(trace: a.trace, position: $0, label: "")) }.filter { $0.count == sa.count }
        let reference: [Double] = sa.indices.map { k in Analysis.mean(otherStages.map { EmbeddingAnalysis.cosine(sa[k], $0[k]) }) }
        let names = ["token embedding", "embedding output"] + (0..<(sa.count - 2)).map { "layer \($0) output" }
        let ticks = ["token emb.", "emb. out"] + (0..<(sa.count - 2)).map { "L\($0)" }
        let xs = (0..<cosines.count).map(Double.init)
        var plot = LinePlot(title: "“\(word)” in two contexts: cosine between its two vectors at each stage", series: [
            .init(name: "cosine(\(a.label), \(b.label))", x: xs, y: cosines, markers: true),
            .init(name: "identical (cosine 1)", x: xs, y: xs.map { _ in 1 }, dashed: true),
        ] + (otherStages.isEmpty ? [] : [.init(name: "reference: \(a.label) vs the other tokens of its sentence (mean)", x: xs, y: reference, markers: true)]),
            xLabel: "stage (input lookup → embedding output → each layer's output)", yLabel: "cosine similarity",
            xTicks: zip(xs, ticks).map { ($0, $1) })
        plot.includeZero = true
        let last = cosines.count - 1
        let minStage = cosines.indices.min { cosines[$0] < cosines[$1] } ?? last
        let rows = names.indices.map { [names[$0], Analysis.fixed(cosines[$0], 4), String(format: "%.2e", diffs[$0])] }
        var aText = "", bText = ""
        if source == "your input" {
            aText = "position \(a.position)"; bText = "position \(b.position)"
        } else {
            aText = "“\(Self.builtIn[0])”, position \(a.position)"; bText = "“\(Self.builtIn[1])”, position \(b.position)"
        }
        var findings: [Finding] = [
            "The token “\("word", text: word)”\(note) (id \(a.trace.tokens[a.position].id)) is taken from \("word_source", text: source == "your input" ? "your input" : "the built-in pair"): \(aText) and \(bText).",
            "Its two token-embedding rows are identical (max |Δ| \("input_embedding_max_abs_diff", diffs[0], "%.1e"), cosine \("input_embedding_cosine", cosines[0], "%.4f")); at the last layer the outputs have cosine \("output_cosine_last_layer", cosines[last], "%.3f") (max |Δ| \("output_max_abs_diff_last_layer", diffs[last], "%.2f")).",
            embeddingFinding(a, b, cosines: cosines, minName: names[minStage], minStage: minStage, layerNorm: m.architecture == .encoder),
        ]
        if !otherStages.isEmpty {
            let f: Finding = "For scale: at the last layer the first occurrence has a mean cosine of \("reference_cosine_last_layer", reference[last], "%.3f") with the other tokens of its sentence (\("reference_cosine_token_embedding", reference[0], "%.3f") between the token-embedding rows)"
            findings.append(f.appending(cosines[last] > reference[last]
                ? ": the two occurrences stay closer to each other than to the rest, yet are no longer the same vector."
                : ": context has moved the two occurrences at least as far apart as unrelated tokens are on average."))
        }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "cosine"), figure: plot,
                           caption: "At the lookup the two “\(word)” vectors are the same (cosine 1); from the \(m.architecture == .decoder ? "first block" : "first layer") on, context pulls them apart: \(Analysis.fixed(cosines[last], 3)) at the last layer. Source: \(source)."),
            ])],
            tables: [TableSpec(caption: "“\(word)” at \(aText) vs \(bText): cosine and largest elementwise difference of its vectors at each stage.",
                               header: ["stage", "cosine", "max |Δ|"], rows: rows)],
            findings: findings)
    }
}
