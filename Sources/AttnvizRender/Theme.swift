/// Fonts, colours and spacing shared by every figure kind.
public struct Theme: Sendable {
    /// Pango family list: Latin from DejaVu, Chinese from WenQuanYi. Colour emoji come from Noto
    /// through fontconfig's fallback; naming it here would make Pango take digits from it too.
    public var fontFamily = "DejaVu Sans, WenQuanYi Micro Hei"
    public var background = RGB.white
    public var foreground = RGB(hex: 0x222222)
    public var muted = RGB(hex: 0x666666)
    public var grid = RGB(hex: 0xE3E3E3)
    public var maskFill = RGB(hex: 0xD9D9D9)
    public var maskLine = RGB(hex: 0x8C8C8C)
    /// Residual connections in block diagrams (Okabe–Ito blue).
    public var residual = RGB(hex: 0x0072B2)
    public var title = TextStyle(size: 16, bold: true)
    public var axisLabel = TextStyle(size: 13)
    public var tick = TextStyle(size: 11, color: RGB(hex: 0x444444))
    public var caption = TextStyle(size: 11, color: RGB(hex: 0x666666))
    public var margin = 16.0
    public var gap = 8.0
    /// A colour-blind-safe qualitative palette (Okabe–Ito) for lines and bars.
    public var series: [RGB] = [0x0072B2, 0xE69F00, 0x009E73, 0xD55E00, 0xCC79A7, 0x56B4E9, 0xF0E442, 0x000000].map { RGB(hex: $0) }

    public init() {}

    public static let standard = Theme()
}
