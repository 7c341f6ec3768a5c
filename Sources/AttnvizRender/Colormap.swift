import Foundation

/// Perceptually ordered, colour-blind-safe colour scales.
public struct Colormap: Sendable {
    public let name: String
    let stops: [RGB]
    /// Diverging maps centre on zero: the range is made symmetric.
    public let diverging: Bool

    /// viridis (sequential; for weights and probabilities).
    public static let viridis = Colormap(name: "viridis", stops: [
        0x440154, 0x482475, 0x414487, 0x355F8D, 0x2A788E, 0x21918C, 0x22A884, 0x44BF70, 0x7AD151, 0xBDDF26, 0xFDE725,
    ].map { RGB(hex: $0) }, diverging: false)

    /// ColorBrewer RdBu reversed (blue below zero, red above; for signed values).
    public static let blueRed = Colormap(name: "RdBu", stops: [
        0x053061, 0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7, 0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B, 0x67001F,
    ].map { RGB(hex: $0) }, diverging: true)

    /// Colour at t in [0, 1] (clamped), linearly interpolated between stops.
    public func color(_ t: Double) -> RGB {
        let x = min(1, max(0, t.isNaN ? 0 : t)) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2)
        let f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return RGB(a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f)
    }

    /// A 256-entry lookup table of opaque 0xAARRGGBB pixels.
    public func table() -> [UInt32] {
        (0..<256).map { i in Colormap.pixel(color(Double(i) / 255)) }
    }

    static func pixel(_ c: RGB) -> UInt32 {
        func byte(_ v: Double) -> UInt32 { UInt32(max(0, min(255, (v * 255).rounded()))) }
        return 0xFF00_0000 | byte(c.r) << 16 | byte(c.g) << 8 | byte(c.b)
    }
}

/// The value range a colour scale spans.
public struct ColorRange: Sendable, Equatable {
    public var min: Double, max: Double
    public init(_ min: Double, _ max: Double) { self.min = min; self.max = max }

    /// Finite values' range; symmetric about zero for a diverging map; never empty.
    public static func fitting(_ values: [Float], diverging: Bool) -> ColorRange {
        var lo = Double.infinity, hi = -Double.infinity
        for v in values where v.isFinite { lo = Swift.min(lo, Double(v)); hi = Swift.max(hi, Double(v)) }
        if !lo.isFinite { lo = 0; hi = 1 }
        if diverging { let m = Swift.max(abs(lo), abs(hi), 1e-12); return ColorRange(-m, m) }
        if hi - lo < 1e-12 { return ColorRange(lo, lo + 1) }
        return ColorRange(lo, hi)
    }

    public func normalized(_ v: Double) -> Double { (v - min) / (max - min) }

    /// Symmetric range ±q, q the given quantile of |values|: a few outlier dimensions no longer
    /// wash every other cell out to the colour of zero (values beyond are drawn at the ends).
    public static func robustSymmetric(_ values: [Float], quantile: Double = 0.99) -> ColorRange {
        let mags = values.filter(\.isFinite).map { abs(Double($0)) }.sorted()
        guard !mags.isEmpty else { return ColorRange(-1, 1) }
        let q = Swift.max(mags[Swift.min(mags.count - 1, Int(Double(mags.count - 1) * quantile))], 1e-12)
        return ColorRange(-q, q)
    }
}
