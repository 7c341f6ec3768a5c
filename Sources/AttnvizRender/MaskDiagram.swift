/// Which key each query may attend to: allowed cells filled, blocked cells hatched (−∞ added to
/// their scores). Padding masks block columns; a causal mask blocks the upper triangle.
public struct MaskDiagram: Figure {
    public var title: String
    public var allowed: [Bool]  // [rows, cols]
    public var rows: Int
    public var cols: Int
    public var rowLabels: [String]?
    public var colLabels: [String]?
    public var xLabel = "key token"
    public var yLabel = "query token"

    public init(title: String, allowed: [Bool], rows: Int, cols: Int, rowLabels: [String]?, colLabels: [String]?) {
        self.title = title; self.allowed = allowed; self.rows = rows; self.cols = cols
        self.rowLabels = rowLabels; self.colLabels = colLabels
    }

    static let allowedColor = RGB(hex: 0x0072B2)

    var heatmap: Heatmap {
        let blue = Colormap(name: "mask", stops: [Self.allowedColor, Self.allowedColor], diverging: false)
        var h = Heatmap(title: title, values: allowed.map { $0 ? 1 : -.infinity }, rows: rows, cols: cols,
                        rowLabels: rowLabels, colLabels: colLabels, xLabel: xLabel, yLabel: yLabel,
                        colorbarLabel: "", colormap: blue, range: ColorRange(0, 1))
        h.showColorbar = false
        h.showValues = false
        h.maskLabel = "blocked: −∞ added to the score"
        h.cellLegend = (Self.allowedColor, "allowed: 0 added")
        return h
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try heatmap.size(measuring: canvas) }
    public func draw(on canvas: Canvas) throws(RenderError) { try heatmap.draw(on: canvas) }
}
