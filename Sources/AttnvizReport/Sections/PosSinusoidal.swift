import AttnvizRender
import AttnvizTensor
import Foundation

/// pos-sinusoidal: the original Transformer's fixed encoding for this sentence's positions.
struct PosSinusoidalSection: Section {
    let id = "pos-sinusoidal"

    /// Positions shown: the sentence's, but at least 64 so the waves are visible.
    static func positions(_ s: Study) -> Int { min(max(s.n, 64), max(s.trace.model.maxPositions, s.n)) }

    /// The same sines and cosines in HF Marian's / fairseq's order: sin of every frequency in dims
    /// 0..<⌈d/2⌉, then the cosines. `pe` is the interleaved table (sin in 2i, cos in 2i+1).
    static func halfSplit(_ pe: Tensor) -> Tensor {
        let n = pe.rowCount, d = pe.rowWidth, sines = (d + 1) / 2
        var out = [Float](repeating: 0, count: n * d)
        for p in 0..<n {
            for i in 0..<sines { out[p * d + i] = pe.data[p * d + 2 * i] }
            for i in 0..<(d - sines) { out[p * d + sines + i] = pe.data[p * d + 2 * i + 1] }
        }
        return Tensor(uncheckedShape: [n, d], data: out)
    }

    /// Largest |difference| between the first rows of `table` and the recorded position rows, or nil.
    static func maxDiff(_ table: Tensor, _ recorded: Tensor?) -> Double? {
        guard let r = recorded, r.rowWidth == table.rowWidth, r.rowCount <= table.rowCount, r.rowCount > 0 else { return nil }
        var m = 0.0
        for k in 0..<r.data.count { m = max(m, abs(Double(r.data[k]) - Double(table.data[k]))) }
        return m
    }

    func build(_ s: Study) throws -> SectionContent {
        let d = s.trace.model.dModel
        let n = Self.positions(s)
        let textbook = Analysis.sinusoidal(positions: n, dims: d)  // [n, d]
        // A model with sinusoidal positions: draw its own layout — the one its recorded rows match.
        let recorded = s.trace.model.positions == .sinusoidal ? s.trace.embeddings?.position : nil
        let split = Self.halfSplit(textbook)
        let dTextbook = Self.maxDiff(textbook, recorded), dSplit = Self.maxDiff(split, recorded)
        let usesSplit = d >= 2 && dSplit != nil && (dSplit ?? .infinity) < (dTextbook ?? .infinity)
        let pe = usesSplit ? split : textbook
        let xs = (0..<n).map(Double.init)
        // Two frequencies: the fastest (index 0) and index f = d/16, each as its sin and cos dimension.
        let f = min(max(d / 16, 1), max((d - 1) / 2, 0))
        let sines = (d + 1) / 2
        let dims = usesSplit ? [0, sines, f, sines + f].map { min($0, max(d - 1, 0)) } : [0, 1, d / 8, d / 8 + 1].map { min($0, max(d - 1, 0)) }
        let isCos: (Int) -> Bool = { k in usesSplit ? k >= sines : k % 2 == 1 }
        let series = dims.map { k in
            LinePlot.Series(name: "dim \(k) (\(isCos(k) ? "cos" : "sin"))", x: xs, y: (0..<n).map { Double(pe[$0, k]) }, dashed: isCos(k))
        }
        let slower = usesSplit ? pow(10000, 2 * Double(f) / Double(d)) : pow(10000, Double(dims[2]) / Double(d))
        let sim = Analysis.cosineMatrix(pe)
        func meanCos(_ k: Int) -> Double {
            guard k < n else { return .nan }
            return Analysis.mean((0..<(n - k)).map { Double(sim[$0 * n + $0 + k]) })
        }
        let offsets = [1, 4, 16].filter { $0 < n }
        let note = n > s.n ? " (\(n) positions shown; the sentence uses the first \(s.n))" : ""
        let m = s.trace.model
        var answer = [
            "Attention by itself ignores order, so each position gets a vector added to its token embedding. The original Transformer uses fixed sines and cosines: dimension pair (2i, 2i+1) holds sin and cos of position / 10000^(2i/d). Low dimensions oscillate quickly, high ones slowly, like the hands of a clock running at d/2 different speeds.",
            "Two properties make this choice attractive: the encoding of position p + k is a rotation of the encoding of p (a fixed linear map per offset k), so relative offsets are easy to read off; and the dot product between two positions depends only on their distance, falling off as they move apart. Nothing is learned, and any length can be encoded.",
        ]
        if usesSplit {
            answer.append("\(m.name) uses these same \(sines) sines and \(d - sines) cosines but stores them in another order (the Marian / fairseq layout): sin of every frequency in dims 0–\(sines - 1), then the cosines in dims \(sines)–\(d - 1), so frequency i sits in dims i and \(sines) + i rather than 2i and 2i + 1. The figures below draw this model's own table; reordering dimensions changes no dot product, so the similarities are those of the textbook layout.")
        }
        var findings: [Finding] = offsets.map { "Mean cosine similarity between positions \($0) apart: \("mean_cosine_offset_\($0)", meanCos($0), "%.2f")." }
        if usesSplit, let diff = dSplit {
            findings.append("The table drawn (sines first, then cosines) matches the \("recorded_position_rows", recorded?.rowCount ?? 0) position rows this run added to its tokens to within \("table_vs_recorded_max_abs_diff", diff, "%.1e"); the interleaved textbook table would differ by up to \("interleaved_vs_recorded_max_abs_diff", dTextbook ?? .nan, "%.2f").")
        }
        let matrixCaption = usesSplit
            ? "This model's encoding matrix" + note + ": the left half holds the sines, the right half the cosines; within each half the stripes go from fast-changing frequencies on its left to slow ones on its right (dim \(sines), the fastest cosine, starts the right half)."
            : "The encoding matrix" + note + ": stripes on the left are fast-changing low dimensions, the right half barely changes over these positions."
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "matrix"), figure: Figures.vectors(pe, labels: nil, title: "Sinusoidal encoding\(usesSplit ? " (\(m.name): sin | cos)" : ""), \(n) positions × \(d) dims", rowAxis: "position"),
                           caption: matrixCaption),
                FigureSpec(file: Figures.file(id, "curves"), figure: LinePlot(title: "Four dimensions over positions", series: series, xLabel: "position", yLabel: "encoding value"),
                           caption: "Dims \(dims[0]) and \(dims[1])\(usesSplit ? " are the sin and cos of the fastest frequency and" : "") complete a cycle every \(Analysis.fixed(2 * Double.pi, 1)) positions; dims \(dims[2])/\(dims[3]) turn \(Analysis.fixed(slower, 1))× slower."),
                FigureSpec(file: Figures.file(id, "similarity"), figure: Figures.similarity(sim, n: n, labels: nil, title: "Cosine similarity between position encodings", axis: "position"),
                           caption: "Similarity depends on the distance |p − q| only, so every diagonal is constant and values fall away from the main diagonal."),
            ])],
            findings: findings)
    }
}
