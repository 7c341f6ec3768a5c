import AttnvizRender
import Foundation
let f = Heatmap(title: "t", values: [0.1, 0.9, 0.5, 0.2], rows: 2, cols: 2, rowLabels: ["a", "b"], colLabels: ["a", "b"], xLabel: "x", yLabel: "y", colorbarLabel: "c")
let a = try FigureRenderer.render(f, format: .svg), b = try FigureRenderer.render(f, format: .svg)
try a.write(to: URL(fileURLWithPath: "/tmp/a.svg")); try b.write(to: URL(fileURLWithPath: "/tmp/b.svg"))
