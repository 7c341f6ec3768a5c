import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// input-embed-scale: why the original Transformer multiplies embeddings by √d_model, measured on
/// the loaded model's token and position rows.
struct InputEmbedScaleSection: Section {
    let id = "input-embed-scale"

    /// initializer_range from config.json, when present.
    static func initializerRange(_ configJSON: String) -> Double? {
        guard let data = configJSON.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (obj["initializer_range"] as? NSNumber)?.doubleValue
    }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let d = m.dModel, root = Double(d).squareRoot(), sinNorm = (Double(d / 2)).squareRoot()
        var answer = [
            "In the original Transformer the token embedding is multiplied by √d_model before the positional encoding is added. Its sinusoidal encoding has a fixed size: every position has d_model/2 (sin, cos) pairs with sin² + cos² = 1, so its norm is √(d_model/2) at every position. The embedding matrix is shared with the output projection, and the reference implementation (tensor2tensor) initialises it with standard deviation d_model^(−1/2), so a row's norm starts near 1. Added as is, the token's identity would be a small perturbation of the position signal; the factor √d_model lifts the token rows to norm about √d_model, comparable to the encoding.",
        ]
        if m.positions == .learned {
            answer.append("\(m.architecture == .decoder ? "GPT-2" : "BERT") learns its position table like its token table: both start from the same kind of small random initialisation and are trained together, so neither is fixed at a large size and no factor is needed — training sets their relative scale\(m.architecture == .encoder ? ", and the LayerNorm right after the sum rescales the total anyway" : "")\(m.architecture == .decoder ? " (and GPT-2's first pre-LN block normalises the sum before attention)" : ""). The plot measures what training left: the norms of this model's token rows and position rows, with the sinusoidal encoding at the same width for comparison (computed, not part of this model).")
        }
        guard let e = s.trace.embeddings, e.word.rowCount == s.n, e.position.rowCount == s.n, s.n > 0 else {
            return SectionContent(answer: answer, unavailable: "this run recorded no embedding rows")
        }
        let n = s.n
        let tokenNorms = Analysis.rowNorms(e.word)
        let scaledNorms = tokenNorms.map { $0 * root }
        let posNorms = Analysis.rowNorms(e.position)
        let sinNorms = Analysis.rowNorms(Analysis.sinusoidal(positions: n, dims: d))
        let xs = (0..<n).map(Double.init)
        let learned = m.positions == .learned
        // The original layout itself (Marian, attnviz's encoder–decoders): × √d_model and sinusoidal positions.
        let original = !learned && e.wordScale != 1
        if original {
            answer.append("\(m.name) follows the original layout: its token rows are multiplied by \(Analysis.fixed(Double(e.wordScale))) = √\(d) and the fixed sinusoidal encoding is added (no LayerNorm after the sum). The dashed lines below are therefore exactly what it adds, not a comparison.")
        }
        var series: [LinePlot.Series] = [
            .init(name: "token embedding ‖E[id]‖", x: xs, y: tokenNorms, markers: n <= 64),
            .init(name: "√d_model × token embedding (√\(d) ≈ \(Analysis.fixed(root, 1)))\(original ? ", this model" : "")", x: xs, y: scaledNorms, dashed: true),
        ]
        if learned { series.append(.init(name: "learned position embedding (this model)", x: xs, y: posNorms, markers: n <= 64)) }
        series.append(.init(name: original ? "sinusoidal PE at d = \(d) (this model's)" : "sinusoidal PE at d = \(d) (computed, not this model's)", x: xs, y: sinNorms, dashed: true))
        var plot = LinePlot(title: "Norm per position: token embedding, √d_model × token embedding, positional encoding", series: series,
                            xLabel: "position in this sentence", yLabel: "L2 norm")
        plot.includeZero = true
        if n <= 10 { plot.xTicks = (0..<n).map { (Double($0), s.labels[$0]) } }

        let meanToken = Analysis.mean(tokenNorms), meanPos = Analysis.mean(posNorms)
        var findings: [Finding] = [
            "This sentence's token rows have mean norm \("token_norm_mean", meanToken, "%.2f") (range \("token_norm_min", tokenNorms.min() ?? 0, "%.2f")–\("token_norm_max", tokenNorms.max() ?? 0, "%.2f")); multiplied by √\(d) they \(original ? "are" : "would be") \("scaled_token_norm_mean", meanToken * root, "%.1f") on average.",
            "The sinusoidal encoding at d = \(d) has norm \("sinusoidal_pe_norm", sinNorms.first ?? sinNorm, "%.2f") at every position (√(\(d)/2) = \(String(format: "%.2f", sinNorm))), and a row initialised with variance 1/d_model has norm about 1: without the factor the position signal would be \("init_drowning_ratio", sinNorm, "%.1f") times larger than the token's.",
        ]
        if learned, meanPos > 0 {
            let f: Finding = "Measured here: the learned position rows have mean norm \("position_norm_mean", meanPos, "%.2f"), so the ratio of token-embedding norm to position-embedding norm is \("token_to_position_norm_ratio", meanToken / meanPos, "%.2f") (ratio of the two mean norms over this sentence's positions)"
            findings.append(f.appending(meanToken / meanPos < 4 && meanToken / meanPos > 0.25
                ? ": training left the two tables about \(String(format: "%.1f", max(meanToken / meanPos, meanPos / meanToken)))× apart, with no factor applied — not the \(String(format: "%.1f", sinNorm))-fold gap the factor was meant to close."
                : ": training left one table clearly larger than the other; no factor was applied."))
        }
        var values: [(name: String, value: FindingValue)] = []
        if let r = Self.initializerRange(m.configJSON) {
            findings.append("config.json gives initializer_range = \("initializer_range", r, "%g"); HuggingFace's initialisation draws token and position tables alike from N(0, \(String(format: "%g", r))²), a row norm of about \("init_row_norm", r * root, "%.2f") for either: they start at the same size.")
        }
        values.append(("sqrt_d_model", .number(root)))
        var figures = [
            FigureSpec(file: Figures.file(id, "norms"), figure: plot,
                       caption: original
                           ? "Token rows as \(m.name) stores them (mean \(Analysis.fixed(meanToken))) and, dashed, what it adds: √\(d) × the token row (mean \(Analysis.fixed(meanToken * root))) and its sinusoidal encoding (flat at \(Analysis.fixed(sinNorm))). With the factor the token part is \(Analysis.fixed(meanToken * root / max(sinNorm, 1e-9))) times the position part."
                           : "Token rows (mean \(Analysis.fixed(meanToken))) and \(learned ? "learned position rows (mean \(Analysis.fixed(meanPos)))" : "positions") as \(m.name) adds them; the dashed lines are what the original layout would add: √\(d) × the token row and the sinusoidal encoding (flat at \(Analysis.fixed(sinNorm)); computed at this width, not used by this model)."),
        ]
        if learned {
            // The model's own two parts, on their own scale.
            var zoom = LinePlot(title: "This model's own parts, on their own scale: token vs learned position rows", series: [
                .init(name: "token embedding ‖E[id]‖", x: xs, y: tokenNorms, markers: n <= 64),
                .init(name: "learned position embedding ‖P[i]‖", x: xs, y: posNorms, markers: n <= 64),
                .init(name: "ratio token / position", x: xs, y: zip(tokenNorms, posNorms).map { $1 > 0 ? $0 / $1 : .nan }, dashed: true),
            ], xLabel: "position in this sentence", yLabel: "L2 norm, or ratio")
            zoom.includeZero = true
            zoom.xTicks = plot.xTicks
            figures.append(FigureSpec(file: Figures.file(id, "own-parts"), figure: zoom,
                                      caption: "What \(m.name) actually adds, without any factor: token rows are \(Analysis.fixed(meanPos > 0 ? meanToken / meanPos : 0)) times the position rows on average (dashed: the ratio per position)\(posNorms.count > 1 && (posNorms.first ?? 0) > 2 * Analysis.mean(Array(posNorms.dropFirst())) ? "; position 0's row is an outlier, \(Analysis.fixed(posNorms[0])) against \(Analysis.fixed(Analysis.mean(Array(posNorms.dropFirst())))) for the rest" : "")."))
        }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: figures)],
            findings: findings,
            values: values)
    }
}
