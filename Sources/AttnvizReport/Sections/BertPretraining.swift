import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// bert-pretraining: this sentence as masked-LM samples (80/10/10, seeded), and NSP / SOP pairs
/// built from its two halves.
struct BertPretrainingSection: Section {
    let id = "bert-pretraining"
    static let seed: UInt64 = 2019
    /// NSP's negative: a segment from another document.
    static let unrelated = "The recipe needs two eggs and a cup of flour."

    /// Where to split the content tokens `c` (indices into the tokens) into two non-empty halves:
    /// after the sentence end (. ! ? 。) nearest the middle, else at the word start nearest the
    /// middle. Returns the index into `c` where the second half starts.
    static func split(_ s: Study, content c: [Int]) -> Int? {
        guard c.count >= 2 else { return nil }
        let tokens = s.trace.tokens, cont = s.continuesWord
        let mid = Double(c.count) / 2
        let ends = (1..<c.count).filter { k in ["." , "!", "?", "。", "！", "？"].contains(tokens[c[k - 1]].text) }
        if let best = ends.min(by: { abs(Double($0) - mid) < abs(Double($1) - mid) }) { return best }
        let starts = (1..<c.count).filter { !cont[c[$0]] }
        return starts.min { abs(Double($0) - mid) < abs(Double($1) - mid) }
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let answer = [
            "BERT is pre-trained on two tasks at once. Masked language modelling (MLM): 15% of the content tokens are chosen; of those, 80% are replaced by [MASK], 10% by a random token and 10% left as they are, and the model must predict the original token at every chosen position (the label), whatever it now sees there. Only chosen positions count in the loss. Keeping or randomising some of them means the model cannot learn that only [MASK] positions need predicting, since [MASK] never appears when the model is used later.",
            "Next-sentence prediction (NSP): pairs [CLS] A [SEP] B [SEP] where B really follows A (IsNext) or is a segment from another document (NotNext), half each, classified from [CLS]. RoBERTa found NSP unhelpful; ALBERT replaced it by sentence-order prediction (SOP): both segments always come from the same text, and the negative is the same two segments swapped, so the model must learn order and coherence rather than topic.",
            "The samples below follow Google's create_pretraining_data.py: max(1, round(15% × content tokens)) positions chosen uniformly, 80/10/10 decided per chosen token (HuggingFace's data collator instead chooses each token with probability 15%). The seed is fixed, so the same text gives the same samples.",
        ]
        if m.architecture == .encoderDecoder {
            return SectionContent(answer: answer, unavailable: "\(m.name) is an encoder–decoder trained on a sequence-to-sequence task: its training sample is a source text and its gold output (the decoder reads the output shifted right and predicts it, teacher-forced); MLM and NSP are BERT's objectives and need a [MASK] token and segment embeddings, which this model does not have (type vocabulary \(m.typeVocabSize)).")
        }
        guard m.architecture == .encoder, m.typeVocabSize >= 2 else {
            return SectionContent(answer: answer, unavailable: "\(m.name) is a \(m.architecture.rawValue) trained to predict the next token; MLM and NSP are BERT's objectives and need a [MASK] token and segment embeddings, which this model does not have (type vocabulary \(m.typeVocabSize)). Its own training sample is simply the text shifted by one token.")
        }
        let tokens = s.trace.tokens, labels = s.labels
        let content = tokens.indices.filter { !tokens[$0].isSpecial }
        let picks = MLMSampler.sample(candidates: content, vocab: m.vocabSize, seed: Self.seed)
        func tokenText(id: Int) -> String { tokens.first { $0.id == id }.map { "“\($0.text)” (\(id))" } ?? "id \(id)" }
        let rows: [[String]] = picks.map { p in
            let t = tokens[p.position]
            let became: String
            switch p.fate {
            case .mask: became = "[MASK]"
            case .random: became = tokenText(id: p.randomID ?? 0)
            case .keep: became = "“\(t.text)” (\(t.id))"
            }
            return ["\(p.position)", "“\(labels[p.position])” (\(t.id))", p.fate.rawValue, became, "\(t.id)"]
        }
        var masked = labels
        for p in picks {
            switch p.fate {
            case .mask: masked[p.position] = "[MASK]"
            case .random: masked[p.position] = p.randomID.map { id in tokens.first { $0.id == id }?.text ?? "<id \(id)>" } ?? "?"
            case .keep: break
            }
        }
        let counts = (picks.filter { $0.fate == .mask }.count, picks.filter { $0.fate == .random }.count, picks.filter { $0.fate == .keep }.count)
        var findings: [Finding] = []
        if content.isEmpty {
            findings.append("The input has no content tokens (only added specials), so there is nothing to mask.")
        } else {
            findings.append(Finding("No pre-training head is loaded here: this section shows how BERT's training examples are built from your text, not an objective this checkpoint was run on.").appending(s.trace.model.name.contains("MiniLM") ? " all-MiniLM-L6-v2 in particular was distilled and then fine-tuned as a sentence encoder, not trained with MLM/NSP itself." : ""))
            findings.append("Of \("content_tokens", content.count) content token(s), \("mlm_chosen", picks.count) chosen (\(percent: "mlm_chosen_fraction", Double(picks.count) / Double(content.count))) with seed \(Int(Self.seed)): \("mlm_masked", counts.0) became [MASK], \("mlm_random", counts.1) a random id, \("mlm_kept", counts.2) stayed. The loss is computed at the chosen position(s) only; every other label is ignored (−100 in HuggingFace).")
        }
        // Proportions over many seeds, on this sentence's tokens.
        let seeds = 1000
        var total = (0, 0, 0, 0)
        for seed in 0..<seeds {
            for p in MLMSampler.sample(candidates: content, vocab: m.vocabSize, seed: UInt64(seed) &+ 1) {
                total.0 += 1
                switch p.fate { case .mask: total.1 += 1; case .random: total.2 += 1; case .keep: total.3 += 1 }
            }
        }
        var figures: [FigureSpec] = []
        if total.0 > 0 {
            let shares = [total.1, total.2, total.3].map { Double($0) / Double(total.0) }
            let chart = BarChart(title: "80/10/10 over \(seeds) seeds on this sentence (\(total.0) chosen tokens)", categories: ["[MASK]", "random token", "unchanged"],
                                 series: [("measured share", shares), ("rule", [0.8, 0.1, 0.1])], xLabel: "what a chosen token becomes", yLabel: "share of chosen tokens")
            figures.append(FigureSpec(file: Figures.file(id, "proportions"), figure: chart,
                                      caption: "Over \(seeds) seeds the chosen tokens became [MASK] \(Analysis.percent(shares[0])), random \(Analysis.percent(shares[1])), unchanged \(Analysis.percent(shares[2])) of the time: the rule, up to sampling noise."))
            findings.append("Over \(seeds) seeds on this sentence: \(percent: "seeds_mask_share", shares[0]) [MASK], \(percent: "seeds_random_share", shares[1]) random, \(percent: "seeds_kept_share", shares[2]) unchanged, \(percent: "seeds_chosen_fraction", Double(total.0) / Double(seeds * content.count)) of content tokens chosen.")
        }
        var tables = [TableSpec(caption: "MLM sample (seed \(Self.seed)): each chosen position, the original token (id), the 80/10/10 draw, what the model sees, and the label (the original id). Random ids are drawn from 0..<\(m.vocabSize); their text is shown when the id occurs in this sentence.",
                                header: ["position", "original", "draw", "model sees", "label"], rows: rows)]
        if !picks.isEmpty {
            tables.append(TableSpec(caption: "The masked input as the model would see it.", header: ["input after masking"], rows: [[masked.joined(separator: " ")]]))
        }

        // NSP and SOP pairs.
        let aTokens: ArraySlice<Token>, bTokens: ArraySlice<Token>
        let types = tokens.map(\.typeId)
        if s.pair != nil, types.contains(1) {
            aTokens = ArraySlice(content.filter { types[$0] == 0 }.map { tokens[$0] })
            bTokens = ArraySlice(content.filter { types[$0] != 0 }.map { tokens[$0] })
        } else if let k = Self.split(s, content: content) {
            aTokens = ArraySlice(content[..<k].map { tokens[$0] })
            bTokens = ArraySlice(content[k...].map { tokens[$0] })
        } else {
            aTokens = []; bTokens = []
            findings.append("The text has fewer than two content tokens, so it cannot be split into two segments: no NSP or SOP pair is built.")
        }
        if !aTokens.isEmpty, !bTokens.isEmpty {
            let a = EmbeddingAnalysis.source(aTokens, in: s.text)
            let b = EmbeddingAnalysis.source(bTokens, in: s.pair != nil && types.contains(1) ? (s.pair ?? s.text) : s.text)
            let na = aTokens.count, nb = bTokens.count
            let pairRows: [[String]] = [
                ["NSP", "IsNext", a, b, "[CLS] + \(na) + [SEP] + \(nb) + [SEP] = \(na + nb + 3)"],
                ["NSP", "NotNext", a, Self.unrelated + " (built-in, another document)", "\(na) + the other text's tokens + 3"],
                ["SOP (ALBERT)", "in order (positive)", a, b, "\(na + nb + 3)"],
                ["SOP (ALBERT)", "swapped (negative)", b, a, "\(na + nb + 3)"],
            ]
            tables.append(TableSpec(caption: "Sentence-pair samples from this text: segment A gets token type 0, segment B type 1. \(s.pair != nil ? "Your two texts are A and B." : "A and B are the two halves of your text, split at the sentence or word boundary nearest the middle.")",
                                    header: ["task", "label", "segment A (type 0)", "segment B (type 1)", "tokens"], rows: pairRows))
            let length = na + nb + 3, over = max(0, length - m.maxPositions)
            let f: Finding = "Split into segment A (\("segment_a_tokens", na) tokens) and B (\("segment_b_tokens", nb) tokens), one IsNext, one NotNext, one in-order and one swapped pair are built; with [CLS] and two [SEP] a pair needs \("pair_length", length) of the \(m.maxPositions) positions"
            findings.append(f.appending(over > 0
                ? " — \(over) too many, so \(over) token(s) would be trimmed from the longer segment (BERT's data preparation trims the longer segment one token at a time)."
                : "."))
        }
        return SectionContent(answer: answer, groups: figures.isEmpty ? [] : [FigureGroup(figures: figures)], tables: tables,
                              findings: findings)
    }
}
