import AttnvizRender
import AttnvizTensor

/// pos-learned: the loaded model's own position vectors for this sentence's positions.
struct PosLearnedSection: Section {
    let id = "pos-learned"

    func build(_ s: Study) throws -> SectionContent {
        let answer = [
            "BERT and GPT-2 do not use sines: they learn one vector per position (512 for BERT, 1024 for GPT-2) like any other embedding and add it to the token embedding. The model can shape these vectors however helps its task, at the price of a hard maximum length: there is simply no vector for position 513.",
            "Learned tables usually end up smooth: neighbouring positions get similar vectors, much like the sinusoidal ones, which is visible in the similarity matrix below.",
        ]
        guard s.trace.model.positions == .learned, let pos = s.trace.embeddings?.position else {
            return SectionContent(answer: answer, unavailable: "The loaded model has no learned position table (its positions are \(s.trace.model.positions.rawValue)).")
        }
        let n = pos.shape[0]
        let sim = Analysis.cosineMatrix(pos)
        let sin = Analysis.cosineMatrix(Analysis.sinusoidal(positions: n, dims: pos.shape[1]))
        func adjacent(_ m: [Float]) -> Double { n < 2 ? .nan : Analysis.mean((0..<(n - 1)).map { Double(m[$0 * n + $0 + 1]) }) }
        func far(_ m: [Float]) -> Double { n < 2 ? .nan : Double(m[n - 1]) }
        let norms = Analysis.rowNorms(pos)
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "matrix"), figure: Figures.vectors(pos, labels: nil, title: "Learned position embeddings, positions 0–\(n - 1)", rowAxis: "position"),
                           caption: "Rows 0 to \(n - 1) of \(s.trace.model.name)'s position table — the ones this sentence used."),
                FigureSpec(file: Figures.file(id, "similarity"), figure: Figures.similarity(sim, n: n, labels: nil, title: "Learned: cosine similarity between positions", axis: "position"),
                           caption: "Neighbours have cosine \(Analysis.fixed(adjacent(sim))) on average; positions 0 and \(n - 1): \(Analysis.fixed(far(sim)))."),
                FigureSpec(file: Figures.file(id, "similarity-sinusoidal"), figure: Figures.similarity(sin, n: n, labels: nil, title: "Sinusoidal: the same positions for comparison", axis: "position"),
                           caption: "The fixed encoding at the same width: neighbours \(Analysis.fixed(adjacent(sin))), positions 0 and \(n - 1): \(Analysis.fixed(far(sin)))."),
            ])],
            findings: ["Position vector norms range from \("norm_min", Double(norms.min() ?? 0), "%.2f") to \("norm_max", Double(norms.max() ?? 0), "%.2f") (position 0: \("norm_position_0", Double(norms.first ?? 0), "%.2f"))."])
    }
}
