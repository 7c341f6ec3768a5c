import Foundation
import AttnvizRender
import AttnvizTrace

/// input-tokenize: the sentence's pieces (WordPiece or byte-level BPE), ids and where each came from.
struct InputTokenizeSection: Section {
    let id = "input-tokenize"

    func build(_ s: Study) throws -> SectionContent {
        let tokens = s.trace.tokens
        let unkName = s.encoderDecoder == nil ? "[UNK]" : "<unk>"  // attnviz's character vocabulary
        let continues = s.continuesWord, labels = s.labels
        let scalarsA = Array(s.text.unicodeScalars), scalarsB = s.pair.map { Array($0.unicodeScalars) } ?? []
        func source(_ t: Token) -> String {
            guard let r = t.range else { return "(added)" }
            let src = t.typeId == 1 && s.pair != nil ? scalarsB : scalarsA
            guard r.upperBound <= src.count else { return "" }
            return String(String.UnicodeScalarView(src[r]))
        }
        func kind(_ i: Int) -> String {
            let t = tokens[i]
            if t.isSpecial && t.range == nil { return "special" }
            if t.text == unkName { return "unknown → \(unkName)" }
            if t.isSpecial { return "special (written in the text)" }
            return continues[i] ? "continuation" : "word start"
        }
        let rows = tokens.enumerated().map { i, t in
            [String(i), labels[i], String(t.id), String(t.typeId), source(t), t.range.map { "\($0.lowerBound)–\($0.upperBound)" } ?? "", kind(i)]
        }
        // Words: a word start and the pieces that continue it, spelled as in the input.
        var words: [(String, Int)] = []
        for (i, t) in tokens.enumerated() where !t.isSpecial || t.range != nil {
            let piece = s.isByteLevelBPE ? source(t).trimmingCharacters(in: .whitespacesAndNewlines)
                : (t.text.hasPrefix("##") ? String(t.text.dropFirst(2)) : t.text)
            if continues[i], !words.isEmpty { words[words.count - 1].1 += 1; words[words.count - 1].0 += piece } else { words.append((piece, 1)) }
        }
        words.removeAll { $0.0.isEmpty }  // whitespace-only pieces (a final newline) are not words
        let split = words.filter { $0.1 > 1 }
        let unk = tokens.filter { $0.text == unkName }.count
        let added = tokens.filter { $0.isSpecial && $0.range == nil }.count
        var findings: [Finding] = ["The text became \("tokens", tokens.count) tokens, including \("added_special_tokens", added) added special token\(added == 1 ? "" : "s")."]
        let content = tokens.count - added
        if unk > 0 {
            let share = Double(unk) / Double(max(content, 1))
            let f: Finding = "\("unk_tokens", unk) of the \(content) tokens from the text (\(percent: "unk_share", share)) became \(unkName): the vocabulary has no pieces for them, so the model sees them all as the same unknown symbol."
            findings.append(f.appending(share > 0.2 ? " This vocabulary does not cover the input's script: most of what follows describes \(unkName) tokens, not your words." : ""))
        }
        let splitWords = split.filter { $0.0 != unkName }
        findings.append(splitWords.isEmpty ? (unk > 0 ? "No word was cut into pieces; the words the vocabulary lacks became \(unkName) whole." : "Every word is a single vocabulary entry: nothing was split.")
            : Finding("\(splitWords.count) word(s) were cut into pieces: " + splitWords.prefix(6).map { "“\($0.0)” → \($0.1) pieces" }.joined(separator: ", ") + "."))
        if s.trace.truncatedTokens > 0, s.encoderDecoder != nil {
            findings.append("The input was longer than the \("max_characters", CompanionAnalysis.config(s.trace.model).maxCharacters) characters the model reads (plus </s>): it was cut at a word boundary and the last \("truncated_tokens", s.trace.truncatedTokens) characters were dropped.")
        } else if s.trace.truncatedTokens > 0 {
            findings.append("The input was longer than the model's \("max_positions", s.trace.model.maxPositions) positions: the last \("truncated_tokens", s.trace.truncatedTokens) tokens were dropped.")
        }
        var groups: [FigureGroup] = []
        if !words.isEmpty {
            let shown = Array(words.prefix(44))  // 44 bars fit the report's 1180 px column
            var chart = BarChart(title: "Pieces per word", categories: shown.map { $0.0 }, series: [("pieces", shown.map { Double($0.1) })],
                                 xLabel: "word (as the tokenizer joined its pieces)", yLabel: s.isByteLevelBPE ? "BPE tokens" : "WordPiece tokens")
            chart.plotHeight = 160
            groups.append(FigureGroup(figures: [FigureSpec(file: Figures.file(id, "pieces-per-word"), figure: chart,
                caption: "Each bar is one word of the input; bars above 1 are words the vocabulary does not hold whole and spells out of pieces" + (words.count > shown.count ? " (first \(shown.count) words)." : "."))]))
        }
        return SectionContent(
            answer: [
                "A model only sees integers from a fixed vocabulary, so text is first cut into tokens. Whole-word vocabularies cannot cover every word, and characters alone make sequences long; subword schemes sit in between: frequent words stay whole and rare ones are spelled from pieces.",
                "WordPiece (BERT) lower-cases and splits on spaces and punctuation, then cuts each word greedily into the longest pieces found in the vocabulary; a piece inside a word is marked with ##. If no split exists the whole word becomes [UNK]. BPE (GPT-2) instead starts from bytes and applies learned merges of frequent pairs in order, so it never needs an unknown token.",
            ] + (s.encoderDecoder == nil ? [] : ["\(s.trace.model.name), an encoder–decoder attnviz trained, uses neither: its vocabulary is one token per printable ASCII character plus </s>, <unk> and <pad>, so every character is one token (every word bar below has its letter count) and any other character (accents, Chinese, emoji) is <unk>."]),
            groups: groups,
            tables: [TableSpec(caption: "Every token of this run: its piece, vocabulary id, segment (token type), and the characters of the input it covers.",
                               header: ["#", "piece", "id", "type", "text", "characters", "kind"], rows: rows)],
            findings: findings)
    }
}
