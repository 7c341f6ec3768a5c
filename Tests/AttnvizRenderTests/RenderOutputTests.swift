import AttnvizRender
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct RenderOutputTests {
    static func sample(labels: [String]) -> Heatmap {
        Heatmap(title: "labels: " + labels.joined(separator: " "), values: attentionLike(labels.count, seed: 9),
                rows: labels.count, cols: labels.count, rowLabels: labels, colLabels: labels,
                xLabel: "key", yLabel: "query", colorbarLabel: "weight")
    }

    /// Pango finds a glyph for every character: Chinese, accented Latin and emoji.
    @Test(arguments: [["我", "爱", "学", "习"], ["café", "naïve", "Ångström", "façade"], ["😀", "🚀", "❤️", "👍🏽"]])
    func noMissingGlyphs(labels: [String]) throws {
        for format in FigureFormat.allCases {
            let (_, unknown) = try FigureRenderer.renderWithStats(Self.sample(labels: labels), format: format)
            #expect(unknown == 0, "\(unknown) unknown glyphs in \(format) for \(labels)")
        }
    }

    /// A character no installed font has (a private-use code point) is counted, so the check above can fail.
    @Test func missingGlyphsAreCounted() throws {
        let (_, unknown) = try FigureRenderer.renderWithStats(Self.sample(labels: ["\u{E000}", "x"]), format: .png)
        #expect(unknown > 0)
    }

    @Test func svgIsWellFormedAndPixelated() throws {
        let data = try FigureRenderer.render(Self.sample(labels: ["a", "b", "我"]), format: .svg)
        let parser = XMLParser(data: data)
        #expect(parser.parse(), "SVG does not parse: \(String(describing: parser.parserError))")
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("<svg"))
        #expect(text.contains("image-rendering: pixelated"))
    }

    @Test func pdfIsWellFormed() throws {
        let data = try FigureRenderer.render(Self.sample(labels: ["a", "b", "é"]), format: .pdf)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasPrefix("%PDF-"))
        #expect(text.contains("%%EOF"))
        #expect(text.contains("xref") || text.contains("/XRef"))
    }

    @Test(arguments: FigureFormat.allCases)
    func renderingTwiceIsByteIdentical(format: FigureFormat) throws {
        let fig = Self.sample(labels: ["[CLS]", "the", "cat", "我", "😀", "[SEP]"])
        #expect(try FigureRenderer.render(fig, format: format) == (try FigureRenderer.render(fig, format: format)))
    }

    @Test func pngCarriesMetadata() throws {
        let fig = Self.sample(labels: ["我", "爱"])
        let png = try FigureRenderer.render(fig, format: .png)
        #expect(PNGCodec.text(png, key: "Software") == FigureRenderer.toolVersion)
        #expect(PNGCodec.text(png, key: "Title") == fig.title)
        let image = try PNGCodec.decode(png)
        #expect(image.width > 0 && image.height > 0)
    }

    @Test func badMatrixIsAnError() {
        let fig = Heatmap(title: "bad", values: [1, 2, 3], rows: 2, cols: 2, xLabel: "x", yLabel: "y", colorbarLabel: "c")
        #expect(throws: RenderError.self) { try FigureRenderer.render(fig, format: .png) }
    }

    @Test func ticksAreRoundAndCoverTheRange() {
        let t = Chrome.ticks(0, 0.83)
        #expect(t.first == 0)
        #expect((t.last ?? 0) <= 0.83)
        #expect(t.count >= 3)
        #expect(Chrome.format(0.25) == "0.25")
    }
}
