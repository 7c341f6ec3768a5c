import Foundation

/// Parts every figure kind shares: titles, axis labels, tick generation, colorbars and legends.
public enum Chrome {
    /// About `count` round tick values covering [lo, hi].
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(count - 1, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw * 0.7 } ?? 10 * mag
        var out: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi + step * 1e-9 {
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return out
    }

    /// A short label for a tick value.
    public static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 10000 || a < 0.001 { return String(format: "%.1e", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        var s = String(format: a >= 10 ? "%.1f" : (a >= 1 ? "%.2f" : "%.3f"), v)
        while s.contains("."), s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// Height the title takes (with the gap below it).
    public static func titleHeight(_ title: String, canvas: Canvas, maxWidth: Double) throws(RenderError) -> Double {
        try canvas.measure(title, canvas.theme.title, maxWidth: maxWidth, wrap: true).height + canvas.theme.gap
    }

    public static func drawTitle(_ title: String, canvas: Canvas, x: Double, y: Double, maxWidth: Double) throws(RenderError) {
        // Long titles wrap onto more lines (never cut): the figure grows by the extra height.
        try canvas.text(title, at: Point(x, y), canvas.theme.title, maxWidth: maxWidth, wrap: true)
    }

    /// Vertical colorbar: the gradient, ticks with values, and a rotated label on its right.
    public struct Colorbar: Sendable {
        public var colormap: Colormap
        public var range: ColorRange
        public var label: String
        public static let barWidth = 16.0

        public init(colormap: Colormap, range: ColorRange, label: String) {
            self.colormap = colormap
            self.range = range
            self.label = label
        }

        var tickValues: [Double] { Chrome.ticks(range.min, range.max, count: 5) }

        /// Width the colorbar needs, labels included.
        public func width(canvas: Canvas) throws(RenderError) -> Double {
            var widest = 0.0
            for t in tickValues { widest = max(widest, try canvas.measure(Chrome.format(t), canvas.theme.tick).width) }
            let labelHeight = try canvas.measure(label, canvas.theme.axisLabel).height
            return Self.barWidth + 4 + widest + canvas.theme.gap + labelHeight
        }

        public func draw(canvas: Canvas, x: Double, y: Double, height: Double) throws(RenderError) {
            let table = colormap.table()
            // Top = max: one pixel column, 256 rows, flipped.
            try canvas.image(pixels: table.reversed(), width: 1, height: 256, in: Rect(x, y, Self.barWidth, height))
            canvas.stroke(Rect(x, y, Self.barWidth, height), canvas.theme.muted, width: 0.8)
            var widest = 0.0
            for t in tickValues {
                let ty = y + height * (1 - range.normalized(t))
                canvas.line(from: Point(x + Self.barWidth, ty), to: Point(x + Self.barWidth + 4, ty), canvas.theme.foreground)
                let s = Chrome.format(t)
                widest = max(widest, try canvas.measure(s, canvas.theme.tick).width)
                try canvas.text(s, at: Point(x + Self.barWidth + 6, ty), canvas.theme.tick, v: .middle)
            }
            let lx = x + Self.barWidth + 6 + widest + canvas.theme.gap
            try canvas.text(label, at: Point(lx, y + height / 2), canvas.theme.axisLabel, h: .center, v: .top,
                            rotation: -Double.pi / 2, maxWidth: max(height, 40))
        }
    }

    /// A swatch with a label, e.g. the hatch that marks masked cells.
    public static func drawMaskLegend(_ label: String, canvas: Canvas, x: Double, y: Double) throws(RenderError) {
        try canvas.hatch([Rect(x, y, 16, 16)])
        canvas.stroke(Rect(x, y, 16, 16), canvas.theme.muted, width: 0.8)
        try canvas.text(label, at: Point(x + 22, y + 8), canvas.theme.tick, v: .middle)
    }

    public static func maskLegendWidth(_ label: String, canvas: Canvas) throws(RenderError) -> Double {
        22 + (try canvas.measure(label, canvas.theme.tick).width)
    }
}
