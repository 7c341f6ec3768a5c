import Foundation

/// A matrix as coloured cells: the workhorse of the report (attention maps, embeddings, masks).
/// Cells are written into a pixel buffer (one pixel per cell) and scaled with nearest-neighbour
/// filtering; −∞/NaN cells (masked) are hatched and named in a legend.
public struct Heatmap: Figure {
    public var title: String
    public var values: [Float]  // [rows, cols]
    public var rows: Int
    public var cols: Int
    public var rowLabels: [String]?
    public var colLabels: [String]?
    public var xLabel: String
    public var yLabel: String
    public var colorbarLabel: String
    public var colormap: Colormap
    /// nil: fitted to the finite values (symmetric for a diverging map).
    public var range: ColorRange?
    public var maskLabel = "masked (−∞)"
    /// Write the value in each cell when cells are large enough (nil: automatic).
    public var showValues: Bool?
    /// Draw the colorbar (a mask diagram has none: its legend says what the colours mean).
    public var showColorbar = true
    /// A swatch in the legend row for unmasked cells (colour, label), beside the masked one.
    public var cellLegend: (color: RGB, label: String)?
    /// A fixed column width in pixels (e.g. a few wide category columns beside many labelled rows).
    public var columnWidth: Double?
    /// Longest a label may be before it is cut with an ellipsis, in pixels.
    public var maxLabelWidth = 110.0
    /// Cells drawn with a frame (e.g. a task's gold alignment on attention weights): a dark line on
    /// the cell's edge and a white one inside it, visible on every colour of the map; named in the
    /// legend row by `outlineLabel`.
    public var outlined: [(row: Int, col: Int)] = []
    public var outlineLabel = "outlined cell"

    public init(title: String, values: [Float], rows: Int, cols: Int, rowLabels: [String]? = nil, colLabels: [String]? = nil,
                xLabel: String, yLabel: String, colorbarLabel: String, colormap: Colormap = .viridis, range: ColorRange? = nil) {
        self.title = title
        self.values = values
        self.rows = rows
        self.cols = cols
        self.rowLabels = rowLabels
        self.colLabels = colLabels
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.colorbarLabel = colorbarLabel
        self.colormap = colormap
        self.range = range
    }

    var hasLabels: Bool { rowLabels != nil || colLabels != nil }
    var hasMasked: Bool { values.contains { !$0.isFinite } }
    var effectiveRange: ColorRange { range ?? ColorRange.fitting(values, diverging: colormap.diverging) }

    /// Cell size in pixels. Square matrices (and matrices labelled on both axes) get square
    /// cells; otherwise each axis is sized on its own, so a 57 × 384 embedding table is a readable
    /// block rather than a 2-pixel strip. A labelled axis keeps rows tall enough for its labels:
    /// up to 100 tokens at least 14 px; longer inputs shrink (about 1400 px in all) and label
    /// every `labelStride`-th token.
    static func labelledCell(_ n: Int) -> Double {
        let n = Double(n)
        return n <= 100 ? max(14, min(44, (640 / n).rounded(.down))) : max(6, (1400 / n).rounded(.down))
    }

    var cellSize: (w: Double, h: Double) {
        let natural = naturalCellSize
        return (columnWidth ?? natural.w, natural.h)
    }

    var naturalCellSize: (w: Double, h: Double) {
        if rows == cols || (rowLabels != nil && colLabels != nil) {
            let n = max(rows, cols)
            let c = hasLabels ? Self.labelledCell(n) : max(1, min(44, (768 / Double(n)).rounded(.down)))
            return (c, c)
        }
        let w = colLabels != nil ? Self.labelledCell(cols) : max(1, min(44, (768 / Double(cols)).rounded(.down)))
        let h = rowLabels != nil ? Self.labelledCell(rows) : max(1, min(44, (400 / Double(rows)).rounded(.down)))
        return (w, h)
    }

    /// The smaller edge, which bounds label and value text.
    var cell: Double { min(cellSize.w, cellSize.h) }

    func stride(_ edge: Double) -> Int { edge >= 10 ? 1 : Int((11 / edge).rounded(.up)) }

    var labelStyle: TextStyle { TextStyle(size: min(13, max(8, labelledEdge * 0.75)), color: RGB(hex: 0x333333)) }
    /// Edge of the labelled axis (rows if labelled, else columns).
    var labelledEdge: Double { rowLabels != nil ? cellSize.h : (colLabels != nil ? cellSize.w : cell) }
    var writesValues: Bool { showValues ?? (cell >= 34 && max(rows, cols) <= 14) }

    struct Layout {
        var matrix: Rect
        /// Column labels stay horizontal when every one fits its cell (e.g. Chinese characters).
        var rotateColumnLabels: Bool
        var rowLabelWidth: Double
        var colLabelHeight: Double
        var colorbar: Chrome.Colorbar
        var titleY: Double
        var total: Size
    }

