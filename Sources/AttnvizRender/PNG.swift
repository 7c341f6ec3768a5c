import CPNG
import Foundation

/// PNG encoding through libpng, with a chosen zlib level and filter, and text metadata.
public struct PNGOptions: Sendable {
    public var zlibLevel: Int32
    public var filters: Int32
    /// tEXt/iTXt chunks written in this order (no time chunk: same figure, same bytes).
    public var metadata: [(key: String, value: String)]

    /// Level 3 with the SUB filter, chosen by `make bench` (README, "PNG encoding"): as fast as
    /// level 1, twice as fast as level 6, files about 20% larger than level 6.
    public static let standard = PNGOptions(zlibLevel: 3, filters: Int32(CPNG_FILTER_SUB), metadata: [])

    public init(zlibLevel: Int32, filters: Int32, metadata: [(key: String, value: String)]) {
        self.zlibLevel = zlibLevel
        self.filters = filters
        self.metadata = metadata
    }
}

public enum PNGCodec {
    /// Encodes opaque 0xAARRGGBB rows (cairo ARGB32 on a white background) as 8-bit RGB.
    public static func encode(argb: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int,
                              options: PNGOptions) throws(RenderError) -> Data {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let row = argb.baseAddress!.advanced(by: y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<width {
                let p = row[x]
                let o = (y * width + x) * 3
                rgb[o] = UInt8((p >> 16) & 0xff); rgb[o + 1] = UInt8((p >> 8) & 0xff); rgb[o + 2] = UInt8(p & 0xff)
            }
        }
        return try encode(rgb: rgb, width: width, height: height, options: options)
    }

    public static func encode(rgb: [UInt8], width: Int, height: Int, options: PNGOptions) throws(RenderError) -> Data {
        var out = cpng_buffer()
        defer { cpng_buffer_free(&out) }
        var err = [CChar](repeating: 0, count: 256)
        let keys = options.metadata.map { strdup($0.key) }
        let values = options.metadata.map { strdup($0.value) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        var texts = (0..<options.metadata.count).map { i in
            cpng_text(key: keys[i], text: values[i], international: options.metadata[i].value.utf8.allSatisfy { $0 < 0x80 } ? 0 : 1)
        }
        let status = rgb.withUnsafeBufferPointer { px in
            texts.withUnsafeMutableBufferPointer { t in
                cpng_encode(px.baseAddress, Int32(width), Int32(height), width * 3, 3, options.zlibLevel, options.filters,
                            t.baseAddress, Int32(t.count), &out, &err, err.count)
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
