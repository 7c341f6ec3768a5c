import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// block-batchnorm: what BatchNorm's statistics would be on real batches of this sentence with
/// others of different lengths, with and without pads counted, against LayerNorm's per-token ones.
struct BlockBatchNormSection: Section {
    let id = "block-batchnorm"

    /// Built-in sentences of different lengths that join this one in a batch.
    static let others = [
        "Good morning.",
        "The weather was cold, so we stayed inside and read.",
        "Why?",
        "She sold the old bicycle to a neighbour who repairs them for fun on weekends.",
        "A dog barked.",
        "Transformers process every token of a sentence at once, and attention lets each token look at all the others.",
        "The committee will announce its decision after the meeting on Thursday.",
    ]
    static let sizes = [1, 2, 4, 8]

    func experiments(_ s: Study) -> [Experiment] {
        Self.others.map { .otherText($0, pair: nil) } + (s.paddedExperiment.map { [$0] } ?? [])
    }

    /// Where the statistics are taken: the input of the first LayerNorm when that is the embedding sum
    /// (BERT), else the embedding sum, said plainly.
    static func normInput(_ m: ModelInfo) -> String {
        let parts = "token + position\(m.typeVocabSize > 0 ? " + segment" : "")"
        if m.architecture != .encoderDecoder {
            return "the input of the model's first normalisation — the embedding sum (\(parts))"
        }
        return "the embedding sum (\(parts)), the input of layer 0 (this model has no LayerNorm on the embedding sum; its first LayerNorm follows layer 0's self-attention residual add)"
    }

