import Foundation

/// Horizontal bars on a time axis, one row per lane (e.g. one way of computing the same result):
/// each bar is one call from `start` for `duration` (same unit as the axis), coloured by its
/// series (named in the legend). A note may follow each row's last bar (its total, its calls).
public struct Timeline: Figure {
    public struct Bar: Sendable {
        public var start: Double
        public var duration: Double
        /// Index into `series` (its colour and legend entry).
        public var series: Int

        public init(start: Double, duration: Double, series: Int) {
            self.start = start; self.duration = duration; self.series = series
        }
    }

    public struct Row: Sendable {
        public var name: String
        public var bars: [Bar]
        /// Written right of the row's last bar.
        public var note: String

        public init(name: String, bars: [Bar], note: String = "") {
            self.name = name; self.bars = bars; self.note = note
        }
    }

    public var title: String
    public var rows: [Row]
    public var series: [String]
    public var xLabel: String
    public var yLabel: String
    public var plotWidth = 560.0
    public var rowHeight = 30.0

    public init(title: String, rows: [Row], series: [String], xLabel: String, yLabel: String) {
        self.title = title; self.rows = rows; self.series = series; self.xLabel = xLabel; self.yLabel = yLabel
    }

    var end: Double {
        let ends = rows.flatMap(\.bars).map { $0.start + max(0, $0.duration) }.filter(\.isFinite)
        return max(ends.max() ?? 1, Double.leastNormalMagnitude)
    }

    var legend: Legend {
        Legend(entries: series.enumerated().map { i, s in (s, Theme.standard.series[i % Theme.standard.series.count], false) })
    }

    func layout(_ c: Canvas) throws(RenderError) -> (plot: Rect, legendY: Double, nameW: Double, total: Size) {
        guard !rows.isEmpty, rows.allSatisfy({ $0.bars.allSatisfy { $0.series >= 0 && $0.series < series.count } }) else {
            throw .invalidFigure(figure: title, problem: "a timeline needs rows, and every bar a series with a name")
        }
        let t = c.theme
        var nameW = 0.0, noteW = 0.0
        for r in rows {
            nameW = max(nameW, try c.measure(r.name, t.tick, maxWidth: 220).width)
            noteW = max(noteW, try c.measure(r.note, t.tick, maxWidth: 260).width)
        }
        let yTitleH = try c.measure(yLabel, t.axisLabel).height
        let left = t.margin + yTitleH + t.gap + nameW + 8
        let width = left + plotWidth + (noteW > 0 ? noteW + 8 : 0) + 10 + t.margin
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: width - 2 * t.margin)
        let legendH = try legend.height(canvas: c, width: width - 2 * t.margin)
        let top = t.margin + titleH + legendH + t.gap
        let plotH = Double(rows.count) * rowHeight
        let tickH = try c.measure("0", t.tick).height, axisH = try c.measure(xLabel, t.axisLabel).height
        let plot = Rect(left, top, plotWidth, plotH)
        return (plot, t.margin + titleH, nameW, Size(width, top + plotH + 6 + tickH + t.gap + axisH + t.margin))
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme, p = l.plot
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: t.margin, maxWidth: l.total.width - 2 * t.margin)
        try legend.draw(canvas: c, x: t.margin, y: l.legendY, width: l.total.width - 2 * t.margin)
        let hi = end
        func x(_ v: Double) -> Double { p.x + min(max(v / hi, 0), 1) * p.width }
        for v in Chrome.ticks(0, hi, count: 7) where v <= hi {
            c.line(from: Point(x(v), p.y), to: Point(x(v), p.maxY), t.grid)
            c.line(from: Point(x(v), p.maxY), to: Point(x(v), p.maxY + 4), t.foreground)
            try c.text(Chrome.format(v), at: Point(x(v), p.maxY + 6), t.tick, h: .center)
        }
        c.line(from: Point(p.x, p.maxY), to: Point(p.maxX, p.maxY), t.foreground)
        c.line(from: Point(p.x, p.y), to: Point(p.x, p.maxY), t.foreground)
        for (i, row) in rows.enumerated() {
            let y0 = p.y + Double(i) * rowHeight, barH = rowHeight * 0.6, by = y0 + (rowHeight - barH) / 2
            try c.text(row.name, at: Point(p.x - 8, y0 + rowHeight / 2), t.tick, h: .right, v: .middle, maxWidth: 220)
            var last = p.x
            for b in row.bars where b.start.isFinite && b.duration.isFinite {
                let x0 = x(b.start), x1 = x(b.start + max(0, b.duration))
                let r = Rect(x0, by, max(1, x1 - x0), barH)
                c.fill(r, t.series[b.series % t.series.count])
                // A thin white edge keeps neighbouring calls apart where they are wide enough.
                if x1 - x0 >= 3 { c.line(from: Point(x0, by), to: Point(x0, by + barH), t.background) }
                last = max(last, r.maxX)
            }
            try c.text(row.note, at: Point(last + 6, y0 + rowHeight / 2), t.tick, v: .middle, maxWidth: 260)
        }
        let tickH = try c.measure("0", t.tick).height
        try c.text(xLabel, at: Point(p.x + p.width / 2, p.maxY + 6 + tickH + t.gap), t.axisLabel, h: .center, maxWidth: p.width)
        try c.text(yLabel, at: Point(t.margin, p.y + p.height / 2), t.axisLabel, h: .center, v: .top,
                   rotation: -Double.pi / 2, maxWidth: max(p.height, 40))
    }
}
