import AttnvizRender
import AttnvizTensor
import Foundation

/// pos-sinusoidal: the original Transformer's fixed encoding for this sentence's positions.
struct PosSinusoidalSection: Section {
    let id = "pos-sinusoidal"

    /// Positions shown: the sentence's, but at least 64 so the waves are visible.
    static func positions(_ s: Study) -> Int { min(max(s.n, 64), max(s.trace.model.maxPositions, s.n)) }

    func build(_ s: Study) throws -> SectionContent {
        let d = s.trace.model.dModel
        let n = Self.positions(s)
        let pe = Analysis.sinusoidal(positions: n, dims: d)  // [n, d]
        let xs = (0..<n).map(Double.init)
        let dims = [0, 1, d / 8, d / 8 + 1].map { $0 - $0 % 2 + ($0 % 2) }
        let series = dims.map { k in
            LinePlot.Series(name: "dim \(k) (\(k % 2 == 0 ? "sin" : "cos"))", x: xs, y: (0..<n).map { Double(pe[$0, k]) }, dashed: k % 2 == 1)
        }
        let sim = Analysis.cosineMatrix(pe)
        func meanCos(_ k: Int) -> Double {
            guard k < n else { return .nan }
            return Analysis.mean((0..<(n - k)).map { Double(sim[$0 * n + $0 + k]) })
        }
        let offsets = [1, 4, 16].filter { $0 < n }
        let note = n > s.n ? " (\(n) positions shown; the sentence uses the first \(s.n))" : ""
        return SectionContent(
            answer: [
                "Attention by itself ignores order, so each position gets a vector added to its token embedding. The original Transformer uses fixed sines and cosines: dimension pair (2i, 2i+1) holds sin and cos of position / 10000^(2i/d). Low dimensions oscillate quickly, high ones slowly, like the hands of a clock running at d/2 different speeds.",
                "Two properties make this choice attractive: the encoding of position p + k is a rotation of the encoding of p (a fixed linear map per offset k), so relative offsets are easy to read off; and the dot product between two positions depends only on their distance, falling off as they move apart. Nothing is learned, and any length can be encoded.",
            ],
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "matrix"), figure: Figures.vectors(pe, labels: nil, title: "Sinusoidal encoding, \(n) positions × \(d) dims" + (n > s.n ? "" : ""), rowAxis: "position"),
                           caption: "The encoding matrix" + note + ": stripes on the left are fast-changing low dimensions, the right half barely changes over these positions."),
                FigureSpec(file: Figures.file(id, "curves"), figure: LinePlot(title: "Four dimensions over positions", series: series, xLabel: "position", yLabel: "encoding value"),
                           caption: "Dims \(dims[0]) and \(dims[1]) complete a cycle every \(Analysis.fixed(2 * Double.pi, 1)) positions; dims \(dims[2])/\(dims[3]) turn \(Analysis.fixed(pow(10000, Double(dims[2]) / Double(d)), 1))× slower."),
                FigureSpec(file: Figures.file(id, "similarity"), figure: Figures.similarity(sim, n: n, labels: nil, title: "Cosine similarity between position encodings", axis: "position"),
                           caption: "Similarity depends on the distance |p − q| only, so every diagonal is constant and values fall away from the main diagonal."),
            ])],
            findings: offsets.map { "Mean cosine similarity between positions \($0) apart: \("mean_cosine_offset_\($0)", meanCos($0), "%.2f")." })
    }
}
