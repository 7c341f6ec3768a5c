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
        var map = Heatmap(title: title, values: x.data, rows: x.shape[0], cols: x.shape[1], rowLabels: labels, colLabels: nil,
                          xLabel: "dimension", yLabel: rowAxis, colorbarLabel: clipped ? "value (clipped at ±\(Chrome.format(range.max)))" : "value",
                          colormap: .blueRed, range: range)
        return map
    }

    static func file(_ section: String, _ name: String) -> String { "\(section)-\(name)" }
}

/// Detail views for long inputs, where a whole [n, n] map can no longer show every token.
extension Figures {
    /// Inputs longer than this get detail views beside their full maps.
    static let detailAbove = 64

    /// The query whose strongest weight on a key at least two tokens away (neither a sink nor
    /// itself) is largest, in one head of a [heads, n, n] tensor: where a band of rows is worth reading.
    static func interestingQuery(_ w: Tensor, head: Int, sinks: [Int]) -> Int {
        let n = w.shape[1], m = w.shape[2], sink = Set(sinks)
        var best = 0, bestWeight = -Float.infinity
        for i in 0..<n {
            let row = (head * n + i) * m
            for j in 0..<m where abs(i - j) >= 2 && !sink.contains(j) {
                let x = w.data[row + j]
                if x.isFinite, x > bestWeight { bestWeight = x; best = i }
            }
        }
        return best
    }

    /// Rows `lo..<hi` of one head's [n, m] weights over every key: the queries get full labels and
    /// 14 px rows, the keys the full map's width per token (labels thinned). `range`: the full map's
    /// colour range, so band and map read the same.
    static func band(_ w: Tensor, head: Int, rows lo: Int, _ hi: Int, labels: [String], title: String, range: ColorRange?) -> Heatmap {
        let n = w.shape[1], m = w.shape[2]
        let lo = max(0, min(lo, n - 1)), hi = max(lo + 1, min(hi, n))
        let values = Array(w.data[((head * n + lo) * m)..<((head * n + hi) * m)])
        var map = Heatmap(title: title, values: values, rows: hi - lo, cols: m,
                          rowLabels: labels.count == n ? (lo..<hi).map { "\($0) \(labels[$0])" } : nil,
                          colLabels: labels.count == m ? labels : nil, xLabel: "key token (attended to)",
                          yLabel: "query token (attending)", colorbarLabel: "attention weight", colormap: .viridis, range: range)
        map.columnWidth = Heatmap.labelledCell(m)
        map.rowHeight = 14
        map.maxCells = max(m, 1)  // every key its own column: this is the detail view
        return map
    }

    /// For each query in `lo..<hi`, its `k` heaviest keys as “position token (weight)”.
    static func topKeys(_ w: Tensor, head: Int, rows lo: Int, _ hi: Int, labels: [String], k: Int = 3) -> [[String]] {
        let n = w.shape[1], m = w.shape[2]
        return (max(0, lo)..<min(hi, n)).map { i in
            let row = (head * n + i) * m
            let top = (0..<m).filter { w.data[row + $0].isFinite }.sorted { w.data[row + $0] > w.data[row + $1] }.prefix(k)
            let name = { (j: Int) in labels.indices.contains(j) ? labels[j] : "" }
            return ["\(i) \(name(i))"] + top.map { "\($0) \(name($0)) (\(String(format: "%.2f", w.data[row + $0])))" }
                + Array(repeating: "", count: max(0, k - top.count))
        }
    }
}
