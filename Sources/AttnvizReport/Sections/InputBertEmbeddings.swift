import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// input-bert-embeddings: token + segment + position, their sum, and the LayerNorm after it.
struct InputBertEmbeddingsSection: Section {
    let id = "input-bert-embeddings"

    /// Elementwise token + segment + position in that order (segment absent: zero) → [n·d].
    static func recomputedSum(_ e: EmbeddingRecord) -> [Float] {
        let type = e.tokenType.flatMap { $0.count == e.word.count ? $0.data : nil }
        return e.word.data.indices.map { k in
            e.wordScale * e.word.data[k] + (type?[k] ?? 0) + (k < e.position.count ? e.position.data[k] : 0)
        }
    }

    /// How well `output` is a per-dimension affine map of the standardised `sum` rows (a
    /// LayerNorm with some γ, β): fit γ_k, β_k by least squares over the tokens, return the largest
    /// residual. Needs two tokens whose standardised values differ.
    static func layerNormResidual(sum: Tensor, output: Tensor, eps: Double) -> Double? {
        let n = sum.rowCount, d = sum.rowWidth
        guard n >= 2, output.rowCount == n, output.rowWidth == d else { return nil }
        let stats = Analysis.rowStats(sum)
        var z = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for k in 0..<d { z[i * d + k] = (Double(sum.data[i * d + k]) - stats[i].mean) / (stats[i].std * stats[i].std + eps).squareRoot() } }
        var worst = 0.0
        for k in 0..<d {
            var mz = 0.0, my = 0.0
            for i in 0..<n { mz += z[i * d + k]; my += Double(output.data[i * d + k]) }
            mz /= Double(n); my /= Double(n)
            var szz = 0.0, szy = 0.0
            for i in 0..<n { let a = z[i * d + k] - mz; szz += a * a; szy += a * (Double(output.data[i * d + k]) - my) }
            guard szz > 1e-12 else { continue }
            let g = szy / szz, b = my - g * mz
            for i in 0..<n { worst = max(worst, abs(g * z[i * d + k] + b - Double(output.data[i * d + k]))) }
        }
        return worst
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let hasSegments = s.trace.embeddings?.tokenType != nil
        var answer = [
            "BERT's input vector for token i is the sum of three learned rows: the token embedding of its id, a segment (token-type) embedding saying whether it belongs to sentence A or B, and the position embedding of index i. The sum then goes through a LayerNorm (and dropout in training) before the first layer. Summing rather than concatenating keeps the width at d_model; the model learns tables whose sum still lets later layers tell the parts apart.",
            "Segments exist for sentence-pair inputs (question and passage, two sentences for next-sentence prediction): every token of the first segment, [CLS] and the first [SEP] included, gets type 0, every token of the second gets type 1. With a single sentence all rows use type 0, so the segment part is one constant vector added everywhere.",
        ]
        guard let e = s.trace.embeddings, e.word.rowCount == s.n, e.position.shape == e.word.shape, e.sum.shape == e.word.shape, s.n > 0 else {
            return SectionContent(answer: answer, unavailable: "this run recorded no embedding components")
        }
        let noNorm = e.output == e.sum
        // Post-LN without an embedding LayerNorm (Marian): the sum goes into layer 0 as is. (Pre-LN
        // GPT-2's sum does go into a LayerNorm first: block 0's ln_1.)
        let sumIsBlockInput = noNorm && m.normPlacement == .post
        if !hasSegments {
            answer = ["\(m.name) (\(m.normPlacement.rawValue) \(m.architecture.rawValue)) has no segment table: its input is the token embedding plus the \(m.positions.rawValue) position embedding\(noNorm ? ", with no LayerNorm after the sum (\(m.normPlacement == .pre ? "the first pre-LN block normalises its own input" : "the first block takes the sum as is"))" : ""). BERT adds a third, segment component and a LayerNorm; the figures below show the components this model has and their sum."]
        }
        let n = s.n, d = e.word.rowWidth
        let recomputed = Self.recomputedSum(e)
        let diff = EmbeddingAnalysis.maxAbsDiff(recomputed, e.sum.data)
        var parts: [(String, Tensor)] = [("token", e.word)]
        if let t = e.tokenType, t.shape == e.word.shape { parts.append(("segment", t)) }
        parts.append(("position", e.position))
        parts.append(("sum", e.sum))
        let range = ColorRange.robustSymmetric(parts.flatMap(\.1.data))
        let clipped = parts.contains { $0.1.data.contains { abs(Double($0)) > range.max * 1.05 } }
        let labels = s.labels
        let types = s.trace.tokens.map(\.typeId)
        let boundary = types.firstIndex { $0 != types.first }
        var figures: [FigureSpec] = parts.map { name, x in
            var title = "\(name == "sum" ? (sumIsBlockInput ? "Sum (input to the first block)" : "Sum (input to the LayerNorm)") : name.capitalized + " embedding") rows, \(n) × \(d)"
            if name == "segment", let b = boundary { title += ": segment A rows 0–\(b - 1), B rows \(b)–\(n - 1)" }
            var map = Heatmap(title: title, values: x.data, rows: n, cols: d, rowLabels: labels, colLabels: nil, xLabel: "dimension",
                              yLabel: "token", colorbarLabel: clipped ? "value (clipped at ±\(Chrome.format(range.max)))" : "value",
                              colormap: .blueRed, range: range)
            map.maxLabelWidth = 90
            return FigureSpec(file: Figures.file(id, name), figure: map, caption: caption(name, boundary: boundary, range: range.max, maps: parts.count, sinusoidal: m.positions == .sinusoidal, noNorm: sumIsBlockInput, wordScale: e.wordScale))
        }
        // Norms per position of every component, with the segment boundary marked.
        let xs = (0..<n).map(Double.init)
        // The token part as it enters the sum: scaled by √d_model when the model scales it.
        let scaledName = "token × \(Analysis.fixed(Double(e.wordScale)))"
        var series = parts.map { name, x in
            name == "token" && e.wordScale != 1
                ? LinePlot.Series(name: scaledName, x: xs, y: Analysis.rowNorms(x).map { $0 * Double(e.wordScale) }, markers: n <= 64)
                : LinePlot.Series(name: name, x: xs, y: Analysis.rowNorms(x), markers: n <= 64)
        }
        if let b = boundary {
            let all = series.flatMap(\.y)
            series.append(.init(name: "segment boundary (B starts at \(b))", x: [Double(b) - 0.5, Double(b) - 0.5], y: [0, all.max() ?? 1], dashed: true))
        }
        var plot = LinePlot(title: "Norm of each component per position", series: series, xLabel: "position", yLabel: "L2 norm")
        plot.includeZero = true
        if n <= 10 { plot.xTicks = (0..<n).map { (Double($0), labels[$0]) } }
        figures.append(FigureSpec(file: Figures.file(id, "norms"), figure: plot,
                                  caption: "Which part dominates the sum at each position\(e.wordScale != 1 ? " (the token line is the looked-up row × \(Analysis.fixed(Double(e.wordScale))) = √d_model, the part that enters the sum)" : "")\(boundary != nil ? "; the dashed vertical line is where segment B begins" : "")\(hasSegments ? ". The LayerNorm output (not drawn) is far larger: see the findings" : "")."))

