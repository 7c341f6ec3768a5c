import CCairo
import Foundation

public struct Point: Sendable, Equatable { public var x, y: Double; public init(_ x: Double, _ y: Double) { self.x = x; self.y = y } }
public struct Size: Sendable, Equatable { public var width, height: Double; public init(_ w: Double, _ h: Double) { width = w; height = h } }
public struct Rect: Sendable, Equatable {
    public var x, y, width, height: Double
    public init(_ x: Double, _ y: Double, _ w: Double, _ h: Double) { self.x = x; self.y = y; width = w; height = h }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
}

public struct RGB: Sendable, Equatable {
    public var r, g, b: Double
    public init(_ r: Double, _ g: Double, _ b: Double) { self.r = r; self.g = g; self.b = b }
    public init(hex: UInt32) {
        r = Double((hex >> 16) & 0xff) / 255; g = Double((hex >> 8) & 0xff) / 255; b = Double(hex & 0xff) / 255
    }
    /// Relative luminance, to choose black or white text on a cell.
    public var luminance: Double { 0.2126 * r + 0.7152 * g + 0.0722 * b }
    public static let white = RGB(1, 1, 1), black = RGB(0, 0, 0)
}

public enum HAlign: Sendable { case left, center, right }
public enum VAlign: Sendable { case top, middle, bottom }

/// A text style: size in pixels, weight, colour.
public struct TextStyle: Sendable {
    public var size: Double
    public var bold = false
    public var color = RGB(hex: 0x222222)
    public init(size: Double, bold: Bool = false, color: RGB = RGB(hex: 0x222222)) { self.size = size; self.bold = bold; self.color = color }
}

/// The one drawing API: the same calls draw into a PNG, SVG or PDF surface. Text goes through
/// PangoCairo, so Chinese, accents and emoji are drawn with real glyphs from fallback fonts.
public final class Canvas {
    let surface: CairoSurface
    let cr: CairoContext
    let theme: Theme
    public let size: Size
    /// Glyphs Pango could not find in any font, summed over all text drawn or measured.
    public private(set) var unknownGlyphs = 0
    private var fonts: [String: PangoFont] = [:]
    private let layout: PangoLayout

    init(surface: CairoSurface, size: Size, theme: Theme) throws(RenderError) {
        self.surface = surface
        self.size = size
        self.theme = theme
        cr = try CairoContext(surface: surface)
        layout = try PangoLayout(context: cr)
        // Grey antialiasing, no hinting: the same pixels on every machine with the same fonts.
        if let options = cairo_font_options_create() {
            cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
            cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
            cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
            pango_cairo_context_set_font_options(pango_layout_get_context(layout.raw), options)
            cairo_font_options_destroy(options)
        }
        pango_layout_context_changed(layout.raw)
    }

    /// A throwaway canvas for measuring text before a figure knows its size.
    static func measuring(theme: Theme) throws(RenderError) -> Canvas {
        try Canvas(surface: try CairoSurface.image(width: 1, height: 1), size: Size(1, 1), theme: theme)
    }

    /// Checks the context and surface once after a batch of drawing.
    func check(_ context: String) throws(RenderError) {
        try cr.check(context)
        try surface.check(context)
    }

    // MARK: Shapes

    public func fill(_ rect: Rect, _ color: RGB, alpha: Double = 1) {
        cairo_set_source_rgba(cr.raw, color.r, color.g, color.b, alpha)
        cairo_rectangle(cr.raw, rect.x, rect.y, rect.width, rect.height)
        cairo_fill(cr.raw)
    }

    public func stroke(_ rect: Rect, _ color: RGB, width: Double = 1) {
        cairo_set_source_rgb(cr.raw, color.r, color.g, color.b)
        cairo_set_line_width(cr.raw, width)
        cairo_rectangle(cr.raw, rect.x, rect.y, rect.width, rect.height)
        cairo_stroke(cr.raw)
    }

    public func line(from a: Point, to b: Point, _ color: RGB, width: Double = 1, dash: [Double] = []) {
        polyline([a, b], color, width: width, dash: dash)
    }

    public func polyline(_ points: [Point], _ color: RGB, width: Double = 1.5, dash: [Double] = []) {
        guard let first = points.first else { return }
        cairo_set_source_rgb(cr.raw, color.r, color.g, color.b)
        cairo_set_line_width(cr.raw, width)
        cairo_set_line_join(cr.raw, CAIRO_LINE_JOIN_ROUND)
        dash.withUnsafeBufferPointer { cairo_set_dash(cr.raw, $0.baseAddress, Int32(dash.count), 0) }
        cairo_move_to(cr.raw, first.x, first.y)
        for p in points.dropFirst() { cairo_line_to(cr.raw, p.x, p.y) }
        cairo_stroke(cr.raw)
        cairo_set_dash(cr.raw, nil, 0, 0)
    }

    public func circle(_ center: Point, radius: Double, _ color: RGB) {
        cairo_set_source_rgb(cr.raw, color.r, color.g, color.b)
        cairo_arc(cr.raw, center.x, center.y, radius, 0, 2 * Double.pi)
        cairo_fill(cr.raw)
    }

