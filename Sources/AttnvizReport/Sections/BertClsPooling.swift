import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// bert-cls-pooling: the [CLS] vector vs the mean of the token vectors as the sentence vector,
/// compared on built-in sentences with known relations.
struct BertClsPoolingSection: Section {
    let id = "bert-cls-pooling"

    /// An anchor and three sentences: a paraphrase of it, a related one, an unrelated one.
    static let builtIn: [(role: String, text: String)] = [
        ("anchor", "A man is playing a guitar on the stage."),
        ("paraphrase", "On the stage, a man plays the guitar."),
        ("related", "A woman is playing the violin in an orchestra."),
        ("unrelated", "The central bank raised interest rates again."),
    ]

    func experiments(_ s: Study) -> [Experiment] { Self.builtIn.map { .otherText($0.text, pair: nil) } }

    /// The pooled vectors of a run's last hidden state: the first token's row ([CLS] in BERT, or
    /// the last token's for a causal model) and the mean over every token under the attention
    /// mask (specials included, as sentence-transformers does).
    static func pooled(_ t: Trace) -> (first: [Float], mean: [Float])? {
        let n = t.lastHidden.rowCount
        guard n > 0, t.lastHidden.rank == 2 else { return nil }
        let firstRow = t.model.architecture == .decoder ? n - 1 : 0
        return (Array(t.lastHidden.row(firstRow)), EmbeddingAnalysis.meanPool(t.lastHidden, rows: Array(0..<n)))
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let decoder = m.architecture == .decoder
        let encoderDecoder = m.architecture == .encoderDecoder
        let firstName = decoder ? "last token" : encoderDecoder ? "first token" : "[CLS]"
        let miniLM = m.name.contains("MiniLM")
        var answer = [
            "A sentence vector has to come from the token outputs somehow. BERT's pre-training puts the next-sentence-prediction classifier on the [CLS] output, so [CLS] is the natural choice for fine-tuned classifiers; mean pooling instead averages every token's output. Here the mean runs over all tokens under the attention mask\(decoder || encoderDecoder ? "" : ", [CLS] and [SEP] included") — what sentence-transformers' mean pooling does.",
            miniLM
                ? "\(m.name == "all-MiniLM-L6-v2" ? "all-MiniLM-L6-v2" : "\(m.name) is a MiniLM; if it is a sentence-transformers model like all-MiniLM-L6-v2, it") was trained as a sentence encoder with mean pooling: its contrastive training compared mean-pooled vectors, so only those were shaped to place similar sentences close together. Its [CLS] output was never trained as a sentence vector; whatever it encodes, nothing asked it to rank sentences by meaning."
                : "Which pooling works depends on training: a model fine-tuned with a classifier on [CLS] makes that vector meaningful; a sentence encoder trained on mean-pooled vectors (as sentence-transformers models usually are) makes the mean meaningful; neither is guaranteed for a model trained on neither.",
        ]
        if decoder {
            answer.append("\(m.name) is a causal decoder with no [CLS]: the only token that has seen the whole text is the last one, so it stands in for [CLS] here.")
        } else if encoderDecoder {
            answer.append("\(m.name) is an encoder–decoder with no [CLS]: its encoder output (read here, one vector per source character) is what the decoder's cross-attention reads, and nothing trained its first vector as a sentence vector. The first token's row stands in for [CLS] here, and the mean runs over every character and </s>.")
        }
        guard let own = Self.pooled(s.trace) else { return SectionContent(answer: answer, unavailable: "this run has no output vectors") }
        var runs: [(role: String, vectors: (first: [Float], mean: [Float]))] = [("your sentence", own)]
        var missing: [String] = []
        for (role, text) in Self.builtIn {
            if let t = s.run(.otherText(text, pair: nil)).trace, let p = Self.pooled(t) { runs.append((role, p)) } else { missing.append(role) }
        }
        let k = runs.count
        func matrix(_ pick: ((first: [Float], mean: [Float])) -> [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: k * k)
            for i in 0..<k { for j in 0..<k { out[i * k + j] = Float(EmbeddingAnalysis.cosine(pick(runs[i].vectors), pick(runs[j].vectors))) } }
            return out
        }
        let simFirst = matrix { $0.first }, simMean = matrix { $0.mean }
        let labels = runs.map(\.role)
        var firstMap = Figures.similarity(simFirst, n: k, labels: labels, title: "Cosine similarity of \(firstName) vectors", axis: "sentence")
        var meanMap = Figures.similarity(simMean, n: k, labels: labels, title: "Cosine similarity of mean-pooled vectors", axis: "sentence")
        firstMap.showValues = true; meanMap.showValues = true
        // The two vectors of this sentence, one colour range.
        let d = own.first.count
        let both = own.first + own.mean
        // A few outlier dimensions would wash out the rest: clip at the 99th percentile of |value|.
        let top = max(ColorRange.robustSymmetric(both).max, 1e-6)
        let clipped = Double(both.map { abs($0) }.max() ?? 0) > top * 1.05
        let vecs = Heatmap(title: "This sentence's \(firstName) vector and mean-pooled vector (\(d) dims)", values: both, rows: 2, cols: d,
                           rowLabels: [firstName, "mean"], colLabels: nil, xLabel: "dimension", yLabel: "pooling",
                           colorbarLabel: clipped ? "clipped ±\(Chrome.format(top))" : "value", colormap: .blueRed, range: ColorRange(-top, top))
        var findings: [Finding] = [
            "This sentence's \(firstName) and mean-pooled vectors have cosine \("first_vs_mean_cosine", EmbeddingAnalysis.cosine(own.first, own.mean), "%.3f") with each other.",
        ]
        var values: [(name: String, value: FindingValue)] = []
        let anchor = labels.firstIndex(of: "anchor")
        if let a = anchor {
            func sims(_ m: [Float]) -> [(String, Double)] { ["paraphrase", "related", "unrelated"].compactMap { r in labels.firstIndex(of: r).map { (r, Double(m[a * k + $0])) } } }
            let f = sims(simFirst), mm = sims(simMean)
            if f.count == 3, mm.count == 3 {
                let spreadFirst = (f.map(\.1).max() ?? 0) - (f.map(\.1).min() ?? 0), spreadMean = (mm.map(\.1).max() ?? 0) - (mm.map(\.1).min() ?? 0)
                findings.append("Anchor “\(Self.builtIn[0].text)” under \(firstName): paraphrase \("cls_paraphrase", f[0].1, "%.3f"), related \("cls_related", f[1].1, "%.3f"), unrelated \("cls_unrelated", f[2].1, "%.3f") (spread \("cls_spread", spreadFirst, "%.3f")). Under mean pooling: \("mean_paraphrase", mm[0].1, "%.3f"), \("mean_related", mm[1].1, "%.3f"), \("mean_unrelated", mm[2].1, "%.3f") (spread \("mean_spread", spreadMean, "%.3f")).")
                let orderedFirst = f[0].1 > f[1].1 && f[1].1 > f[2].1, orderedMean = mm[0].1 > mm[1].1 && mm[1].1 > mm[2].1
                let verdict = "The order paraphrase > related > unrelated holds under \(firstName): \(orderedFirst ? "yes" : "no"); under mean pooling: \(orderedMean ? "yes" : "no"). "
                let compressed = spreadFirst < spreadMean
                findings.append(Finding(verdict + (compressed
                    ? "The \(firstName) similarities are squeezed into a narrower band (spread \(String(format: "%.3f", spreadFirst)) vs \(String(format: "%.3f", spreadMean))): they separate the sentences less."
                    : "Here the \(firstName) similarities spread at least as wide as the mean-pooled ones (\(String(format: "%.3f", spreadFirst)) vs \(String(format: "%.3f", spreadMean))).")))
                values.append(("cls_order_correct", .number(orderedFirst ? 1 : 0)))
                values.append(("mean_order_correct", .number(orderedMean ? 1 : 0)))
            }
            if let own = labels.firstIndex(of: "your sentence") {
                let close = (0..<k).filter { $0 != own }.max { simMean[own * k + $0] < simMean[own * k + $1] }
                let ownCos = (0..<k).filter { $0 != own }.map { abs(Double(simMean[own * k + $0])) }
                if let c = close, let top = ownCos.max(), top < 0.15 {
                    findings.append("Your sentence is unrelated to all four built-in sentences under mean pooling (|cosine| ≤ \("own_closest_mean_cosine", top, "%.3f")): which one is “closest” is noise at that level.")
                } else if let c = close {
                    findings.append("Your sentence is closest (mean pooling) to the \(labels[c]) sentence: cosine \("own_closest_mean_cosine", Double(simMean[own * k + c]), "%.3f"); under \(firstName) its cosines to the four built-in sentences run from \("own_cls_min", (0..<k).filter { $0 != own }.map { Double(simFirst[own * k + $0]) }.min() ?? 0, "%.3f") to \("own_cls_max", (0..<k).filter { $0 != own }.map { Double(simFirst[own * k + $0]) }.max() ?? 0, "%.3f").")
                }
            }
        }
        let rows = Self.builtIn.map { [$0.role, $0.text] }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "vectors"), figure: vecs,
                           caption: "The two candidate sentence vectors of your sentence from \(m.name)'s last layer, on one colour range\(clipped ? " clipped at ±\(Chrome.format(top)) (99th percentile of |value|; the largest, \(Chrome.format(Double(both.map { abs($0) }.max() ?? 0))), is drawn at full colour)" : "")."),
                FigureSpec(file: Figures.file(id, "similarity-first"), figure: firstMap,
                           caption: "Cosines between \(firstName) vectors of your sentence and the four built-in ones (same colour range as the next map)."),
                FigureSpec(file: Figures.file(id, "similarity-mean"), figure: meanMap,
                           caption: "The same sentences mean-pooled over all tokens under the attention mask (\(encoderDecoder ? "</s> included" : decoder ? "every token" : "[CLS] and [SEP] included")). Compare the anchor row: paraphrase, related, unrelated."),
            ])],
            tables: [TableSpec(caption: "The built-in sentences (run through \(m.name) like yours).", header: ["role", "text"], rows: rows)],
            findings: findings,
            unavailable: missing.isEmpty ? nil : "The built-in sentence run(s) \(missing.joined(separator: ", ")) could not be made; only the rest are compared.",
            values: values)
    }
}