        // The two segment vectors and their difference, on their own range (an enlargement).
        if let t = e.tokenType, t.shape == e.word.shape, let b = boundary {
            let va = Array(t.row(0)), vb = Array(t.row(b))
            let delta = zip(vb, va).map { $0 - $1 }
            let values = va + vb + delta
            let top = max(ColorRange.robustSymmetric(values, quantile: 0.98).max, 1e-6)
            let clippedTop = Double(values.map { abs($0) }.max() ?? 0) > top * 1.05
            var map = Heatmap(title: "Segment vectors: A (type 0), B (type 1), and B − A — enlarged, own colour range", values: values, rows: 3, cols: d,
                              rowLabels: ["segment A", "segment B", "B − A"], colLabels: nil, xLabel: "dimension", yLabel: "",
                              colorbarLabel: clippedTop ? "clipped ±\(Chrome.format(top))" : "value", colormap: .blueRed, range: ColorRange(-top, top))
            map.showValues = false
            figures.append(FigureSpec(file: Figures.file(id, "segment-vectors"), figure: map,
                                      caption: "The one vector every segment-A token gets and the one every segment-B token gets (rows 0–\(b - 1) vs \(b)–\(n - 1)); the third row is their difference, what tells the model which sentence a token is in. Colour range ±\(Chrome.format(top))\(clippedTop ? " (98th percentile of |value|; larger values are drawn at full colour)" : ""), not the range of the maps above."))
        }
        var findings: [Finding] = [
            "Recomputing token\(e.wordScale == 1 ? "" : " × \(Analysis.fixed(Double(e.wordScale)))") \(hasSegments ? "+ segment " : "")+ position from the recorded rows gives the recorded sum to within \("sum_max_abs_diff", diff, "%.1e") (float32 rounding of the additions).",
        ]
        if let t = e.tokenType, t.shape == e.word.shape {
            // Rows of one segment are one vector; the two segments' vectors differ.
            func row(_ i: Int) -> [Float] { Array(t.row(i)) }
            // Each row against the first row of its segment.
            var within = 0.0
            for i in 0..<n { if let f = types.firstIndex(of: types[i]) { within = max(within, EmbeddingAnalysis.maxAbsDiff(row(i), row(f))) } }
            let counts = (types.filter { $0 == 0 }.count, types.filter { $0 != 0 }.count)
            if let b = boundary {
                let delta = zip(row(0), row(b)).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
                findings.append("Segment A has \("segment_a_tokens", counts.0) tokens (type 0) and segment B \("segment_b_tokens", counts.1) (type 1); within a segment all segment rows are equal (max |Δ| \("segment_within_max_abs_diff", within, "%.1e")), and the two segment vectors differ by ‖E_B − E_A‖ = \("segment_vector_distance", delta, "%.3f") (cosine \("segment_vectors_cosine", EmbeddingAnalysis.cosine(row(0), row(b)), "%.3f")).")
            } else {
                findings.append("All \("segment_a_tokens", counts.0) tokens are segment A (type 0), so every segment row is the same vector (max |Δ| \("segment_within_max_abs_diff", within, "%.1e")) of norm \("segment_vector_norm", Analysis.rowNorms(t).first ?? 0, "%.3f"); give a second text with --pair to see segment B.")
            }
            if let residual = Self.layerNormResidual(sum: e.sum, output: e.output, eps: m.layerNormEps) {
                let before = Analysis.rowStats(e.sum).map(\.std), after = Analysis.rowStats(e.output).map(\.std)
                findings.append("The LayerNorm after the sum: row standard deviations go from \("sum_std_min", before.min() ?? 0, "%.3f")–\("sum_std_max", before.max() ?? 0, "%.3f") to \("normed_std_min", after.min() ?? 0, "%.3f")–\("normed_std_max", after.max() ?? 0, "%.3f") (after γ, β). Fitting one γ, β per dimension to the standardised sums reproduces the recorded output to \("layernorm_fit_max_abs_diff", residual, "%.1e"): the first hidden state is that LayerNorm of this sum.")
            }
        }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: figures)],
            findings: findings,
            unavailable: hasSegments ? nil : "\(m.name) has no segment (token-type) embeddings: its input is token + position only, shown below.")
    }

    func caption(_ name: String, boundary: Int?, range: Double, maps: Int, sinusoidal: Bool = false, noNorm: Bool = false, wordScale: Float = 1) -> String {
        let scale = "All \(maps == 4 ? "four" : "\(maps)") maps share one colour range (±\(Chrome.format(range)))."
        switch name {
        case "token": return "One row per token id, as looked up; repeated ids give repeated rows. \(scale)"
        case "segment": return (boundary.map { "Rows 0–\($0 - 1) (segment A) are one vector, rows from \($0) on (segment B) another: the stripes change at the boundary." }
                                ?? "Every row is the same type-0 vector: with one sentence the segment part is a constant shift.") + " " + scale
        case "position": return "Row i is the \(sinusoidal ? "fixed sinusoidal" : "learned") vector for position i, whatever the token. \(scale)"
        default:
            let summed = wordScale == 1 ? "The elementwise sum of the maps above" : "The elementwise sum of the maps above, the token rows first multiplied by \(Analysis.fixed(Double(wordScale)))"
            return "\(summed); this is what \(noNorm ? "the first block receives (this model has no LayerNorm after the sum)" : "the LayerNorm receives"). \(scale)"
        }
    }
}
