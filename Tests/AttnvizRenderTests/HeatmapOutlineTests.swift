@testable import AttnvizRender
import Foundation
import Testing

/// Heatmap.outlined (e.g. a gold alignment on attention weights), checked on the pixels without a
/// snapshot: the outlined cell gets a dark frame with a white line inside, other cells none.
@Suite struct HeatmapOutlineTests {
    static func pixel(_ image: PNGCodec.Image, _ x: Double, _ y: Double) -> (Int, Int, Int) {
        let p = 4 * (Int(y) * image.width + Int(x))
        return (Int(image.rgba[p]), Int(image.rgba[p + 1]), Int(image.rgba[p + 2]))
    }

    @Test func outlinedCellsAreFramedAndNamed() throws {
        let rows = 4, cols = 5
        var fig = Heatmap(title: "outline test", values: [Float](repeating: 0.5, count: rows * cols), rows: rows, cols: cols,
                          rowLabels: (0..<rows).map { "r\($0)" }, colLabels: (0..<cols).map { "c\($0)" }, xLabel: "key", yLabel: "query",
                          colorbarLabel: "weight", colormap: .viridis, range: ColorRange(0, 1))
        let plainSize = try fig.size(measuring: try Canvas.measuring(theme: .standard))
        fig.outlined = [(row: 1, col: 2)]
        fig.outlineLabel = "gold cell"
        let layout = try fig.layout(try Canvas.measuring(theme: .standard))
        let image = try PNGCodec.decode(try FigureRenderer.render(fig, format: .png))
        let m = layout.matrix, w = fig.cellSize.w, h = fig.cellSize.h
        let fill = Colormap.viridis.color(0.5)
        let cellColour = (Int((fill.r * 255).rounded()), Int((fill.g * 255).rounded()), Int((fill.b * 255).rounded()))
        func near(_ a: (Int, Int, Int), _ b: (Int, Int, Int), _ tol: Int = 24) -> Bool { abs(a.0 - b.0) <= tol && abs(a.1 - b.1) <= tol && abs(a.2 - b.2) <= tol }
        // The outlined cell: dark on its left edge, white just inside, the map's colour at its centre.
        let x0 = m.x + 2 * w, y0 = m.y + 1 * h
        let edge = Self.pixel(image, x0 + 1, y0 + h / 2)
        let inside = (2...4).map { Self.pixel(image, x0 + Double($0), y0 + h / 2) }
        let centre = Self.pixel(image, x0 + w / 2, y0 + h / 2)
        // Another cell: no frame.
        let otherEdge = Self.pixel(image, m.x + 4 * w + 1, m.y + 3 * h + h / 2)
        print("  outline: edge \(edge), inside \(inside), centre \(centre), other edge \(otherEdge), cell colour \(cellColour)")
        #expect(edge.0 < 60 && edge.1 < 60 && edge.2 < 60)
        #expect(inside.contains { $0.0 > 200 && $0.1 > 200 && $0.2 > 200 })
        #expect(near(centre, cellColour) && near(otherEdge, cellColour))
        // A legend row makes room for the name.
        #expect(layout.total.height >= plainSize.height + 20)
        // A cell outside the matrix is refused.
        fig.outlined = [(row: rows, col: 0)]
        #expect(throws: RenderError.self) { try FigureRenderer.render(fig, format: .png) }
    }
}
