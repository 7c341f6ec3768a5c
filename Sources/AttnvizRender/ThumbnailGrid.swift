import Foundation

/// Many small matrices at a glance (layers × heads of attention), one shared colour scale.
public struct ThumbnailGrid: Figure {
    public var title: String
    /// Row-major tiles: tiles[r * columns + c], each [size, size].
    public var tiles: [[Float]]
    public var tileSize: Int
    public var rows: Int
    public var columns: Int
    public var rowTitles: [String]
    public var columnTitles: [String]
    public var colorbarLabel: String
    public var colormap: Colormap = .viridis
    public var range: ColorRange?
    public var xLabel: String
    public var yLabel: String
    /// Edge of one tile in pixels.
    public var tilePixels: Double = 84

    public init(title: String, tiles: [[Float]], tileSize: Int, rows: Int, columns: Int, rowTitles: [String],
                columnTitles: [String], colorbarLabel: String, xLabel: String, yLabel: String) {
        self.title = title; self.tiles = tiles; self.tileSize = tileSize; self.rows = rows; self.columns = columns
        self.rowTitles = rowTitles; self.columnTitles = columnTitles; self.colorbarLabel = colorbarLabel
        self.xLabel = xLabel; self.yLabel = yLabel
    }

    var effectiveRange: ColorRange { range ?? ColorRange.fitting(tiles.flatMap { $0 }, diverging: colormap.diverging) }
    let gap = 6.0

    func layout(_ c: Canvas) throws(RenderError) -> (grid: Rect, rowTitleW: Double, colTitleH: Double, total: Size) {
        guard tiles.count == rows * columns, tiles.allSatisfy({ $0.count == tileSize * tileSize }), tileSize > 0,
              rowTitles.count == rows, columnTitles.count == columns else {
            throw .invalidFigure(figure: title, problem: "need \(rows)×\(columns) tiles of \(tileSize)² values and a title per row and column")
        }
        let t = c.theme
        var rowW = 0.0, colH = 0.0
        for s in rowTitles { rowW = max(rowW, try c.measure(s, t.tick).width) }
        for s in columnTitles { colH = max(colH, try c.measure(s, t.tick).height) }
        let axisH = try c.measure(yLabel, t.axisLabel).height
        let gridW = Double(columns) * tilePixels + Double(columns - 1) * gap
        let gridH = Double(rows) * tilePixels + Double(rows - 1) * gap
        let bar = Chrome.Colorbar(colormap: colormap, range: effectiveRange, label: colorbarLabel)
        let left = t.margin + axisH + t.gap + rowW + t.gap
        let width = left + gridW + 2 * t.gap + (try bar.width(canvas: c)) + t.margin
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: width - 2 * t.margin)
        let top = t.margin + titleH + axisH + t.gap + colH + 4
        return (Rect(left, top, gridW, gridH), rowW, colH, Size(width, top + max(gridH, 120) + t.margin))
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    /// A [size, size] tile shrunk to at most `pixels` per side by keeping the largest value of each
    /// block, so that a thin line of high weight survives (an average would fade it to the
    /// background). Blocks with no finite value stay masked (−∞). Tiles that fit are unchanged.
    public static func pooled(_ v: [Float], size: Int, to pixels: Int) -> (values: [Float], side: Int) {
        guard pixels > 0, size > pixels else { return (v, size) }
        let block = (size + pixels - 1) / pixels, side = (size + block - 1) / block
        var out = [Float](repeating: -.infinity, count: side * side)
        for i in 0..<size {
            for j in 0..<size {
                let x = v[i * size + j], k = (i / block) * side + j / block
                if x.isFinite, !(out[k] >= x) { out[k] = x }
            }
        }
        return (out, side)
    }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: t.margin, maxWidth: l.total.width - 2 * t.margin)
        let range = effectiveRange
        let lut = colormap.table()
        let maskPixel = Colormap.pixel(t.maskFill)
        for r in 0..<rows {
            for col in 0..<columns {
                let (values, side) = Self.pooled(tiles[r * columns + col], size: tileSize, to: Int(tilePixels))
                let pixels = values.map { v -> UInt32 in
                    v.isFinite ? lut[Int((min(1, max(0, range.normalized(Double(v)))) * 255).rounded())] : maskPixel
                }
                let rect = Rect(l.grid.x + Double(col) * (tilePixels + gap), l.grid.y + Double(r) * (tilePixels + gap), tilePixels, tilePixels)
                try c.image(pixels: pixels, width: side, height: side, in: rect)
                // The frame sits outside the image, so the first and last rows and columns stay visible.
                c.stroke(Rect(rect.x - 1, rect.y - 1, rect.width + 2, rect.height + 2), t.grid, width: 0.6)
            }
            let y = l.grid.y + Double(r) * (tilePixels + gap) + tilePixels / 2
            try c.text(rowTitles[r], at: Point(l.grid.x - t.gap, y), t.tick, h: .right, v: .middle)
        }
        for col in 0..<columns {
            let x = l.grid.x + Double(col) * (tilePixels + gap) + tilePixels / 2
            try c.text(columnTitles[col], at: Point(x, l.grid.y - 4), t.tick, h: .center, v: .bottom)
        }
        try c.text(xLabel, at: Point(l.grid.x + l.grid.width / 2, l.grid.y - 4 - l.colTitleH - t.gap), t.axisLabel, h: .center, v: .bottom)
        try c.text(yLabel, at: Point(l.grid.x - l.rowTitleW - 2 * t.gap, l.grid.y + l.grid.height / 2), t.axisLabel, h: .center,
                   v: .bottom, rotation: -Double.pi / 2)
        let bar = Chrome.Colorbar(colormap: colormap, range: range, label: colorbarLabel)
        try bar.draw(canvas: c, x: l.grid.maxX + 2 * t.gap, y: l.grid.y, height: max(l.grid.height, 120))
    }
}
