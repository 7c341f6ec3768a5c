import Foundation

/// Cartesian axes shared by line plots and bar charts: the plot rectangle, value ranges, ticks,
/// grid lines and axis titles.
public struct Axes: Sendable {
    public var x: ClosedRange<Double>
    public var y: ClosedRange<Double>
    public var xLabel: String
    public var yLabel: String
    /// Custom x ticks (value, label); nil: round numbers.
    public var xTicks: [(Double, String)]?

    public init(x: ClosedRange<Double>, y: ClosedRange<Double>, xLabel: String, yLabel: String, xTicks: [(Double, String)]? = nil) {
        self.x = x.lowerBound < x.upperBound ? x : (x.lowerBound - 0.5)...(x.upperBound + 0.5)
        self.y = y.lowerBound < y.upperBound ? y : (y.lowerBound - 0.5)...(y.upperBound + 0.5)
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
    }

    var yTickValues: [Double] { Chrome.ticks(y.lowerBound, y.upperBound, count: 6) }
    var xTickPairs: [(Double, String)] { xTicks ?? Chrome.ticks(x.lowerBound, x.upperBound, count: 7).map { ($0, Chrome.format($0)) } }

    /// Space left of and below the plot rectangle for ticks and titles.
    public func insets(canvas c: Canvas) throws(RenderError) -> (left: Double, bottom: Double) {
        var w = 0.0
        for v in yTickValues { w = max(w, try c.measure(Chrome.format(v), c.theme.tick).width) }
        let tickH = try c.measure("0", c.theme.tick).height
        let titleH = try c.measure(yLabel, c.theme.axisLabel).height
        return (titleH + c.theme.gap + w + 8, tickH + 6 + c.theme.gap + titleH)
    }

    public func point(_ vx: Double, _ vy: Double, in r: Rect) -> Point {
        Point(r.x + (vx - x.lowerBound) / (x.upperBound - x.lowerBound) * r.width,
              r.maxY - (vy - y.lowerBound) / (y.upperBound - y.lowerBound) * r.height)
    }

    /// Grid, ticks, tick labels and axis titles around `r`.
    public func draw(canvas c: Canvas, plot r: Rect, xTickMarks: Bool = true) throws(RenderError) {
        let t = c.theme
        for v in yTickValues {
            let p = point(x.lowerBound, v, in: r)
            c.line(from: Point(r.x, p.y), to: Point(r.maxX, p.y), t.grid)
            try c.text(Chrome.format(v), at: Point(r.x - 6, p.y), t.tick, h: .right, v: .middle)
        }
        if xTickMarks {
            for (v, label) in xTickPairs where x.contains(v) {
                let p = point(v, y.lowerBound, in: r)
                c.line(from: Point(p.x, r.maxY), to: Point(p.x, r.maxY + 4), t.foreground)
                try c.text(label, at: Point(p.x, r.maxY + 6), t.tick, h: .center)
            }
        }
        c.line(from: Point(r.x, r.maxY), to: Point(r.maxX, r.maxY), t.foreground)
        c.line(from: Point(r.x, r.y), to: Point(r.x, r.maxY), t.foreground)
        let tickH = try c.measure("0", t.tick).height
        try c.text(xLabel, at: Point(r.x + r.width / 2, r.maxY + 6 + tickH + t.gap), t.axisLabel, h: .center, maxWidth: r.width)
        let (left, _) = try insets(canvas: c)
        try c.text(yLabel, at: Point(r.x - left, r.y + r.height / 2), t.axisLabel, h: .center, v: .top,
                   rotation: -Double.pi / 2, maxWidth: r.height)
    }
}

/// A legend of coloured entries, laid out in one row under the title.
public struct Legend: Sendable {
    public var entries: [(label: String, color: RGB, dashed: Bool)]

    public init(entries: [(label: String, color: RGB, dashed: Bool)]) { self.entries = entries }

    public func height(canvas c: Canvas, width: Double) throws(RenderError) -> Double {
        entries.isEmpty ? 0 : Double(try rows(canvas: c, width: width).count) * 20 + 4
    }

    func rows(canvas c: Canvas, width: Double) throws(RenderError) -> [[Int]] {
        var rows: [[Int]] = [[]]
        var x = 0.0
        for (i, e) in entries.enumerated() {
            let w = 30 + (try c.measure(e.label, c.theme.tick).width) + 16
            if x + w > width, !(rows.last ?? []).isEmpty { rows.append([]); x = 0 }
            rows[rows.count - 1].append(i)
            x += w
        }
        return rows
    }

    public func draw(canvas c: Canvas, x: Double, y: Double, width: Double) throws(RenderError) {
        for (r, row) in try rows(canvas: c, width: width).enumerated() {
            var cx = x
            let cy = y + Double(r) * 20 + 9
            for i in row {
                let e = entries[i]
                c.line(from: Point(cx, cy), to: Point(cx + 24, cy), e.color, width: 3, dash: e.dashed ? [5, 3] : [])
                try c.text(e.label, at: Point(cx + 30, cy), c.theme.tick, v: .middle)
                cx += 30 + (try c.measure(e.label, c.theme.tick).width) + 16
            }
        }
    }
}
