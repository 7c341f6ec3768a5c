import CCairo
import Foundation

public enum FigureFormat: String, Sendable, CaseIterable {
    case png, svg, pdf
}

/// A figure kind: knows its size (after measuring its text) and draws itself on a Canvas.
/// The same `draw` serves PNG, SVG and PDF.
public protocol Figure: Sendable {
    var title: String { get }
    func size(measuring canvas: Canvas) throws(RenderError) -> Size
    func draw(on canvas: Canvas) throws(RenderError)
}

/// A drawn figure's pixels, ready to encode.
public final class Raster {
    let surface: CairoSurface
    public let width: Int, height: Int
    public let title: String
    public let unknownGlyphs: Int

    init(surface: CairoSurface, width: Int, height: Int, title: String, unknownGlyphs: Int) {
        self.surface = surface
        self.width = width
        self.height = height
        self.title = title
        self.unknownGlyphs = unknownGlyphs
    }

    public func encodePNG(_ png: PNGOptions = .standard) throws(RenderError) -> Data {
        guard let data = cairo_image_surface_get_data(surface.raw) else {
            throw .cairo(context: "reading pixels of '\(title)'", status: "no data")
        }
        let stride = Int(cairo_image_surface_get_stride(surface.raw))
        var options = png
        options.metadata = [("Software", FigureRenderer.toolVersion), ("Title", title)] + png.metadata
        return try PNGCodec.encode(argb: UnsafeRawBufferPointer(start: data, count: stride * height),
                                   width: width, height: height, stride: stride, options: options)
    }
}

public enum FigureRenderer {
    public static let toolVersion = "attnviz 0.1.0"

    /// Renders a figure to the bytes of a PNG, SVG or PDF file. Deterministic: the same figure
    /// gives the same bytes.
    public static func render(_ figure: some Figure, format: FigureFormat, theme: Theme = .standard,
                              png: PNGOptions = .standard) throws(RenderError) -> Data {
        try renderWithStats(figure, format: format, theme: theme, png: png).data
    }

    /// As `render`, also returning how many glyphs no font could draw.
    public static func renderWithStats(_ figure: some Figure, format: FigureFormat, theme: Theme = .standard,
                                       png: PNGOptions = .standard) throws(RenderError) -> (data: Data, unknownGlyphs: Int) {
        switch format {
        case .png:
            let raster = try rasterize(figure, theme: theme)
            return (try raster.encodePNG(png), raster.unknownGlyphs)
        case .svg, .pdf:
            let (w, h, measured) = try pixelSize(figure, theme: theme)
            let sink = ByteSink()
            var unknown = 0
            do {
                let surface = try CairoSurface.vector(format, width: Double(w), height: Double(h), sink: sink)
                let canvas = try Canvas(surface: surface, size: Size(Double(w), Double(h)), theme: theme)
                canvas.fill(Rect(0, 0, Double(w), Double(h)), theme.background)
                try figure.draw(on: canvas)
                try canvas.check("drawing '\(figure.title)'")
                unknown = canvas.unknownGlyphs
                cairo_surface_finish(surface.raw)
                try surface.check("finishing '\(figure.title)'")
            }
            var data = sink.data
            if format == .svg { data = pixelatedSVG(data) }
            return (data, unknown + measured)
        }
    }

    /// Draws a figure into pixels without encoding them (benchmarks time the two apart).
    public static func rasterize(_ figure: some Figure, theme: Theme = .standard) throws(RenderError) -> Raster {
        let (w, h, measured) = try pixelSize(figure, theme: theme)
        let surface = try CairoSurface.image(width: w, height: h)
        let canvas = try Canvas(surface: surface, size: Size(Double(w), Double(h)), theme: theme)
        canvas.fill(Rect(0, 0, Double(w), Double(h)), theme.background)
        try figure.draw(on: canvas)
        try canvas.check("drawing '\(figure.title)'")
        cairo_surface_flush(surface.raw)
        return Raster(surface: surface, width: w, height: h, title: figure.title, unknownGlyphs: canvas.unknownGlyphs + measured)
    }

    /// The figure's size in whole pixels, and the unknown glyphs met while measuring it.
    static func pixelSize(_ figure: some Figure, theme: Theme) throws(RenderError) -> (Int, Int, Int) {
        let measuring = try Canvas.measuring(theme: theme)
        let size = try figure.size(measuring: measuring)
        let w = Int(size.width.rounded(.up)), h = Int(size.height.rounded(.up))
        guard w > 0, h > 0, w <= 32768, h <= 32768 else {
            throw .invalidFigure(figure: figure.title, problem: "size \(w)x\(h) outside 1...32768")
        }
        return (w, h, measuring.unknownGlyphs)
    }

    /// Cairo's SVG ignores nearest-neighbour filtering; browsers would blur heatmap cells unless
    /// images are marked `image-rendering: pixelated`. Cairo also numbers element ids from a
    /// process-wide counter; they are renumbered by first appearance so equal figures give equal bytes.
    static func pixelatedSVG(_ data: Data) -> Data {
        guard var text = String(data: data, encoding: .utf8), let open = text.range(of: "<svg") else { return data }
        guard let close = text.range(of: ">", range: open.upperBound..<text.endIndex) else { return data }
        text.insert(contentsOf: "\n<style type=\"text/css\">image { image-rendering: pixelated; }</style>", at: close.upperBound)
        return Data(renumberIDs(text).utf8)
    }

    static func renumberIDs(_ text: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: "\\b(image|surface|pattern|mask|clip|source|glyph)([0-9]+)") else { return text }
        let ns = text as NSString
        var out = ""
        var last = 0
        var numbering: [String: [String: Int]] = [:]
        for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let prefix = ns.substring(with: match.range(at: 1)), number = ns.substring(with: match.range(at: 2))
            var table = numbering[prefix, default: [:]]
            let assigned = table[number] ?? table.count
            table[number] = assigned
            numbering[prefix] = table
            out += ns.substring(with: NSRange(location: last, length: match.range.location - last)) + prefix + String(assigned)
            last = match.range.location + match.range.length
        }
        return out + ns.substring(from: last)
    }

    /// Renders and writes `path` (extension decides nothing: `format` does).
    public static func write(_ figure: some Figure, format: FigureFormat, to path: String, theme: Theme = .standard) throws(RenderError) {
        let data = try render(figure, format: format, theme: theme)
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw .io(path: path, reason: "\(error.localizedDescription)") }
    }
}
