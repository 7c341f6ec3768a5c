import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// bert-downstream: which output serves which task, and why BERT cannot generate left to right:
/// changing the last word changes every earlier token's output (a causal decoder's stay equal).
struct BertDownstreamSection: Section {
    let id = "bert-downstream"

    /// The last token that is not a special, and the id it is replaced with: another token of the
    /// sentence with a different id, else the next vocabulary entry.
    static func substitution(_ s: Study) -> (position: Int, id: Int)? {
        let tokens = s.trace.tokens
        // A word: not a special, with a letter or digit (not a punctuation mark); else any non-special.
        // Judged on the input text the token covers (byte-level pieces such as “Ċ” spell a newline).
        // Segment B's offsets count in the pair's own text.
        let first = Array(s.text.unicodeScalars), second = Array((s.pair ?? s.text).unicodeScalars)
        let isWord = { (t: Token) -> Bool in
            guard !t.isSpecial else { return false }
            let scalars = t.typeId == 1 ? second : first
            let covered = t.range.map { r in r.compactMap { $0 < scalars.count ? scalars[$0] : nil } } ?? Array(t.text.unicodeScalars)
            return covered.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        }
        guard let last = tokens.indices.last(where: { isWord(tokens[$0]) }) ?? tokens.indices.last(where: { !tokens[$0].isSpecial }) else { return nil }
        let old = tokens[last].id
        if let other = tokens.first(where: { isWord($0) && $0.id != old }) ?? tokens.first(where: { !$0.isSpecial && $0.id != old }) { return (last, other.id) }
        let vocab = max(s.trace.model.vocabSize, 1)
        return (last, (old + 1) % vocab)
    }

