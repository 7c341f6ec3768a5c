import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-cross: cross-attention in the companion encoder–decoder — decoder queries over the
/// encoder's output — drawn with the task's gold alignment outlined, and how many decoder
/// positions put their largest weight on the source character they copy.
struct AttnCrossSection: Section {
    let id = "attn-cross"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s)] }

    func build(_ s: Study) throws -> SectionContent {
        let main = s.trace.model
        let mainSentence: String
        switch main.architecture {
        case .encoder: mainSentence = "The main model of this report, \(main.name), is an encoder only: it has no decoder and no cross-attention, so this section uses the companion encoder–decoder."
        case .decoder: mainSentence = "The main model of this report, \(main.name), is decoder-only: it has no encoder and no cross-attention (it reads a prompt through its own causal self-attention), so this section uses the companion encoder–decoder."
        case .encoderDecoder: mainSentence = "The main model of this report, \(main.name), is an encoder–decoder and has cross-attention in each decoder layer; the figures below are the companion's."
        }
        var answer = [
            "In an encoder–decoder, each decoder layer has a second attention sub-layer between its causal self-attention and its feed-forward block: cross-attention (encoder–decoder attention). Its queries come from the decoder: Q = H·W_Q, where H is the decoder's own stream after the self-attention sub-layer (after its LayerNorm in the post-LN original and in Marian). Its keys and values come from the encoder: K = E·W_K and V = E·W_V, where E is the encoder's final output — the same E for every decoder layer, each with its own W_K and W_V. The weights form a T × S matrix, one row per decoder position and one column per source token, and no causal mask applies to them: the whole source is known before decoding starts (only source padding is masked). This is the only path by which the decoder reads the source.",
            "attnviz trains its companion models on copying tasks (the shipped models/reverse-words reverses the order of a sentence's words; the task of the one loaded is named below), so every output character copies one input character and the task fixes which one: the gold alignment. If cross-attention does what it is for, a decoder position should look at the source character it has to write next. The outlined cells below are that gold alignment, computed from the text by the task's rule, not from the model. \(mainSentence)",
        ]
        let outcome = s.run(CompanionAnalysis.run(s))
        guard let t = outcome.trace, !t.decoderTokens.isEmpty else {
            return SectionContent(answer: answer, unavailable: outcome.reason ?? "the companion run has no decoder side")
        }
        answer.append(CompanionAnalysis.describe(t, s) + " The gold alignment is that of the text it read.")
        let layers = DecoderAnalysis.crossLayers(t)
        guard !layers.isEmpty else {
            return SectionContent(answer: answer, unavailable: CompanionAnalysis.isDecoderOnly(t)
                ? "the companion \(t.model.name) is a decoder-only model: it has no encoder and so no cross-attention (give an encoder–decoder with --decoder-model, e.g. the shipped models/reverse-words, to see it)"
                : "the companion run recorded no cross-attention of the expected shape")
        }
        let T = t.decoderTokens.count, S = t.tokens.count
        let gold = DecoderAnalysis.goldRows(t)
        let rowLabels = DecoderAnalysis.outputLabels(t), colLabels = t.tokens.map(CompanionAnalysis.label)
        let goldLabel = "gold alignment: the source character this position copies"

        // Every layer and head, and each layer's head average.
        struct Entry { var layer: Int; var head: Int?; var score: DecoderAnalysis.Score; var map: [Float] }
        var entries: [Entry] = [], averages: [Entry] = []
        var rowSum = 0.0
        for c in layers {
            rowSum = max(rowSum, DecoderAnalysis.rowSumDeviation(c.record.weights))
            for h in 0..<c.heads {
                let m = DecoderAnalysis.head(c.record.weights, h)
                entries.append(Entry(layer: c.layer, head: h, score: DecoderAnalysis.score(m, cols: S, gold: gold), map: m))
            }
            let mean = DecoderAnalysis.headMean(c.record)
            averages.append(Entry(layer: c.layer, head: nil, score: DecoderAnalysis.score(mean, cols: S, gold: gold), map: mean))
        }
        // The best head: most gold maxima, then most weight on the gold cells, then the first.
        func better(_ a: Entry, _ b: Entry) -> Bool {
            a.score.hits != b.score.hits ? a.score.hits > b.score.hits : a.score.goldWeight > b.score.goldWeight
        }
        guard let best = entries.reduce(nil, { (r: Entry?, e: Entry) in r.map { better(e, $0) ? e : $0 } ?? e }),
              let bestHead = best.head else {
            return SectionContent(answer: answer, unavailable: "the companion's cross-attention has no heads")
        }
        let bestName = "L\(best.layer) H\(bestHead)"
        // Heads with as many gold maxima as the best one (the weight on the gold cells broke the tie).
        let tied = entries.filter { $0.score.hits == best.score.hits && !($0.layer == best.layer && $0.head == bestHead) }.compactMap { e in e.head.map { "L\(e.layer) H\($0)" } }
        let G = gold.count
        // A head that picked a source column at random would hit about G/S of the gold cells.
        let chance = Double(G) / Double(max(S, 1))
        let atChance = Double(best.score.hits) <= 2 * chance
        guard G > 0 else {
            return SectionContent(answer: answer, unavailable: "the companion run carries no gold alignment for this text (its task has none, or no output character copies a source token)")
        }

        var figures: [FigureSpec] = []
        var bestMap = DecoderAnalysis.map(best.map, rows: T, cols: S, rowLabels: rowLabels, colLabels: colLabels,
                                          title: atChance ? "Cross-attention of decoder layer \(best.layer) head \(bestHead) (most gold maxima, but no better than chance on this input)"
                                            : "Cross-attention of decoder layer \(best.layer) head \(bestHead) (most gold maxima: \(best.score.hits) of \(G)\(tied.isEmpty ? "" : ", tied with \(tied.count)"))",
                                          gold: gold, goldLabel: goldLabel)
        bestMap.maxLabelWidth = 60
        figures.append(FigureSpec(file: Figures.file(id, "best-head"), figure: bestMap,
                                  caption: "Rows: the \(T) decoder positions, labelled by the character each must output; columns: the \(S) source tokens (the text's characters and </s>). Outlined: the gold source character each output copies. In this head \(best.score.hits) of the \(G) outlined rows have their brightest cell inside the outline. Colour range 0–1, shared by every cross-attention map here."))
        // The best head of one other layer (the companion is not the model --layers/--heads select in).
        if let layer = layers.map(\.layer).last(where: { $0 != best.layer }),
           let e = entries.filter({ $0.layer == layer }).reduce(nil, { (r: Entry?, x: Entry) in r.map { better(x, $0) ? x : $0 } ?? x }), let h = e.head {
            var m = DecoderAnalysis.map(e.map, rows: T, cols: S, rowLabels: rowLabels, colLabels: colLabels,
                                        title: "Cross-attention of decoder layer \(layer) head \(h) (that layer's best head)", gold: gold, goldLabel: goldLabel)
            m.maxLabelWidth = 60
            figures.append(FigureSpec(file: Figures.file(id, "L\(layer)-best-head"), figure: m,
                                      caption: "Decoder layer \(layer)'s head with the most gold maxima: \(e.score.hits) of \(G). Same axes and colour range 0–1 as above."))
        }
        for a in averages.suffix(2) {
            var m = DecoderAnalysis.map(a.map, rows: T, cols: S, rowLabels: rowLabels, colLabels: colLabels,
                                        title: "Cross-attention of decoder layer \(a.layer), mean of its \(layers.first { $0.layer == a.layer }?.heads ?? 0) heads", gold: gold, goldLabel: goldLabel)
            m.maxLabelWidth = 60
            figures.append(FigureSpec(file: Figures.file(id, "L\(a.layer)-mean"), figure: m,
                                      caption: "The heads' average in decoder layer \(a.layer): \(a.score.hits) of \(G) outlined rows have their largest weight on the gold character; the mean weight on the gold cell is \(String(format: "%.2f", a.score.goldWeight)). Colour range 0–1."))
        }
        let bars = entries + averages
        var chart = BarChart(
            title: "Decoder positions whose largest cross-attention weight is on the gold source character (of \(G))",
            categories: bars.map { "L\($0.layer) " + ($0.head.map { "H\($0)" } ?? "mean") },
            series: [(name: "positions (argmax = gold)", values: bars.map { Double($0.score.hits) })],
            xLabel: "decoder layer, head", yLabel: "positions of \(G)")
        chart.showValues = true
        figures.append(FigureSpec(file: Figures.file(id, "gold-argmax"), figure: chart,
            caption: "Every decoder layer and head of the companion, and each layer's head-averaged map (“mean”): how many of the \(G) positions that copy a character put their maximum on the gold one. A head that picked its column at random would hit about \(String(format: "%.1f", chance)) by chance (one in \(S) columns)."))

        // Findings.
        var findings: [Finding] = []
        let bestFinding: Finding = "Of the \("gold_rows", G) decoder positions that copy a source character (the last position outputs </s> and copies none), \("gold_argmax_best", best.score.hits) put their largest cross-attention weight on the gold source character in the best head, decoder layer \(best.layer) head \(bestHead) (\("best_head", text: bestName)), which gives the gold character \(percent: "gold_weight_best", best.score.goldWeight) of its weight on average."
        findings.append(bestFinding.appending(
            tied.isEmpty ? "" : " \(tied.joined(separator: ", ")) \(tied.count == 1 ? "has" : "have") as many gold maxima; the best head is the one with the most weight on the gold cells, so which of them is drawn is decided by that weight."))
        if atChance {
            findings.append("That is no better than chance: a head that picked one of the \(String(S)) source columns at random would hit about \("chance_hits", chance, "%.1f") of \(String(G)). On this input the companion's cross-attention does not find the characters it should copy.")
        }
        // A text without spaces is one word: reversing the word order leaves it as it is.
        if CompanionAnalysis.config(t.model).task == "reverse-words", !t.tokens.contains(where: { $0.text == " " }) {
            findings.append("The text the companion read has no space, so it is a single word and reversing the word order leaves it unchanged: the gold alignment is the diagonal (output character i copies source character i).")
        }
        // Each layer's head average, every layer named (gold_argmax_mean_L{l}).
        var avg = Finding.StringInterpolation(literalCapacity: 80, interpolationCount: 2 * averages.count)
        avg.appendLiteral("With each layer's heads averaged before taking the maximum, the gold character gets the largest weight at ")
        for (k, a) in averages.enumerated() {
            avg.appendLiteral(k == 0 ? "" : (k == averages.count - 1 ? " and " : ", "))
            avg.appendInterpolation("gold_argmax_mean_L\(a.layer)", a.score.hits)
            avg.appendLiteral(" of \(G) positions in decoder layer \(a.layer)")
        }
        avg.appendLiteral(".")
        findings.append(Finding(stringInterpolation: avg))
        // The best head's misses: a space copies a space, and every space is the same token.
        let misses = gold.filter { !best.score.hitRows.contains($0.row) }
        let spaceMisses = misses.filter { t.tokens[$0.source].text == " " }
        let onOtherSpace = spaceMisses.filter { g in
            let base = g.row * S
            return base + S <= best.map.count && t.tokens[DecoderAnalysis.argmax(best.map[base..<(base + S)])].text == " "
        }.count
        // Where a miss lands: on the source position right after the character the previous row copies
        // (the head stepping on past the word it has just written) — computed, not assumed.
        let goldByRow = Dictionary(gold.map { ($0.row, $0.source) }, uniquingKeysWith: { a, _ in a })
        let steppedOn = misses.filter { g in
            let base = g.row * S
            guard let previous = goldByRow[g.row - 1], base + S <= best.map.count else { return false }
            return DecoderAnalysis.argmax(best.map[base..<(base + S)]) == previous + 1
        }.count
        if !spaceMisses.isEmpty {
            findings.append("Of the best head's \("best_head_misses", misses.count) misses, \("best_head_space_misses", spaceMisses.count) are positions that output a space (\("space_misses_on_other_space", onOtherSpace) of them have their maximum on another source space), and \("misses_after_previous_character", steppedOn) of all its misses have their maximum on the source position right after the character the position before copied (the space or </s> that follows the word just written). The task's rule aligns each output space with one particular source space, but every space is the same token, so the gold cell is a convention there.")
        }
        let unknownRows = gold.filter { t.tokens[$0.source].text == "<unk>" }
        if !unknownRows.isEmpty {
            let hitsUnknown = unknownRows.filter { best.score.hitRows.contains($0.row) }.count
            findings.append("\("unknown_rows", unknownRows.count) of the \(G) positions copy a character the companion cannot read: it is outside its printable-ASCII vocabulary and becomes <unk>, a token that never occurs in attnviz's training sentences (they are made of ASCII words, numbers and punctuation), so the model never learned to attend to it or copy it; the best head puts its maximum on the right <unk> for \("unknown_rows_hit", hitsUnknown) of them, and the gold output at each of them is <unk> itself (shown as U+FFFD), not the character.")
        }
        let qRows = layers.allSatisfy { $0.record.q.shape.count == 3 && $0.record.q.shape[1] == T }
        let kvRows = layers.allSatisfy { $0.record.k.shape.count == 3 && $0.record.k.shape[1] == S && $0.record.v.shape == $0.record.k.shape }
        if qRows && kvRows {
            findings.append("In each of the \("decoder_layers", layers.count) decoder layers the queries have \("query_rows", T) rows (one per decoder position) and the keys and values \("key_rows", S) rows (one per source token, computed from the encoder's output); every weight row sums to 1 within \("row_sum_max_deviation", rowSum, "%.1e").")
        }
        var values: [(name: String, value: FindingValue)] = []
        for e in entries { if let h = e.head { values.append(("gold_argmax_L\(e.layer)_H\(h)", .number(Double(e.score.hits)))) } }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings, values: values)
    }
}
