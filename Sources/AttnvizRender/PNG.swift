import CDeflate
import CPNG
import Foundation

/// PNG encoding: the deflate library, its level, the row filter, indexed colour, and text metadata.
public struct PNGOptions: Sendable {
    /// Which deflate compresses the pixel rows: zlib through libpng, or libdeflate through
    /// attnviz's own chunk writer (same PNG format, same pixels).
    public enum Deflate: Sendable { case zlib, libdeflate }

    /// The compression level: zlib's 0...9, or libdeflate's 0...12.
    public var zlibLevel: Int32
    /// PNG filter bit set (CPNG_FILTER_*); several bits choose per row (smallest sum of bytes).
    public var filters: Int32
    /// tEXt/iTXt chunks written in this order (no time chunk: same figure, same bytes).
    public var metadata: [(key: String, value: String)]
    /// Figures of at most 256 colours are written as indexed (palette) PNG.
    public var palette: Bool
    public var deflate: Deflate

    /// libdeflate level 3 with the UP filter, chosen by `attnviz-bench png` over the figures of
    /// whole reports (README, "Performance"): 0.70× the time of zlib level 3 with SUB (the
    /// previous default) for 0.70× the bytes. Figures are RGB: indexed colour fits only 7 of the
    /// 181 figures of a 64-token report and saved nothing measurable.
    public static let standard = PNGOptions(zlibLevel: 3, filters: Int32(CPNG_FILTER_UP), metadata: [], deflate: .libdeflate)

    public init(zlibLevel: Int32, filters: Int32, metadata: [(key: String, value: String)], palette: Bool = false,
                deflate: Deflate = .zlib) {
        self.zlibLevel = zlibLevel
        self.filters = filters
        self.metadata = metadata
        self.palette = palette
        self.deflate = deflate
    }
}