    func build(_ s: Study) throws -> SectionContent {
        let answer = [
            "BatchNorm normalises each feature with the mean and variance taken over the batch (for sequences: over every position of every sentence in it), then applies a learned scale and shift. During training those are the batch's own statistics; at inference it uses running averages collected during training, so a single sentence can be normalised — but with different numbers from the ones it was trained with. Its strengths show in CNNs with large batches: it stabilises and speeds up training, allows larger learning rates, adds a little regularising noise, and at inference it folds into the preceding linear layer for free.",
            "For text its weaknesses dominate: the statistics depend on which sentences share the batch, so small or variable batches give noisy statistics; sentences have different lengths, so pads enter the statistics unless they are masked out; and the gap between batch statistics in training and running statistics at inference (the train/test mismatch) grows when batch statistics fluctuate, as they do strongly in NLP (Shen et al., 2020). LayerNorm, which this model uses, computes a token's statistics from that token alone.",
            "Below, real batches are formed from this sentence and built-in sentences of other lengths (sizes \(Self.sizes.map(String.init).joined(separator: ", "))), and BatchNorm's statistics are computed on \(Self.normInput(s.trace.model)) — with and without the pads counted. This model contains no BatchNorm; these are the statistics it would use.",
        ]
        guard let main = s.trace.embeddings else { return SectionContent(answer: answer, unavailable: "the run recorded no embeddings") }
        let d = main.sum.rowWidth
        var sentences: [(len: Int, sum: Tensor)] = [(s.n, main.sum)]
        var positionRows: [Int: ArraySlice<Float>] = [:]
        func collect(_ e: EmbeddingRecord) { for p in 0..<e.position.rowCount where positionRows[p] == nil { positionRows[p] = e.position.row(p) } }
        collect(main)
        var notRun: [String] = []
        for text in Self.others {
            if let t = s.run(.otherText(text, pair: nil)).trace, let e = t.embeddings, e.sum.rowWidth == d { sentences.append((t.tokens.count, e.sum)); collect(e) }
            else { notRun.append(text) }
        }
        // A pad row at position p: the pad token's embedding + position p (+ segment 0), from the padded run.
        let padded = s.padded.trace
        var padBase: [Float]?
        if let p = padded, let e = p.embeddings, p.tokens.count > s.n {
            collect(e)
            var row = Array(e.word.row(s.n))
            if let tt = e.tokenType { for k in 0..<d { row[k] += tt.data[s.n * d + k] } }
            padBase = row
        }
        let sizes = Self.sizes.filter { $0 <= sentences.count }
        var stats: [(size: Int, pads: Int, real: Int, noPad: BatchStats, withPad: BatchStats?)] = []
        for b in sizes {
            let batch = Array(sentences.prefix(b))
            let lmax = batch.map(\.len).max() ?? 0
            var rows: [ArraySlice<Float>] = batch.flatMap { x in (0..<x.len).map { x.sum.row($0) } }
            let real = rows.count
            let noPad = BatchStats(rows, d: d)
            var withPad: BatchStats?
            var pads = 0
            if let padBase {
                var padRows: [ArraySlice<Float>] = []
                for x in batch where x.len < lmax {
                    for p in x.len..<lmax {
                        guard let pos = positionRows[p] else { continue }
                        padRows.append(ArraySlice(zip(padBase, pos).map { $0 + $1 }))
                    }
                }
                pads = padRows.count
                rows += padRows
                withPad = BatchStats(rows, d: d)
            }
            stats.append((b, pads, real, noPad, withPad))
        }
        guard let alone = stats.first?.noPad, let all = stats.last?.noPad else { return SectionContent(answer: answer, unavailable: "no batch could be formed") }
        let eps = s.trace.model.layerNormEps
        // How far the same tokens' normalised features move from their values when the sentence is alone.
        func moved(_ st: BatchStats) -> Double {
            var total = 0.0
            for i in 0..<s.n {
                for k in 0..<d {
                    let x = Double(main.sum.data[i * d + k])
                    let a = (x - alone.mean[k]) / (alone.variance[k] + eps).squareRoot(), b = (x - st.mean[k]) / (st.variance[k] + eps).squareRoot()
                    total += (a - b) * (a - b)
                }
            }
            return (total / Double(max(s.n * d, 1))).squareRoot()
        }
        // Distance of a batch's statistics from those over all the sentences (what running averages estimate).
        func distance(_ st: BatchStats) -> Double {
            var t = 0.0
            for k in 0..<d { t += abs(st.mean[k] - all.mean[k]) / max(all.variance[k].squareRoot(), 1e-12) }
            return t / Double(d)
        }
        // LayerNorm's statistics of this sentence's tokens, from the padded run's rows vs the run alone.
        var lnChange = 0.0
        if let e = padded?.embeddings {
            let a = Analysis.rowStats(main.sum), b = Analysis.rowStats(Tensor(uncheckedShape: [s.n, d], data: Array(e.sum.data.prefix(s.n * d))))
            for (x, y) in zip(a, b) { lnChange = max(lnChange, abs(x.mean - y.mean), abs(x.std - y.std)) }
        }
        let xs = stats.map { Double($0.size) }
        let ticks = stats.map { (Double($0.size), "\($0.size)") }
        var movePlot = LinePlot(title: "This sentence's normalised embedding features: change from when it is alone",
                                series: [.init(name: "BatchNorm, pads excluded", x: xs, y: stats.map { moved($0.noPad) }, markers: true)],
                                xLabel: "batch size (sentences)", yLabel: "RMS change of the normalised value", xTicks: ticks)
        if padBase != nil { movePlot.series.append(.init(name: "BatchNorm, pads counted", x: xs, y: stats.map { $0.withPad.map(moved) ?? .nan }, markers: true)) }
        movePlot.series.append(.init(name: "LayerNorm (per token)", x: xs, y: xs.map { _ in lnChange }, dashed: true, markers: true))
        movePlot.includeZero = true
        var distPlot = LinePlot(title: "How far a batch's feature means are from those over all \(sentences.count) sentences",
                                series: [.init(name: "pads excluded", x: xs, y: stats.map { distance($0.noPad) }, markers: true)],
                                xLabel: "batch size (sentences)", yLabel: "mean |μ_batch − μ_all| / σ_all", xTicks: ticks)
        if padBase != nil { distPlot.series.append(.init(name: "pads counted", x: xs, y: stats.map { $0.withPad.map(distance) ?? .nan }, markers: true)) }
        distPlot.includeZero = true

        let big = stats[stats.count - 1]
        var findings: [Finding] = [
            "Alone (batch of 1, \("tokens_alone", s.n) tokens), this sentence's per-feature batch means are on average \("mean_distance_batch1", distance(alone), "%.3f") standard deviations away from the means over all \("sentences", sentences.count) sentences; in the batch of \(big.size) (pads excluded) the same tokens' BatchNorm-normalised features move by \("bn_change_largest_batch", moved(big.noPad), "%.3f") (RMS) from their values alone.",
        ]
        if let wp = big.withPad {
            findings.append("Padded to the longest sentence, the batch of \(big.size) holds \("pads_largest_batch", big.pads) pads among \(big.pads + big.real) positions (\(percent: "pad_share_largest_batch", Double(big.pads) / Double(max(big.pads + big.real, 1)))); counting them moves the same tokens' normalised features by \("bn_change_largest_batch_pads", moved(wp), "%.3f"). LayerNorm's mean and std of these tokens, taken from the padded run, differ from the run alone by at most \("layernorm_stats_change", lnChange, "%.1e").")
        }
        let rows = stats.map { st in
            ["\(st.size)", sentences.prefix(st.size).map { String($0.len) }.joined(separator: ", "), "\(st.real)", padBase == nil ? "—" : "\(st.pads)",
             Analysis.fixed(distance(st.noPad), 3), st.withPad.map { Analysis.fixed(distance($0), 3) } ?? "—",
             Analysis.fixed(moved(st.noPad), 3), st.withPad.map { Analysis.fixed(moved($0), 3) } ?? "—"]
        }
        let noPads = padBase == nil ? " No padded run was made (\(s.padded.reason)), so only the pads-excluded statistics are shown." : ""
        return SectionContent(
            answer: answer + (notRun.isEmpty ? [] : ["\(notRun.count) of the built-in sentences could not be run and are left out."]),
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "token-change"), figure: movePlot,
                           caption: "The same tokens, normalised by each batch's statistics: with BatchNorm their values depend on the company they keep (\(Analysis.fixed(moved(big.noPad), 3)) RMS in the batch of \(big.size)); LayerNorm's depend on the token alone (\(Chrome.format(lnChange)))." + noPads),
                FigureSpec(file: Figures.file(id, "distance"), figure: distPlot,
                           caption: "Small batches give statistics far from the population's (\(Analysis.fixed(distance(alone), 3)) σ for the sentence alone): the noise BatchNorm trains with, and the source of the train/test mismatch with running averages. The batch of \(sentences.count) is the reference itself (0 by definition)." + (padBase != nil ? " Counting pads biases the means towards the pad vector." : "")),
            ])],
            tables: [TableSpec(caption: "Batches of this sentence with built-in ones: lengths, real tokens, pads added to reach the longest, distance of the feature means from those of all sentences (in σ), and RMS change of this sentence's normalised features from when alone.",
                               header: ["batch size", "lengths", "real tokens", "pads", "dist. excl. pads", "dist. with pads", "change excl. pads", "change with pads"], rows: rows)],
            findings: findings)
    }
}

/// Per-feature mean and (population) variance over rows.
struct BatchStats {
    var mean: [Double], variance: [Double]

    init(_ rows: [ArraySlice<Float>], d: Int) {
        var m = [Double](repeating: 0, count: d), v = [Double](repeating: 0, count: d)
        let n = Double(max(rows.count, 1))
        for r in rows { for (k, x) in r.enumerated() where k < d { m[k] += Double(x) } }
        for k in 0..<d { m[k] /= n }
        for r in rows { for (k, x) in r.enumerated() where k < d { let c = Double(x) - m[k]; v[k] += c * c } }
        for k in 0..<d { v[k] /= n }
        mean = m; variance = v
    }
}
