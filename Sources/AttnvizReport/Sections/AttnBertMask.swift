import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// attn-bert-mask: a token replaced by [MASK] still attends and is attended, while a padding mask
/// removes [PAD] columns from every row.
struct AttnBertMaskSection: Section {
    let id = "attn-bert-mask"

    /// The token to mask: the middle one of the word-initial, alphabetic tokens of the input (else
    /// of all its non-special tokens); nil when the input has none.
    static func position(_ s: Study) -> Int? {
        let tokens = s.trace.tokens, cont = s.continuesWord
        let content = tokens.indices.filter { !tokens[$0].isSpecial && tokens[$0].range != nil }
        let words = content.filter { i in
            !(cont.indices.contains(i) && cont[i]) && tokens[i].text.unicodeScalars.contains { $0.properties.isAlphabetic }
                && !tokens[i].text.hasPrefix("[")
        }
        let pool = words.isEmpty ? content : words
        return pool.isEmpty ? nil : pool[pool.count / 2]
    }

    func experiments(_ s: Study) -> [Experiment] {
        (Self.position(s).map { [Experiment.masked(position: $0)] } ?? []) + (s.paddedExperiment.map { [$0] } ?? [])
    }

    func build(_ s: Study) throws -> SectionContent {
        let n = s.n
        var answer = [
            "BERT's [MASK] and the attention mask are unrelated mechanisms that share a word. [MASK] is an ordinary vocabulary token: in pre-training 15% of the input positions are chosen and most of them replaced by it, and the model learns to predict the original token from that position's output. Inside attention it is a token like any other: its query attends to every token (its row is a full softmax distribution) and its key and value are seen by every other token (its column receives weight). attnviz loads no masked-language-model head, so this section shows how attention treats the token, not what the model would predict for it.",
            "The attention mask instead works on the scores: −∞ is added to the scores of [PAD] keys, so after the softmax their columns are exactly 0 and nothing flows from them. [MASK] hides a token's identity but keeps its position in the computation; the padding mask removes the position from every other token's view.",
        ]
        if s.trace.model.architecture == .decoder {
            answer.append("This is GPT-2, a causal decoder trained to predict the next token: it has no [MASK] token (it never hides tokens in its input) and no padding token of its own; its only mask is the causal one (see the model view). Neither run below can be made for it.")
        } else if s.trace.model.architecture == .encoderDecoder {
            answer.append("\(s.trace.model.name) is an encoder–decoder attnviz trained on a character task: its character vocabulary has no [MASK] token (it was not trained with masked-language modelling), so the [MASK] run below cannot be made for it. Its masks are the decoder's causal mask (attn-causal-mask) and, in a batch, the padding mask over the encoder's keys\(s.padded.trace != nil ? ", which the padded run below shows on its encoder" : "").")
        }
        let p = Self.position(s)
        let maskedOutcome = p.map { s.run(.masked(position: $0)) }
        let masked = maskedOutcome?.trace
        let padded = s.padded.trace
        let maskReason = p == nil ? "the input has no token to replace by [MASK]" : (maskedOutcome?.reason ?? "the [MASK] run was not made")
        guard masked != nil || padded != nil else {
            return SectionContent(answer: answer, unavailable: "\(maskReason); and no padded run: \(s.padded.reason)")
        }
        let layer = s.layers.first ?? 0, head = s.heads.first ?? 0
        let layerCount = s.trace.layers.count
        var findings: [Finding] = []
        var values: [(name: String, value: FindingValue)] = []
        var maps: [Heatmap] = []
        var series: [(name: String, values: [Double])] = []
        var line: LinePlot?

        if let masked, let p, masked.layers.count == layerCount {
            let labels = masked.tokens.map(\.text)
            let original = s.labels.indices.contains(p) ? s.labels[p] : "?"
            // Per layer: mean over heads and the other queries of the weight on column p, in the
            // [MASK] run and (same column) in the original run; the smallest weight in row p.
            var maskCol: [Double] = [], origCol: [Double] = []
            var effective: [Double] = [], rowSumDev = 0.0
            for l in 0..<layerCount {
                guard let wm = masked.layers[l].selfAttention?.weights, let wo = s.trace.layers[l].selfAttention?.weights,
                      wm.shape == wo.shape, wm.shape.count == 3 else { continue }
                let h = wm.shape[0]
                var cm = 0.0, co = 0.0
                for hd in 0..<h {
                    let row = wm.data[((hd * n + p) * n)..<((hd * n + p + 1) * n)]
                    rowSumDev = max(rowSumDev, abs(row.reduce(0.0) { $0 + Double($1) } - 1))
                    effective.append(exp(Analysis.entropy(row)))
                    for i in 0..<n where i != p {
                        cm += Double(wm.data[(hd * n + i) * n + p]); co += Double(wo.data[(hd * n + i) * n + p])
                    }
                }
                let count = Double(max(h * (n - 1), 1))
                maskCol.append(cm / count); origCol.append(co / count)
            }
            series.append(("[MASK] column (masked run)", maskCol))
            series.append(("“\(original)” column (original run)", origCol))
            // Cosine between the [MASK] position's vector and the original token's, per hidden state.
            var hiddenM: [Tensor] = masked.embeddings.map { [$0.output] } ?? []
            var hiddenO: [Tensor] = s.trace.embeddings.map { [$0.output] } ?? []
            hiddenM += masked.layers.map(\.output); hiddenO += s.trace.layers.map(\.output)
            let offset = hiddenM.count - layerCount  // 1 when the embedding output is there
            var cosMask: [Double] = [], cosOthers: [Double] = []
            for (hm, ho) in zip(hiddenM, hiddenO) {
                cosMask.append(VariantAnalysis.cosine(VariantAnalysis.row(hm, p), VariantAnalysis.row(ho, p)))
                let others = (0..<n).filter { $0 != p }.map { VariantAnalysis.cosine(VariantAnalysis.row(hm, $0), VariantAnalysis.row(ho, $0)) }
                cosOthers.append(others.isEmpty ? 1 : Analysis.mean(others))
            }
            let xs = (0..<cosMask.count).map { Double($0 - offset + 1) }
            var plot = LinePlot(title: "[MASK] at position \(p) vs the original “\(original)”", series: [
                .init(name: "[MASK] position vs “\(original)”", x: xs, y: cosMask, markers: true),
                .init(name: "other tokens (mean)", x: xs, y: cosOthers, dashed: true, markers: true),
            ], xLabel: "hidden state (0 = embeddings, l = output of layer l − 1)", yLabel: "cosine with the original run")
            plot.includeZero = true
            line = plot
            if let a = masked.layers.indices.contains(layer) ? masked.layers[layer].selfAttention : nil, head < a.heads {
                maps.append(Figures.head(a.weights, head: head, labels: labels, title: "L\(layer) H\(head), “\(original)” → [MASK]"))
            }
            findings.append("Token \("masked_position", p) (“\("masked_token", text: original)”) was replaced by [MASK]. Its row is still a full softmax distribution over all \(n) keys: it sums to 1 within \("mask_row_sum_max_abs_dev", rowSumDev, "%.1e") in every layer and head, and spreads over \("mask_row_effective_keys", Analysis.mean(effective), "%.1f") keys on average (e^entropy, mean over layers and heads).")
            findings.append("Other tokens still read it: averaged over layers, heads and queries its column receives \("mask_column_weight_mean", Analysis.mean(maskCol), "%.4f") of a row (the original token's column: \("original_column_weight_mean", Analysis.mean(origCol), "%.4f"); a uniform row gives 1/n = \(String(format: "%.4f", 1 / Double(max(n, 1))))).")
            if let first = cosMask.first, let last = cosMask.last, let othersLast = cosOthers.last {
                findings.append("The [MASK] position's vector has cosine \("mask_vs_original_cosine_first", first, "%.3f") with the original token's at \(offset == 1 ? "the embedding output" : "layer 1") and \("mask_vs_original_cosine_last", last, "%.3f") after the last layer; the other tokens keep a mean cosine of \("other_tokens_cosine_last", othersLast, "%.3f") — the vector at the masked position no longer carries the original token: what it holds is gathered from the context.")
            }
            for (k, c) in cosMask.enumerated() { values.append(("mask_vs_original_cosine_hidden_\(k)", .number(c))) }
        } else {
            findings.append(Finding("No [MASK] run: \(maskReason)."))
        }

        let pad = padded?.tokens.last?.text ?? "[PAD]"  // the loaded model's pad token ([PAD], <pad>)
        if let padded, padded.layers.count == layerCount {
            let total = padded.tokens.count
            var padMax: Float = 0, padMean: [Double] = []
            for l in 0..<layerCount {
                guard let w = padded.layers[l].selfAttention?.weights, w.shape.count == 3 else { continue }
                var sum = 0.0
                for hd in 0..<w.shape[0] { for i in 0..<n { for j in n..<total {
                    let v = w.data[(hd * total + i) * total + j]
                    padMax = max(padMax, v); sum += Double(v)
                } } }
                padMean.append(sum / Double(max(w.shape[0] * n * (total - n), 1)))
            }
            if padMean.count == layerCount, series.first.map({ $0.values.count == layerCount }) ?? true { series.append(("each \(pad) column (padded run)", padMean)) }
            if let a = padded.layers.indices.contains(layer) ? padded.layers[layer].selfAttention : nil, head < a.heads {
                maps.append(Figures.head(a.weights, head: head, labels: padded.tokens.map(\.text), title: "L\(layer) H\(head), \(total - n) \(pad) added",
                                         maskedBy: a.scores, maskLabel: "\(pad) key (score −∞)"))
            }
            findings.append("In the padded run (\("pad_tokens", total - n) \(pad) tokens) the largest weight any real query gives a \(pad) column, over all layers and heads, is \("pad_column_weight_max", Double(padMax), "%g"): the mask removes those columns\(masked != nil ? ", while the [MASK] column above keeps receiving weight" : "").")
        } else {
            findings.append(Finding("No padded run: \(s.padded.reason)."))
        }

        Figures.sharedWeightRange(&maps)
        var figures = maps.enumerated().map { k, map in
            FigureSpec(file: Figures.file(id, k == 0 && masked != nil ? "masked" : "padded"), figure: map,
                       caption: k == 0 && masked != nil
                           ? "Layer \(layer), head \(head) with token \(p ?? 0) replaced by [MASK]: its row and its column are ordinary, non-zero weights. The maps share one colour range (0 to \(Chrome.format(map.range?.max ?? 1)))."
                           : "The same head on the padded batch: the \(pad) columns are blocked (hatched) and get exactly 0; the pad rows still compute outputs nobody reads.")
        }
        // Without the [MASK] run the chart would hold only the pad columns' zeros: nothing to see.
        if masked != nil, !series.isEmpty, series.allSatisfy({ $0.values.count == layerCount }) {
            let chart = BarChart(title: "Mean weight a column receives, per layer", categories: (0..<layerCount).map { "L\($0)" },
                                 series: series, xLabel: "layer", yLabel: "mean weight per query (share of a row)")
            figures.append(FigureSpec(file: Figures.file(id, "columns"), figure: chart,
                                      caption: "Averaged over heads and the other queries.\(masked != nil ? " The [MASK] column keeps receiving weight in every layer;" : "") a \(pad) column receives exactly 0 (no bar)."))
        }
        if let line {
            figures.append(FigureSpec(file: Figures.file(id, "cosine"), figure: line,
                                      caption: "How far the masked position's vector is from the original token's vector, layer by layer; the dashed line shows how little the other tokens change."))
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings,
                              unavailable: masked == nil ? maskReason : nil, values: values)
    }
}
