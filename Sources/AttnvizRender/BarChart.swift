import Foundation

/// Grouped vertical bars: one group per category, one bar per series.
public struct BarChart: Figure {
    public var title: String
    public var categories: [String]
    public var series: [(name: String, values: [Double])]
    public var xLabel: String
    public var yLabel: String
    public var plotHeight: Double = 260
    /// Write each bar's value above it.
    public var showValues = false

    public init(title: String, categories: [String], series: [(name: String, values: [Double])], xLabel: String, yLabel: String) {
        self.title = title; self.categories = categories; self.series = series; self.xLabel = xLabel; self.yLabel = yLabel
    }

    var group: Double { max(22, Double(series.count) * 14 + 10) }

    var axes: Axes {
        let values = series.flatMap(\.values).filter(\.isFinite)
        let lo = min(0, values.min() ?? 0), hi = max(0, values.max() ?? 1)
        return Axes(x: 0...Double(max(categories.count, 1)), y: lo...(hi + (hi - lo) * 0.08), xLabel: xLabel, yLabel: yLabel)
    }

    var legend: Legend {
        Legend(entries: series.count < 2 ? [] : series.enumerated().map { i, s in (s.name, Theme.standard.series[i % 8], false) })
    }

    func layout(_ c: Canvas) throws(RenderError) -> (plot: Rect, legendY: Double, labelH: Double, rotate: Bool, total: Size) {
        guard !categories.isEmpty, series.allSatisfy({ $0.values.count == categories.count }) else {
            throw .invalidFigure(figure: title, problem: "every series needs one value per category")
        }
        let t = c.theme
        var labelW = 0.0, labelH = 0.0
        for s in categories {
            let m = try c.measure(s, t.tick, maxWidth: 120)
            labelW = max(labelW, m.width); labelH = max(labelH, m.height)
        }
        let rotate = labelW > group - 4
        let plotW = max(320, group * Double(categories.count))
        let (left, bottom) = try axes.insets(canvas: c)
        let width = t.margin + left + plotW + 10 + t.margin
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: max(width, 400) - 2 * t.margin)
        let legendH = try legend.height(canvas: c, width: max(width, 400) - 2 * t.margin)
        let top = t.margin + titleH + legendH + t.gap
        let extra = (rotate ? labelW : labelH) + 6 - (try c.measure("0", t.tick).height)
        let plot = Rect(t.margin + left, top, plotW, plotHeight)
        return (plot, t.margin + titleH, labelH, rotate, Size(max(width, 400), top + plotHeight + bottom + max(0, extra) + t.margin))
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: t.margin, maxWidth: l.total.width - 2 * t.margin)
        try legend.draw(canvas: c, x: t.margin, y: l.legendY, width: l.total.width - 2 * t.margin)
        let ax = axes
        if l.rotate {
            // Axis title goes below the rotated labels.
            var w = 0.0
            for s in categories { w = max(w, try c.measure(s, t.tick, maxWidth: 120).width) }
            try Axes(x: ax.x, y: ax.y, xLabel: "", yLabel: ax.yLabel).draw(canvas: c, plot: l.plot, xTickMarks: false)
            try c.text(ax.xLabel, at: Point(l.plot.x + l.plot.width / 2, l.plot.maxY + 8 + w + t.gap), t.axisLabel, h: .center)
        } else {
            try Axes(x: ax.x, y: ax.y, xLabel: ax.xLabel, yLabel: ax.yLabel, xTicks: []).draw(canvas: c, plot: l.plot, xTickMarks: false)
        }
        let slot = l.plot.width / Double(categories.count)
        let barW = min(14, (slot - 8) / Double(series.count))
        let zero = ax.point(0, 0, in: l.plot).y
        for (ci, label) in categories.enumerated() {
            let x0 = l.plot.x + Double(ci) * slot + (slot - barW * Double(series.count)) / 2
            for (si, s) in series.enumerated() {
                let v = s.values[ci]
                guard v.isFinite else { continue }
                let top = ax.point(0, v, in: l.plot).y
                c.fill(Rect(x0 + Double(si) * barW, min(top, zero), barW - 1, abs(zero - top)), t.series[si % t.series.count])
                if showValues {
                    try c.text(Chrome.format(v), at: Point(x0 + (Double(si) + 0.5) * barW, min(top, zero) - 2), t.tick, h: .center, v: .bottom)
                }
            }
            let cx = l.plot.x + (Double(ci) + 0.5) * slot
            if l.rotate {
                try c.text(label, at: Point(cx, l.plot.maxY + 6), t.tick, h: .right, v: .middle, rotation: -Double.pi / 2, maxWidth: 120)
            } else {
                try c.text(label, at: Point(cx, l.plot.maxY + 6), t.tick, h: .center)
            }
        }
    }
}
