import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// Numbers of the encoder–decoder sections (attn-cross, arch-enc-vs-dec), computed from a trace.
enum DecoderAnalysis {
    /// One decoder layer's cross-attention, checked: weights [heads, T, S] with T the decoder's
    /// tokens and S the source's.
    struct Cross {
        var layer: Int
        var record: AttentionRecord
        var heads: Int { record.heads }
    }

    /// The cross-attention of every decoder layer whose record has the trace's shapes.
    static func crossLayers(_ t: Trace) -> [Cross] {
        let T = t.decoderTokens.count, S = t.tokens.count
        return t.layers(of: .decoder).compactMap { layer in
            guard let a = layer.attention.first(where: { $0.kind == .cross }), a.heads > 0, a.weights.shape == [a.heads, T, S] else { return nil }
            return Cross(layer: layer.index, record: a)
        }
    }

    /// The decoder positions with a gold source token inside the source, and that token.
    static func goldRows(_ t: Trace) -> [(row: Int, source: Int)] {
        guard t.decoderAlignment.count == t.decoderTokens.count else { return [] }
        return t.decoderAlignment.enumerated().compactMap { i, a in a.flatMap { t.tokens.indices.contains($0) ? (i, $0) : nil } }
    }

    /// First column of a row's largest value.
    static func argmax(_ row: ArraySlice<Float>) -> Int {
        var best = row.startIndex
        for j in row.indices where row[j] > row[best] { best = j }
        return best - row.startIndex
    }

    /// How one map ([T, S] row-major) scores against the gold alignment: rows whose largest weight
    /// is on the gold column, and the mean weight on the gold column.
    struct Score { var hits: Int; var goldWeight: Double; var hitRows: [Int] }

    static func score(_ map: [Float], cols S: Int, gold: [(row: Int, source: Int)]) -> Score {
        var hits = 0, weight = 0.0, rows: [Int] = []
        for g in gold {
            let base = g.row * S
            guard base + S <= map.count else { continue }
            if argmax(map[base..<(base + S)]) == g.source { hits += 1; rows.append(g.row) }
            weight += Double(map[base + g.source])
        }
        return Score(hits: hits, goldWeight: gold.isEmpty ? 0 : weight / Double(gold.count), hitRows: rows)
    }

    /// One head's [nq, nk] slice of weights [heads, nq, nk].
    static func head(_ w: Tensor, _ h: Int) -> [Float] {
        let size = w.shape[1] * w.shape[2]
        return Array(w.data[(h * size)..<((h + 1) * size)])
    }

    /// The heads' mean, [nq, nk]; cells that every head masks (score −∞) stay −∞ so they are drawn as masked.
    static func headMean(_ a: AttentionRecord) -> [Float] {
        let mean = Analysis.headMean(a.weights).map { Float($0) }
        let size = mean.count
        guard a.scores.shape == a.weights.shape else { return mean }
        return mean.indices.map { k in (0..<a.heads).allSatisfy { a.scores.data[$0 * size + k] == -.infinity } ? -.infinity : mean[k] }
    }

    /// Largest |Σ_j w_ij − 1| over the heads and rows of weights [heads, nq, nk].
    static func rowSumDeviation(_ w: Tensor) -> Double {
        let nk = w.shape[2], rows = w.shape[0] * w.shape[1]
        var worst = 0.0
        for r in 0..<rows { worst = max(worst, abs(w.data[(r * nk)..<((r + 1) * nk)].reduce(0.0) { $0 + Double($1) } - 1)) }
        return worst
    }

    /// Weight on later keys (j > i): the mean over heads and queries of Σ_{j>i} w_ij, and the
    /// largest single such weight. Square maps only.
    static func futureWeight(_ w: Tensor) -> (mean: Double, max: Double, rows: Int) {
        guard w.shape.count == 3, w.shape[1] == w.shape[2] else { return (0, 0, 0) }
        let h = w.shape[0], n = w.shape[1]
        var total = 0.0, largest = 0.0
        for head in 0..<h {
            for i in 0..<n {
                for j in (i + 1)..<max(n, i + 1) {
                    let v = Double(w.data[(head * n + i) * n + j])
                    total += v
                    largest = max(largest, v)
                }
            }
        }
        return (h * n == 0 ? 0 : total / Double(h * n), largest, h * n)
    }

    /// Labels of the decoder rows by the token each position must output (label i = decoder input
    /// i + 1; the last position outputs </s>, as in the companion's teacher-forced run).
    static func outputLabels(_ t: Trace) -> [String] {
        let n = t.decoderTokens.count
        return (0..<n).map { i in i + 1 < n ? CompanionAnalysis.label(t.decoderTokens[i + 1]) : "</s>" }
    }

    /// A weight map [rows, cols] on the 0–1 scale with its gold cells outlined.
    static func map(_ values: [Float], rows: Int, cols: Int, rowLabels: [String], colLabels: [String], title: String,
                    gold: [(row: Int, source: Int)], goldLabel: String) -> Heatmap {
        var m = Heatmap(title: title, values: values, rows: rows, cols: cols, rowLabels: rowLabels.count == rows ? rowLabels : nil,
                        colLabels: colLabels.count == cols ? colLabels : nil, xLabel: "source character (encoder output: keys and values)",
                        yLabel: "decoder position (query), by the character it outputs", colorbarLabel: "cross-attention weight",
                        colormap: .viridis, range: ColorRange(0, 1))
        m.outlined = gold.filter { $0.row < rows && $0.source < cols }.map { (row: $0.row, col: $0.source) }
        m.outlineLabel = goldLabel
        return m
    }
}
