import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// Figure constructions several sections share.
enum Figures {
    /// One head's weights [n, n] of a [heads, n, n] tensor, with token labels.
    static func head(_ w: Tensor, head: Int, labels: [String], title: String, colorbar: String = "attention weight",
                     maskedBy scores: Tensor? = nil, maskLabel: String = "masked (−∞)") -> Heatmap {
        let n = w.shape[1], m = w.shape[2]
        var values = Array(w.data[(head * n * m)..<((head + 1) * n * m)])  // [n, m]
        // Cells the mask removed (score −∞) are drawn as masked, not as a weight of 0.
        var anyMasked = false
        if let scores, scores.shape == w.shape {
            let base = head * n * m
            for i in values.indices where scores.data[base + i] == -.infinity { values[i] = -.infinity; anyMasked = true }
        }
        var map = Heatmap(title: title, values: values, rows: n, cols: m, rowLabels: labels.count == n ? labels : nil,
                          colLabels: labels.count == m ? labels : nil, xLabel: "key token (attended to)",
                          yLabel: "query token (attending)", colorbarLabel: colorbar, colormap: .viridis,
                          range: colorbar == "attention weight" ? ColorRange(0, Double(max(values.filter(\.isFinite).max() ?? 1, 1e-6))) : nil)
        if anyMasked { map.maskLabel = maskLabel }
        return map
    }

    /// A square matrix of similarities between positions or tokens.
    static func similarity(_ values: [Float], n: Int, labels: [String]?, title: String, axis: String) -> Heatmap {
        Heatmap(title: title, values: values, rows: n, cols: n, rowLabels: labels, colLabels: labels, xLabel: axis, yLabel: axis,
                colorbarLabel: "cosine similarity", colormap: .blueRed, range: ColorRange(-1, 1))
    }

    /// Rows of vectors (tokens or positions × dimensions), signed values; the colour scale spans
    /// the 99th percentile of |value| so outlier dimensions do not flatten the rest.
    static func vectors(_ x: Tensor, labels: [String]?, title: String, rowAxis: String) -> Heatmap {
        let range = ColorRange.robustSymmetric(x.data)
        let clipped = x.data.contains { abs(Double($0)) > range.max * 1.05 }
        return Heatmap(title: title, values: x.data, rows: x.shape[0], cols: x.shape[1], rowLabels: labels, colLabels: nil,
                       xLabel: "dimension", yLabel: rowAxis, colorbarLabel: clipped ? "value (clipped at ±\(Chrome.format(range.max)))" : "value",
                       colormap: .blueRed, range: range)
    }

    static func file(_ section: String, _ name: String) -> String { "\(section)-\(name)" }
}