    func experiments(_ s: Study) -> [Experiment] {
        Self.substitution(s).map { [.substituted(position: $0.position, id: $0.id)] } ?? []
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let causal = m.architecture == .decoder
        let answer = [
            "BERT is pre-trained once and then fine-tuned with a small head on whichever output the task needs. A sentence (or sentence-pair) classification reads the final vector of [CLS], the first token, which attends to the whole input. Tagging (named entities, parts of speech) puts a classifier on every token's final vector. Extractive question answering gives the question as segment A and the passage as segment B and learns a start and an end vector: a softmax over the token outputs of segment B gives each position's probability of starting or ending the answer span. Sentence embeddings, such as the ones MiniLM-based sentence-transformers are trained for, pool the token outputs (e.g. their mean).",
            "What BERT cannot do is write text left to right. Every layer's attention sees the whole input, so each position's output depends on the words after it: adding or changing a word changes the vectors of all the words before it, and nothing computed for a prefix can be kept. It is also trained to fill in masked words given both sides, never to predict the next word from the left alone. A causal decoder such as GPT-2 masks every later key, so its earlier outputs do not depend on later words; that is what lets it generate one token at a time and cache the past. The run below changes the last word and measures both facts.",
        ]
        let pair = s.trace.tokens.contains { $0.typeId == 1 }
        let segB = s.trace.tokens.indices.filter { s.trace.tokens[$0].typeId == 1 && !s.trace.tokens[$0].isSpecial }
        let rows: [[String]] = causal
            ? [["classification", "the last token's final vector (the only one that has seen the whole input)", "linear layer + softmax over classes"],
               ["tagging", "each token's final vector (left context only)", "linear layer per token"],
               ["generation", "the last token's final vector", "tied output head: next-token scores"]]
            : [["classification (single sentence or pair)", "[CLS]'s final vector (position 0)", "linear layer + softmax over classes"],
               ["tagging (NER, POS)", "each token's final vector", "linear layer per token"],
               ["extractive QA (question = A, passage = B)", pair ? "token outputs of segment B (here \(segB.count) tokens)" : "token outputs of segment B (this run has one segment; give --pair)", "start and end vectors: softmax over B's positions, span = best start ≤ end"],
               ["sentence embedding\(m.architecture == .encoder && m.modelType == "bert" && m.typeVocabSize > 0 ? " (what \(m.name) is used for)" : "")", "all token outputs", "mean pooling"]]
        let table = TableSpec(caption: causal ? "Which output a causal decoder like \(m.name) offers each task (no [CLS], no segments)." : "Which output of BERT serves which task (the heads are added for fine-tuning; \(m.name) has none of them).",
                              header: ["task", "output used", "head"], rows: rows)
        guard let sub = Self.substitution(s) else {
            return SectionContent(answer: answer, tables: [table], unavailable: "the input has no token besides the added specials to change")
        }
        guard let changed = s.run(.substituted(position: sub.position, id: sub.id)).trace else {
            return SectionContent(answer: answer, tables: [table], unavailable: s.run(.substituted(position: sub.position, id: sub.id)).reason ?? "the changed run is missing")
        }
        // Hidden states: embeddings, then each layer's output.
        func states(_ t: Trace) -> [Tensor] { (t.embeddings.map { [$0.output] } ?? []) + t.layers.map(\.output) }
        let a = states(s.trace), b = states(changed)
        let rowNames = (s.trace.embeddings == nil ? [] : ["embeddings"]) + s.trace.layers.map { "layer \($0.index)" }
        let n = s.n
        var values: [Float] = []
        var grid: [[Double]] = []
        for (x, y) in zip(a, b) {
            let d = BlockAnalysis.rowMaxAbsDiff(x, y)
            grid.append(d)
            values += d.map { $0 > 0 ? Float(log10($0)) : -.infinity }
        }
        let oldText = s.labels[sub.position], newText = changed.tokens[sub.position].text
        var map = Heatmap(title: "Replacing “\(oldText)” (position \(sub.position)) by “\(newText)”: max |Δ| of each token's vector, per layer",
                          values: values, rows: grid.count, cols: n, rowLabels: rowNames, colLabels: n <= 100 ? s.labels : nil,
                          xLabel: n <= 100 ? "token (position)" : "token position 0 … \(n - 1), left to right (changed token at \(sub.position))", yLabel: "hidden state", colorbarLabel: "log₁₀ max|Δ|", colormap: .viridis)
        map.maskLabel = "exactly 0 (bit-identical)"
        let earlier = Array(0..<sub.position)
        let lastRow = grid.last ?? []
        let changedEarlier = earlier.filter { lastRow[$0] > 0 }.count
        let identicalEverywhere = earlier.filter { i in grid.allSatisfy { $0[i] == 0 } }.count
        let minEarlier = earlier.map { lastRow[$0] }.min() ?? 0, maxEarlier = earlier.map { lastRow[$0] }.max() ?? 0
        var findings: [Finding] = [
            "Replacing the last word piece “\("old_token", text: oldText)” at position \("position", sub.position) by “\("new_token", text: newText)”: of the \("earlier_positions", earlier.count) earlier position\(earlier.count == 1 ? "" : "s"), \("earlier_changed_final", changedEarlier) \(changedEarlier == 1 ? "has" : "have") a different final output (max |Δ| from \("earlier_min_max_abs_diff", minEarlier, "%.2e") to \("earlier_max_max_abs_diff", maxEarlier, "%.2e")), and \("earlier_bit_identical_all_layers", identicalEverywhere) are bit-identical in every layer.",
        ]
        if causal {
            findings.append(changedEarlier == 0
                ? "For this causal decoder every earlier output is exactly equal: what was computed for the prefix stays valid, so it can generate left to right with a cache."
                : "Unexpected for a causal decoder: \(changedEarlier) earlier outputs changed.")
        } else {
            findings.append(changedEarlier == earlier.count
                ? "For this bidirectional encoder every earlier token's output changed: the vectors of a prefix depend on what follows, which is why BERT cannot generate left to right."
                : "\(earlier.count - changedEarlier) earlier outputs did not change in the last layer.")
        }
        let caption = "Rows: the embeddings and each layer's output; columns: the tokens; colour: log₁₀ of the largest change over the vector's features. Hatched cells are exactly equal to the original run. " + (causal
            ? "Only the changed position and those after it differ: the causal mask keeps every earlier output bit-identical (\(identicalEverywhere) of \(earlier.count))."
            : "The embeddings differ only at the changed position; from the first layer on, attention carries the change to every position (smallest change at an earlier position in the last layer: \(String(format: "%.1e", minEarlier))).")
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [FigureSpec(file: Figures.file(id, "change"), figure: map, caption: caption)])],
            tables: [table], findings: findings)
    }
}