    /// Fills rectangles with the theme's hatch for masked / excluded cells (grey, diagonal lines).
    public func hatch(_ rects: [Rect]) throws(RenderError) {
        guard !rects.isEmpty else { return }
        let tile = try CairoSurface.image(width: 8, height: 8)
        let t = try CairoContext(surface: tile)
        let base = theme.maskFill, lines = theme.maskLine
        cairo_set_source_rgb(t.raw, base.r, base.g, base.b)
        cairo_paint(t.raw)
        cairo_set_source_rgb(t.raw, lines.r, lines.g, lines.b)
        cairo_set_line_width(t.raw, 1.5)
        cairo_move_to(t.raw, -2, 10); cairo_line_to(t.raw, 10, -2)
        cairo_move_to(t.raw, -2, 2); cairo_line_to(t.raw, 2, -2)
        cairo_move_to(t.raw, 6, 10); cairo_line_to(t.raw, 10, 6)
        cairo_stroke(t.raw)
        try t.check("hatch tile")
        cairo_surface_flush(tile.raw)
        guard let pattern = cairo_pattern_create_for_surface(tile.raw) else { throw .cairo(context: "hatch pattern", status: "no pattern") }
        defer { cairo_pattern_destroy(pattern) }
        cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT)
        cairo_set_source(cr.raw, pattern)
        for r in rects { cairo_rectangle(cr.raw, r.x, r.y, r.width, r.height) }
        cairo_fill(cr.raw)
    }

    /// Draws a pixel buffer (one pixel per matrix cell, 0xAARRGGBB premultiplied) into `rect`,
    /// scaled with nearest-neighbour filtering so cells stay crisp.
    public func image(pixels: [UInt32], width: Int, height: Int, in rect: Rect, clip: Rect? = nil) throws(RenderError) {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw .invalidFigure(figure: "image", problem: "\(pixels.count) pixels for \(width)x\(height)")
        }
        let img = try CairoSurface.image(width: width, height: height)
        cairo_surface_flush(img.raw)
        guard let data = cairo_image_surface_get_data(img.raw) else { throw .cairo(context: "image data", status: "no data") }
        let stride = Int(cairo_image_surface_get_stride(img.raw))
        pixels.withUnsafeBufferPointer { src in
            for y in 0..<height {
                let row = UnsafeMutableRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
                row.update(from: src.baseAddress! + y * width, count: width)
            }
        }
        cairo_surface_mark_dirty(img.raw)
        cairo_save(cr.raw)
        if let clip {
            cairo_rectangle(cr.raw, clip.x, clip.y, clip.width, clip.height)
            cairo_clip(cr.raw)
        }
        cairo_translate(cr.raw, rect.x, rect.y)
        cairo_scale(cr.raw, rect.width / Double(width), rect.height / Double(height))
        cairo_set_source_surface(cr.raw, img.raw, 0, 0)
        if let pattern = cairo_get_source(cr.raw) {
            cairo_pattern_set_filter(pattern, CAIRO_FILTER_NEAREST)
            cairo_pattern_set_extend(pattern, CAIRO_EXTEND_PAD)
        }
        cairo_rectangle(cr.raw, 0, 0, Double(width), Double(height))
        cairo_fill(cr.raw)
        cairo_restore(cr.raw)
    }

    // MARK: Text

    private func font(_ style: TextStyle) throws(RenderError) -> PangoFont {
        let key = "\(style.size)|\(style.bold)"
        if let f = fonts[key] { return f }
        let f = try PangoFont(family: theme.fontFamily, pixelSize: style.size, bold: style.bold)
        fonts[key] = f
        return f
    }

    private func prepare(_ text: String, _ style: TextStyle, maxWidth: Double?, wrap: Bool = false) throws(RenderError) {
        pango_layout_set_font_description(layout.raw, try font(style).raw)
        pango_layout_set_text(layout.raw, text, -1)
        if let maxWidth {
            pango_layout_set_width(layout.raw, Int32(max(1, maxWidth) * Double(PANGO_SCALE)))
            pango_layout_set_wrap(layout.raw, PANGO_WRAP_WORD_CHAR)
            pango_layout_set_ellipsize(layout.raw, wrap ? PANGO_ELLIPSIZE_NONE : PANGO_ELLIPSIZE_END)
        } else {
            pango_layout_set_width(layout.raw, -1)
            pango_layout_set_ellipsize(layout.raw, PANGO_ELLIPSIZE_NONE)
        }
        unknownGlyphs += Int(pango_layout_get_unknown_glyphs_count(layout.raw))
    }

    /// Size of `text` as it would be drawn (after ellipsizing to `maxWidth`).
    /// With `wrap`, text longer than `maxWidth` goes on over several lines instead.
    public func measure(_ text: String, _ style: TextStyle, maxWidth: Double? = nil, wrap: Bool = false) throws(RenderError) -> Size {
        try prepare(text, style, maxWidth: maxWidth, wrap: wrap)
        var ink = PangoRectangle(), logical = PangoRectangle()
        pango_layout_get_pixel_extents(layout.raw, &ink, &logical)
        return Size(Double(logical.width), Double(logical.height))
    }

    /// Draws text anchored at `at`; `rotation` in radians turns it about the anchor
    /// (−π/2 reads bottom to top). Over-long text is cut with an ellipsis at `maxWidth`.
    public func text(_ text: String, at: Point, _ style: TextStyle, h: HAlign = .left, v: VAlign = .top,
                     rotation: Double = 0, maxWidth: Double? = nil, wrap: Bool = false) throws(RenderError) {
        guard !text.isEmpty else { return }
        let size = try measure(text, style, maxWidth: maxWidth, wrap: wrap)
        let dx: Double = h == .left ? 0 : (h == .center ? -size.width / 2 : -size.width)
        let dy: Double = v == .top ? 0 : (v == .middle ? -size.height / 2 : -size.height)
        cairo_save(cr.raw)
        cairo_translate(cr.raw, at.x, at.y)
        if rotation != 0 { cairo_rotate(cr.raw, rotation) }
        cairo_move_to(cr.raw, dx, dy)
        cairo_set_source_rgb(cr.raw, style.color.r, style.color.g, style.color.b)
        pango_cairo_update_layout(cr.raw, layout.raw)
        pango_cairo_show_layout(cr.raw, layout.raw)
        cairo_restore(cr.raw)
    }
}