public enum PNGCodec {
    /// Encodes opaque 0xAARRGGBB rows (cairo ARGB32 on a white background) as 8-bit RGB, or as
    /// 8-bit indices into a palette when `options.palette` is set and there are ≤ 256 colours.
    public static func encode(argb: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int,
                              options: PNGOptions) throws(RenderError) -> Data {
        if options.palette, let (indices, palette) = indexed(argb: argb, width: width, height: height, stride: stride) {
            return try encode(pixels: indices, channels: 1, palette: palette, width: width, height: height, options: options)
        }
        if options.deflate == .libdeflate {
            return try PNGWriter.encode(argb: argb, width: width, height: height, stride: stride, options: options)
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                let row = argb.baseAddress!.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)
                var o = y * width * 3
                for x in 0..<width {
                    let p = row[x]
                    out[o] = UInt8(truncatingIfNeeded: p >> 16); out[o + 1] = UInt8(truncatingIfNeeded: p >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: p)
                    o += 3
                }
            }
        }
        return try encode(pixels: rgb, channels: 3, palette: [], width: width, height: height, options: options)
    }

    public static func encode(rgb: [UInt8], width: Int, height: Int, options: PNGOptions) throws(RenderError) -> Data {
        try encode(pixels: rgb, channels: 3, palette: [], width: width, height: height, options: options)
    }

    /// Whether the image has at most 256 colours (for benchmarks).
    public static func indexedForBench(argb: UnsafeRawBufferPointer, width: Int, height: Int) -> Bool {
        indexed(argb: argb, width: width, height: height, stride: width * 4) != nil
    }

    /// The image as palette indices (colours in order of first appearance, so equal pixels give
    /// equal bytes), or nil past 256 colours.
    static func indexed(argb: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int) -> ([UInt8], [UInt8])? {
        // Open addressing over 24-bit colours; empty slots hold a value no colour has.
        let slots = 1024, empty = UInt32.max
        var keys = [UInt32](repeating: empty, count: slots), values = [UInt8](repeating: 0, count: slots)
        var palette: [UInt8] = []
        palette.reserveCapacity(768)
        var indices = [UInt8](repeating: 0, count: width * height)
        var count = 0
        let ok = indices.withUnsafeMutableBufferPointer { out -> Bool in
            var last = empty, lastIndex: UInt8 = 0
            for y in 0..<height {
                let row = argb.baseAddress!.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)
                let o = y * width
                for x in 0..<width {
                    let c = row[x] & 0xff_ffff
                    if c != last {
                        var h = Int((c &* 0x9E37_79B1) >> 22) & (slots - 1)
                        while keys[h] != c && keys[h] != empty { h = (h + 1) & (slots - 1) }
                        if keys[h] == empty {
                            if count == 256 { return false }
                            keys[h] = c; values[h] = UInt8(count); count += 1
                            palette.append(UInt8(c >> 16)); palette.append(UInt8((c >> 8) & 0xff)); palette.append(UInt8(c & 0xff))
                        }
                        last = c; lastIndex = values[h]
                    }
                    out[o + x] = lastIndex
                }
            }
            return true
        }
        return ok ? (indices, palette) : nil
    }

    static func encode(pixels: [UInt8], channels: Int, palette: [UInt8], width: Int, height: Int,
                       options: PNGOptions) throws(RenderError) -> Data {
        if options.deflate == .libdeflate {
            return try PNGWriter.encode(pixels: pixels, channels: channels, palette: palette, width: width, height: height, options: options)
        }
        var out = cpng_buffer()
        defer { cpng_buffer_free(&out) }
        var err = [CChar](repeating: 0, count: 256)
        let keys = options.metadata.map { strdup($0.key) }
        let values = options.metadata.map { strdup($0.value) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        var texts = (0..<options.metadata.count).map { i in
            cpng_text(key: keys[i], text: values[i], international: options.metadata[i].value.utf8.allSatisfy { $0 < 0x80 } ? 0 : 1)
        }
        let status = pixels.withUnsafeBufferPointer { px in
            palette.withUnsafeBufferPointer { pal in
                texts.withUnsafeMutableBufferPointer { t in
                    cpng_encode_palette(px.baseAddress, Int32(width), Int32(height), width * channels, Int32(channels),
                                        pal.baseAddress, Int32(palette.count / 3), options.zlibLevel, options.filters,
                                        t.baseAddress, Int32(t.count), &out, &err, err.count)
                }
            }
        }
        guard status == 0, let data = out.data else {
            throw .png(context: "PNG encode \(width)x\(height)", message: String(cString: err))
        }
        return Data(bytes: data, count: out.size)
    }

    /// Decoded pixels as straight RGBA rows.
    public struct Image: Sendable, Equatable {
        public var width: Int, height: Int
        public var rgba: [UInt8]
    }

    public static func decode(_ png: Data) throws(RenderError) -> Image {
        var out = cpng_buffer()
        defer { cpng_buffer_free(&out) }
        var err = [CChar](repeating: 0, count: 256)
        var w: Int32 = 0, h: Int32 = 0
        let status = png.withUnsafeBytes { p in
            cpng_decode_rgba(p.bindMemory(to: UInt8.self).baseAddress, p.count, &out, &w, &h, &err, err.count)
        }
        guard status == 0, let data = out.data else { throw .png(context: "PNG decode", message: String(cString: err)) }
        return Image(width: Int(w), height: Int(h), rgba: Array(UnsafeBufferPointer(start: data, count: out.size)))
    }

    /// The value of a tEXt/iTXt chunk, or nil.
    public static func text(_ png: Data, key: String) -> String? {
        var out = cpng_buffer()
        defer { cpng_buffer_free(&out) }
        var err = [CChar](repeating: 0, count: 256)
        let status = png.withUnsafeBytes { p in
            cpng_read_text(p.bindMemory(to: UInt8.self).baseAddress, p.count, key, &out, &err, err.count)
        }
        guard status == 0, let data = out.data else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: out.size), as: UTF8.self)
    }

    /// Writes an RGBA image (e.g. a snapshot diff) as PNG.
    public static func encode(_ image: Image) throws(RenderError) -> Data {
        var rgb = [UInt8](repeating: 0, count: image.width * image.height * 3)
        for i in 0..<(image.width * image.height) {
            rgb[3 * i] = image.rgba[4 * i]; rgb[3 * i + 1] = image.rgba[4 * i + 1]; rgb[3 * i + 2] = image.rgba[4 * i + 2]
        }
        return try encode(rgb: rgb, width: image.width, height: image.height, options: .standard)
    }
}