    func layout(_ c: Canvas) throws(RenderError) -> Layout {
        guard rows > 0, cols > 0, values.count == rows * cols else {
            throw .invalidFigure(figure: title, problem: "\(values.count) values for a \(rows)x\(cols) matrix")
        }
        if let r = rowLabels, r.count != rows { throw .invalidFigure(figure: title, problem: "\(r.count) row labels for \(rows) rows") }
        if let l = colLabels, l.count != cols { throw .invalidFigure(figure: title, problem: "\(l.count) column labels for \(cols) columns") }
        if let bad = outlined.first(where: { !(0..<rows).contains($0.row) || !(0..<cols).contains($0.col) }) {
            throw .invalidFigure(figure: title, problem: "outlined cell (\(bad.row), \(bad.col)) outside the \(rows)x\(cols) matrix")
        }
        let t = c.theme
        var rowW = 0.0, colH = 0.0
        for s in rowLabels ?? [] { rowW = max(rowW, try c.measure(s, labelStyle, maxWidth: maxLabelWidth).width) }
        var colLabelHeight = 0.0
        for s in colLabels ?? [] {
            let size = try c.measure(s, labelStyle, maxWidth: maxLabelWidth)
            colH = max(colH, size.width)
            colLabelHeight = max(colLabelHeight, size.height)
        }
        let rotate = colH > cellSize.w - 2
        if !rotate { colH = colLabelHeight }
        // Unlabelled axes get position numbers instead.
        if rowLabels == nil { rowW = try c.measure(String(rows - 1), t.tick).width + 4 }
        if colLabels == nil { colH = try c.measure("0", t.tick).height + 2 }
        let axisH = try c.measure(xLabel, t.axisLabel).height
        let matrixW = cellSize.w * Double(cols), matrixH = cellSize.h * Double(rows)
        let bar = Chrome.Colorbar(colormap: colormap, range: effectiveRange, label: colorbarLabel)
        let rightW = showColorbar ? try bar.width(canvas: c) + 2 * t.gap : t.gap
        let left = t.margin + axisH + t.gap + rowW + t.gap
        // The legend row above the matrix must fit too.
        var legendW = hasMasked ? try Chrome.maskLegendWidth(maskLabel, canvas: c) : 0
        if let cellLegend { legendW += 42 + (try c.measure(cellLegend.label, t.tick).width) }
        if !outlined.isEmpty { legendW += 42 + (try c.measure(outlineLabel, t.tick).width) }
        let width = max(left + matrixW + 2 * t.gap + rightW + t.margin, left + legendW + t.margin)
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: max(width - 2 * t.margin, 200))
        let top = t.margin + titleH + (hasMasked || cellLegend != nil || !outlined.isEmpty ? 26 : 0)
        let bottom = colH + t.gap + t.gap + axisH + t.margin
        let height = top + max(matrixH, 120) + bottom
        return Layout(matrix: Rect(left, top, matrixW, matrixH), rotateColumnLabels: rotate, rowLabelWidth: rowW, colLabelHeight: colH,
                      colorbar: bar, titleY: t.margin, total: Size(max(width, titleH > 0 ? 260 : 0), height))
    }

    /// An outlined cell's frame: dark on the edge, white just inside (thinner for small cells).
    static func frame(_ r: Rect, on c: Canvas) {
        let edge = min(r.width, r.height)
        let outer = edge >= 10 ? 2.0 : 1.0
        c.stroke(Rect(r.x + outer / 2, r.y + outer / 2, r.width - outer, r.height - outer), .black, width: outer)
        guard edge >= 10 else { return }
        c.stroke(Rect(r.x + outer + 0.75, r.y + outer + 0.75, r.width - 2 * outer - 1.5, r.height - 2 * outer - 1.5), .white, width: 1.5)
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme
        let m = l.matrix
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: l.titleY, maxWidth: l.total.width - 2 * t.margin)

        // Cells: one pixel each, scaled up without smoothing.
        let range = l.colorbar.range
        let lut = colormap.table()
        let maskPixel = Colormap.pixel(t.maskFill)
        var pixels = [UInt32](repeating: 0, count: rows * cols)
        for i in 0..<(rows * cols) {
            let v = values[i]
            if !v.isFinite { pixels[i] = maskPixel; continue }
            let x = range.normalized(Double(v))
            pixels[i] = lut[Int((min(1, max(0, x)) * 255).rounded())]
        }
        try c.image(pixels: pixels, width: cols, height: rows, in: m)

        // Masked cells: hatched, one rectangle per run of masked cells in a row.
        if hasMasked {
            var runs: [Rect] = []
            for r in 0..<rows {
                var j = 0
                while j < cols {
                    if values[r * cols + j].isFinite { j += 1; continue }
                    let start = j
                    while j < cols, !values[r * cols + j].isFinite { j += 1 }
                    runs.append(Rect(m.x + Double(start) * cellSize.w, m.y + Double(r) * cellSize.h, Double(j - start) * cellSize.w, cellSize.h))
                }
            }
            try c.hatch(runs)
        }
        var legendX = m.x
        if let cellLegend {
            c.fill(Rect(legendX, m.y - 24, 16, 16), cellLegend.color)
            try c.text(cellLegend.label, at: Point(legendX + 22, m.y - 16), t.tick, v: .middle)
            legendX += 22 + (try c.measure(cellLegend.label, t.tick).width) + 20
        }
        if hasMasked {
            try Chrome.drawMaskLegend(maskLabel, canvas: c, x: legendX, y: m.y - 24)
            legendX += try Chrome.maskLegendWidth(maskLabel, canvas: c) + 20
        }
        c.stroke(m, t.muted, width: 0.8)
        if !outlined.isEmpty {
            let w = cellSize.w, h = cellSize.h
            for cell in outlined { Self.frame(Rect(m.x + Double(cell.col) * w, m.y + Double(cell.row) * h, w, h), on: c) }
            c.fill(Rect(legendX, m.y - 24, 16, 16), t.maskFill)
            Self.frame(Rect(legendX, m.y - 24, 16, 16), on: c)
            try c.text(outlineLabel, at: Point(legendX + 22, m.y - 16), t.tick, v: .middle)
        }

        if writesValues {
            let style = TextStyle(size: min(12, cell * 0.32))
            for r in 0..<rows {
                for j in 0..<cols {
                    let v = values[r * cols + j]
                    guard v.isFinite else { continue }
                    let bg = colormap.color(range.normalized(Double(v)))
                    var s = style
                    s.color = bg.luminance < 0.45 ? .white : .black
                    try c.text(String(format: "%.2f", v), at: Point(m.x + (Double(j) + 0.5) * cellSize.w, m.y + (Double(r) + 0.5) * cellSize.h),
                               s, h: .center, v: .middle)
                }
            }
        }

        // Token labels: rows on the left, columns below, rotated to read bottom to top.
        if let rowLabels {
            for (r, s) in rowLabels.enumerated() where r % stride(cellSize.h) == 0 {
                try c.text(s, at: Point(m.x - t.gap, m.y + (Double(r) + 0.5) * cellSize.h), labelStyle, h: .right, v: .middle,
                           maxWidth: maxLabelWidth)
            }
        }
        if let colLabels {
            for (j, s) in colLabels.enumerated() where j % stride(cellSize.w) == 0 {
                let at = Point(m.x + (Double(j) + 0.5) * cellSize.w, m.maxY + t.gap)
                if l.rotateColumnLabels {
                    try c.text(s, at: at, labelStyle, h: .right, v: .middle, rotation: -Double.pi / 2, maxWidth: maxLabelWidth)
                } else {
                    try c.text(s, at: at, labelStyle, h: .center, v: .top)
                }
            }
        }
        if rowLabels == nil {
            for v in Chrome.ticks(0, Double(rows - 1), count: 6) where v == v.rounded() {
                let y = m.y + (v + 0.5) * cellSize.h
                c.line(from: Point(m.x - 3, y), to: Point(m.x, y), t.foreground)
                try c.text(String(Int(v)), at: Point(m.x - 5, y), t.tick, h: .right, v: .middle)
            }
        }
        if colLabels == nil {
            for v in Chrome.ticks(0, Double(cols - 1), count: 6) where v == v.rounded() {
                let x = m.x + (v + 0.5) * cellSize.w
                c.line(from: Point(x, m.maxY), to: Point(x, m.maxY + 3), t.foreground)
                try c.text(String(Int(v)), at: Point(x, m.maxY + 4), t.tick, h: .center)
            }
        }
        // Axis titles.
        let xy = m.maxY + l.colLabelHeight + t.gap + t.gap
        try c.text(xLabel, at: Point(m.x + m.width / 2, xy), t.axisLabel, h: .center, maxWidth: max(m.width, 200))
        let yx = m.x - l.rowLabelWidth - t.gap - t.gap
        try c.text(yLabel, at: Point(yx, m.y + m.height / 2), t.axisLabel, h: .center, v: .bottom, rotation: -Double.pi / 2,
                   maxWidth: max(m.height, 200))
        if showColorbar { try l.colorbar.draw(canvas: c, x: m.maxX + 2 * t.gap, y: m.y, height: max(m.height, 120)) }
    }
}
