import Foundation

/// Lines over a shared x axis (curves of positional encodings, statistics per layer, …).
public struct LinePlot: Figure {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var dashed: Bool
        public var markers: Bool
        public init(name: String, x: [Double], y: [Double], dashed: Bool = false, markers: Bool = false) {
            self.name = name; self.x = x; self.y = y; self.dashed = dashed; self.markers = markers
        }
    }

    public var title: String
    public var series: [Series]
    public var xLabel: String
    public var yLabel: String
    public var xTicks: [(Double, String)]?
    public var width: Double = 640
    public var plotHeight: Double = 300
    /// Include zero on the y axis.
    public var includeZero = false

    public init(title: String, series: [Series], xLabel: String, yLabel: String, xTicks: [(Double, String)]? = nil) {
        self.title = title; self.series = series; self.xLabel = xLabel; self.yLabel = yLabel; self.xTicks = xTicks
    }

    var axes: Axes {
        let xs = series.flatMap(\.x).filter(\.isFinite), ys = series.flatMap(\.y).filter(\.isFinite)
        var lo = ys.min() ?? 0, hi = ys.max() ?? 1
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        let pad = (hi - lo) * 0.05
        return Axes(x: (xs.min() ?? 0)...(xs.max() ?? 1), y: (lo - pad)...(hi + pad), xLabel: xLabel, yLabel: yLabel, xTicks: xTicks)
    }

    var legend: Legend {
        Legend(entries: series.enumerated().map { i, s in (s.name, Theme.standard.series[i % Theme.standard.series.count], s.dashed) })
    }

    func layout(_ c: Canvas) throws(RenderError) -> (plot: Rect, legendY: Double, total: Size) {
        guard !series.isEmpty, series.allSatisfy({ $0.x.count == $0.y.count }) else {
            throw .invalidFigure(figure: title, problem: "series need equal x and y counts")
        }
        let t = c.theme
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: width - 2 * t.margin)
        let legendH = try legend.height(canvas: c, width: width - 2 * t.margin)
        let (left, bottom) = try axes.insets(canvas: c)
        let top = t.margin + titleH + legendH + t.gap
        let plot = Rect(t.margin + left, top, width - 2 * t.margin - left - 10, plotHeight)
        return (plot, t.margin + titleH, Size(width, top + plotHeight + bottom + t.margin))
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: t.margin, maxWidth: width - 2 * t.margin)
        try legend.draw(canvas: c, x: t.margin, y: l.legendY, width: width - 2 * t.margin)
        let ax = axes
        try ax.draw(canvas: c, plot: l.plot)
        for (i, s) in series.enumerated() {
            let color = t.series[i % t.series.count]
            let pts = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { ax.point($0.0, $0.1, in: l.plot) }
            c.polyline(pts, color, width: 2, dash: s.dashed ? [6, 4] : [])
            if s.markers { for p in pts { c.circle(p, radius: 3, color) } }
        }
    }
}
