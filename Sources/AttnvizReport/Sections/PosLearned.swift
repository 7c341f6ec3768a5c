import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// pos-learned: the loaded model's own position vectors — the rows this sentence used, and the
/// whole table's similarity by offset beside the sinusoidal encoding's.
struct PosLearnedSection: Section {
    let id = "pos-learned"

    func experiments(_ s: Study) -> [Experiment] { s.trace.model.positions == .learned ? [.positionTable] : [] }

    /// Mean cosine similarity between rows k apart, for k = 1…maxOffset: the means of the
    /// cosine matrix's off-diagonals. table: [rows, d]
    static func similarityByOffset(_ table: Tensor, maxOffset: Int) -> [Double] {
        let rows = table.shape[0]
        guard rows > 1, table.shape[1] > 0, maxOffset >= 1 else { return [] }
        let cos = Analysis.cosineMatrix(table)  // [rows, rows]
        return (1...min(maxOffset, rows - 1)).map { k in
            var total = 0.0
            for i in 0..<(rows - k) { total += Double(cos[i * rows + i + k]) }
            return total / Double(rows - k)
        }
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let answer = [
            "Instead of computing positions with sines, BERT and GPT-2 learn one vector per position index, like any other embedding, and add it to the token embedding. The model can shape these vectors however helps its task, at the price of a hard maximum length: \(m.positions == .learned ? "this model has \(m.maxPositions) rows, numbered 0 to \(m.maxPositions - 1), so there is no vector for position \(m.maxPositions)" : "a table of N rows has no vector for position N") and longer input must be cut.",
            "Nothing forces a learned table to be smooth or to resemble the sinusoidal one; what it looks like is an empirical fact about the checkpoint. The figures show this model's table: the rows this sentence used, and the similarity of rows as a function of their distance over the whole table, beside the same curve for the sinusoidal encoding at this width.",
        ]
        guard m.positions == .learned, let pos = s.trace.embeddings?.position else {
            return SectionContent(answer: answer, unavailable: "the loaded model has no learned position table (its positions are \(m.positions.rawValue))")
        }
        let n = pos.shape[0]
        let sim = Analysis.cosineMatrix(pos)
        func adjacent(_ m: [Float]) -> Double { n < 2 ? .nan : Analysis.mean((0..<(n - 1)).map { Double(m[$0 * n + $0 + 1]) }) }
        var figures = [
            FigureSpec(file: Figures.file(id, "matrix"), figure: Figures.vectors(pos, labels: nil, title: "Learned position embeddings, positions 0–\(n - 1)", rowAxis: "position"),
                       caption: "Rows 0 to \(n - 1) of \(m.name)'s position table — the ones this sentence used."),
            FigureSpec(file: Figures.file(id, "similarity"), figure: Figures.similarity(sim, n: n, labels: nil, title: "Learned: cosine similarity between positions 0–\(n - 1)", axis: "position"),
                       caption: n < 2 ? "One position only." : "Neighbouring positions have cosine \(Analysis.fixed(adjacent(sim))) on average here."),
        ]
        var findings: [Finding] = []
        if case let .measured(_, tensors) = s.run(.positionTable), let table = tensors["position"], table.shape.count == 2, table.shape[0] > 2 {
            let rows = table.shape[0]
            let maxOffset = min(rows - 1, 256)
            let learned = Self.similarityByOffset(table, maxOffset: maxOffset)
            let sinus = Self.similarityByOffset(Analysis.sinusoidal(positions: rows, dims: table.shape[1]), maxOffset: maxOffset)
            let ks = (1...maxOffset).map(Double.init)
            var plot = LinePlot(title: "Similarity of positions k apart, over all \(rows) rows", series: [
                .init(name: "learned (this model)", x: ks, y: learned),
                .init(name: "sinusoidal at d = \(table.shape[1]) (computed, for comparison)", x: ks, y: sinus, dashed: true),
            ], xLabel: "offset k (positions apart)", yLabel: "mean cosine similarity")
            plot.includeZero = true
            // Rises after the first dip: local maxima of the learned curve beyond offset 2.
            var peaks: [(k: Int, v: Double)] = []
            if learned.count >= 5 {
                for i in 2..<(learned.count - 1) where learned[i] > learned[i - 1] && learned[i] >= learned[i + 1] && learned[i] > learned[i - 2] + 0.02 {
                    peaks.append((i + 1, learned[i]))
                }
            }
            let firstMin = learned.indices.min { learned[$0] < learned[$1] }.map { ($0 + 1, learned[$0]) }
            figures.append(FigureSpec(file: Figures.file(id, "by-offset"), figure: plot,
                                      caption: "Each point averages the cosine between every pair of rows k apart in the whole table. The sinusoidal curve is the fixed encoding's; the learned one is what training produced."))
            let norms = Analysis.rowNorms(table)
            let sortedNorms = norms.sorted(), median = sortedNorms[sortedNorms.count / 2]
            findings.append("Over the whole table, neighbouring positions (k = 1) have mean cosine \("neighbour_cosine", learned.first ?? 0, "%.2f"); the lowest mean cosine, \("min_offset_cosine", firstMin?.1 ?? 0, "%.2f"), is at offset \("min_offset", firstMin?.0 ?? 0).")
            if let peak = peaks.max(by: { $0.v < $1.v }) {
                findings.append("The similarity does not simply decay with distance: it rises again, e.g. to \("peak_cosine", peak.v, "%.2f") at offset \("peak_offset", peak.k) (\("peaks", peaks.count) local maxima beyond offset 2 that rise at least 0.02 above the value two offsets earlier) — a quasi-periodic structure, not the smooth decay of a distance measure.")
            } else {
                findings.append("The similarity falls with distance without rising again (no local maximum beyond offset 2).")
            }
            let outlier: Finding = "Position 0's vector has norm \("norm_position_0", norms.first ?? 0, "%.2f") against a median of \("norm_median", median, "%.2f") over all rows (\("norm_position_0_over_median", (norms.first ?? 0) / max(median, 1e-12), "%.1f")×)"
            let first = m.modelType == "bert" ? "the first position, always taken by [CLS] in BERT," : "the first position"
            findings.append(outlier.appending((norms.first ?? 0) > 1.5 * median ? ": \(first) is an outlier." : "."))
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings)
    }
}
