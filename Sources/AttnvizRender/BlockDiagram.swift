import Foundation

/// Boxes joined by arrows, bottom to top like the Transformer paper's figure, with a bracket
/// marking the block that repeats (“× 6 layers”) and a residual arrow around each sub-layer.
public struct BlockDiagram: Figure {
    public struct Box: Sendable {
        public var title: String
        public var detail: String
        public var color: RGB
        /// A residual connection goes around this box into the next one (an “add & norm”).
        public var residualAround: Bool
        /// How many boxes the residual skips: 1 = into the next box; 2 = around this box and the
        /// next (pre-LN: around LayerNorm and the sub-layer, into the add).
        public var residualSkip: Int
        public init(title: String, detail: String, color: RGB, residualAround: Bool = false, residualSkip: Int = 1) {
            self.title = title; self.detail = detail; self.color = color; self.residualAround = residualAround
            self.residualSkip = max(1, residualSkip)
        }
    }

    public var title: String
    /// Bottom to top.
    public var boxes: [Box]
    /// Indices of the repeated block and its label.
    public var repeated: ClosedRange<Int>?
    public var repeatLabel: String
    public var boxWidth = 340.0

    public init(title: String, boxes: [Box], repeated: ClosedRange<Int>?, repeatLabel: String) {
        self.title = title; self.boxes = boxes; self.repeated = repeated; self.repeatLabel = repeatLabel
    }

    let boxHeight = 46.0, spacing = 26.0

    func layout(_ c: Canvas) throws(RenderError) -> (x: Double, top: Double, total: Size) {
        guard !boxes.isEmpty else { throw .invalidFigure(figure: title, problem: "no boxes") }
        if let r = repeated, r.upperBound >= boxes.count { throw .invalidFigure(figure: title, problem: "repeat range outside the boxes") }
        if let i = boxes.indices.first(where: { boxes[$0].residualAround && $0 + boxes[$0].residualSkip >= boxes.count }) {
            throw .invalidFigure(figure: title, problem: "the residual around box \(i) ends past the last box")
        }
        let t = c.theme
        let labelW = repeated == nil ? 0 : (try c.measure(repeatLabel, t.axisLabel).width) + 40
        // Wide enough for the boxes and their repeat label, and for the title on one line.
        let titleW = try c.measure(title, t.title).width
        let width = min(max(t.margin * 2 + 40 + boxWidth + 70 + labelW, 420, titleW + 2 * t.margin + 8), 900)
        let titleH = try Chrome.titleHeight(title, canvas: c, maxWidth: width - 2 * t.margin)
        let top = t.margin + titleH + 14
        let height = top + Double(boxes.count) * (boxHeight + spacing) + t.margin
        return (t.margin + 40, top, Size(width, height))
    }

    public func size(measuring canvas: Canvas) throws(RenderError) -> Size { try layout(canvas).total }

    public func draw(on c: Canvas) throws(RenderError) {
        let l = try layout(c)
        let t = c.theme
        try Chrome.drawTitle(title, canvas: c, x: t.margin, y: t.margin, maxWidth: l.total.width - 2 * t.margin)
        func rect(_ i: Int) -> Rect {
            // Box 0 at the bottom.
            let y = l.top + Double(boxes.count - 1 - i) * (boxHeight + spacing)
            return Rect(l.x, y, boxWidth, boxHeight)
        }
        if let r = repeated {
            let topR = rect(r.upperBound), botR = rect(r.lowerBound)
            // The frame encloses the residual lanes and their branch points below the first box.
            let frame = Rect(l.x - 22, topR.y - 10, boxWidth + 22 + 52, botR.maxY + spacing / 2 + 7 - (topR.y - 10))
            c.fill(frame, RGB(hex: 0xF3F3F3))
            c.stroke(frame, t.muted, width: 1)
            try c.text(repeatLabel, at: Point(frame.maxX + 10, frame.y + frame.height / 2), t.axisLabel, v: .middle)
        }
        for (i, b) in boxes.enumerated() {
            let r = rect(i)
            if i + 1 < boxes.count {
                let next = rect(i + 1)
                arrow(c, from: Point(r.x + r.width / 2, r.y), to: Point(r.x + r.width / 2, next.maxY))
            }
            if b.residualAround {
                // Around the box (and the ones it skips): from just below it to the side of the
                // box it joins.
                // A lane of its own inside the frame, a dot where it leaves the main path, and an
                // arrowhead where it enters the box it is added in.
                let next = rect(i + b.residualSkip)
                let xr = r.maxX + 22, yBranch = r.maxY + spacing / 2, yJoin = next.y + next.height / 2
                c.polyline([Point(r.x + r.width / 2, yBranch), Point(xr, yBranch), Point(xr, yJoin), Point(next.maxX + 1, yJoin)],
                           t.residual, width: 1.6)
                c.polyline([Point(next.maxX + 8, yJoin - 5), Point(next.maxX + 1, yJoin), Point(next.maxX + 8, yJoin + 5)], t.residual, width: 1.6)
                c.circle(Point(r.x + r.width / 2, yBranch), radius: 3, t.residual)
            }
            c.fill(r, b.color)
            c.stroke(r, t.foreground, width: 1)
            try c.text(b.title, at: Point(r.x + r.width / 2, r.y + 6), TextStyle(size: 13, bold: true), h: .center, maxWidth: r.width - 10)
            try c.text(b.detail, at: Point(r.x + r.width / 2, r.y + 25), t.tick, h: .center, maxWidth: r.width - 10)
        }
    }

    func arrow(_ c: Canvas, from a: Point, to b: Point) {
        c.line(from: a, to: b, c.theme.foreground, width: 1.4)
        let dir = b.y < a.y ? 1.0 : -1.0
        c.polyline([Point(b.x - 5, b.y + 7 * dir), b, Point(b.x + 5, b.y + 7 * dir)], c.theme.foreground, width: 1.4)
    }
}
