import CDeflate
import CPNG
import Foundation

/// A PNG writer of its own around libdeflate: filters the rows, compresses them in one call
/// (libdeflate has no streaming interface, and needs none for a figure held in memory), and
/// writes the chunks — IHDR, PLTE for indexed images, the text chunks in order, one IDAT, IEND.
/// The same chunks libpng writes, so decoders see the same image.
enum PNGWriter {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func encode(pixels: [UInt8], channels: Int, palette: [UInt8], width: Int, height: Int,
                       options: PNGOptions) throws(RenderError) -> Data {
        guard channels == 1 || channels == 3, width > 0, height > 0 else {
            throw .png(context: "PNG encode \(width)x\(height)", message: "channels must be 1 or 3, size positive")
        }
        let filtered = filter(pixels, width: width, height: height, bpp: channels, filters: options.filters)
        return try write(filtered: filtered, channels: channels, palette: palette, width: width, height: height, options: options)
    }

    /// Compresses filtered rows and writes the chunks.
    static func write(filtered: [UInt8], channels: Int, palette: [UInt8], width: Int, height: Int,
                      options: PNGOptions) throws(RenderError) -> Data {
        guard let compressor = libdeflate_alloc_compressor(max(0, min(12, options.zlibLevel))) else {
            throw .png(context: "PNG encode \(width)x\(height)", message: "libdeflate_alloc_compressor failed")
        }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_zlib_compress_bound(compressor, filtered.count)
        var idat = [UInt8](repeating: 0, count: bound)
        let size = filtered.withUnsafeBytes { src in
            idat.withUnsafeMutableBytes { dst in
                libdeflate_zlib_compress(compressor, src.baseAddress, src.count, dst.baseAddress, dst.count)
            }
        }
        guard size > 0 else { throw .png(context: "PNG encode \(width)x\(height)", message: "libdeflate_zlib_compress failed") }

        var out = [UInt8]()
        out.reserveCapacity(size + 1024 + palette.count)
        out += signature
        var ihdr = [UInt8]()
        be32(&ihdr, UInt32(width)); be32(&ihdr, UInt32(height))
        ihdr += [8, channels == 1 ? 3 : 2, 0, 0, 0]
        chunk(&out, "IHDR", ihdr)
        if channels == 1 { chunk(&out, "PLTE", palette) }
        for (key, value) in options.metadata {
            let keyword = Array(key.utf8.prefix(79))
            if value.utf8.allSatisfy({ $0 < 0x80 }) {
                chunk(&out, "tEXt", keyword + [0] + Array(value.utf8))
            } else {
                // iTXt: keyword, no compression, empty language tag and translated keyword, UTF-8 text.
                chunk(&out, "iTXt", keyword + [0, 0, 0, 0, 0] + Array(value.utf8))
            }
        }
        idat.withUnsafeBufferPointer { chunk(&out, "IDAT", UnsafeBufferPointer(rebasing: $0[0..<size])) }
        chunk(&out, "IEND", [])
        return Data(out)
    }

    /// Opaque 0xAARRGGBB rows straight to a PNG of 8-bit RGB: the conversion to RGB and the row
    /// filter are one pass (no RGB copy of the image), then one libdeflate call. One filter only
    /// (NONE, SUB or UP; anything else is SUB).
    static func encode(argb: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int,
                       options: PNGOptions) throws(RenderError) -> Data {
        let rowBytes = width * 3 + 1
        let type: UInt8 = options.filters == Int32(CPNG_FILTER_NONE) ? 0 : options.filters == Int32(CPNG_FILTER_UP) ? 2 : 1
        let filtered = [UInt8](unsafeUninitializedCapacity: height * rowBytes) { buf, count in
            let base = argb.baseAddress!
            for y in 0..<height {
                let cur = (base + y * stride).assumingMemoryBound(to: UInt32.self)
                let dst = buf.baseAddress! + y * rowBytes
                if type == 2 && y > 0 {
                    dst[0] = 2
                    let prev = (base + (y - 1) * stride).assumingMemoryBound(to: UInt32.self)
                    for x in 0..<width {
                        let c = cur[x], p = prev[x]
                        dst[1 + 3 * x] = UInt8(truncatingIfNeeded: c >> 16) &- UInt8(truncatingIfNeeded: p >> 16)
                        dst[2 + 3 * x] = UInt8(truncatingIfNeeded: c >> 8) &- UInt8(truncatingIfNeeded: p >> 8)
                        dst[3 + 3 * x] = UInt8(truncatingIfNeeded: c) &- UInt8(truncatingIfNeeded: p)
                    }
                } else if type == 1 {
                    dst[0] = 1
                    var p: UInt32 = 0
                    for x in 0..<width {
                        let c = cur[x]
                        dst[1 + 3 * x] = UInt8(truncatingIfNeeded: c >> 16) &- UInt8(truncatingIfNeeded: p >> 16)
                        dst[2 + 3 * x] = UInt8(truncatingIfNeeded: c >> 8) &- UInt8(truncatingIfNeeded: p >> 8)
                        dst[3 + 3 * x] = UInt8(truncatingIfNeeded: c) &- UInt8(truncatingIfNeeded: p)
                        p = c
                    }
                } else {
                    // NONE, and UP's first row (no row above: UP is NONE there).
                    dst[0] = 0
                    for x in 0..<width {
                        let c = cur[x]
                        dst[1 + 3 * x] = UInt8(truncatingIfNeeded: c >> 16)
                        dst[2 + 3 * x] = UInt8(truncatingIfNeeded: c >> 8)
                        dst[3 + 3 * x] = UInt8(truncatingIfNeeded: c)
                    }
                }
            }
            count = height * rowBytes
        }
        return try write(filtered: filtered, channels: 3, palette: [], width: width, height: height, options: options)
    }

    static func be32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }

    static func chunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        data.withUnsafeBufferPointer { chunk(&out, type, $0) }
    }

    static func chunk(_ out: inout [UInt8], _ type: String, _ data: UnsafeBufferPointer<UInt8>) {
        be32(&out, UInt32(data.count))
        let start = out.count
        out += Array(type.utf8)
        out += data
        let crc = out.withUnsafeBytes { p in
            libdeflate_crc32(0, p.baseAddress! + start, out.count - start)
        }
        be32(&out, crc)
    }

    /// Each row prefixed with its filter type. One filter bit: that filter on every row; several:
    /// per row, the one whose output has the smallest sum of |byte| (as signed), libpng's heuristic.
    static func filter(_ pixels: [UInt8], width: Int, height: Int, bpp: Int, filters: Int32) -> [UInt8] {
        let rowBytes = width * bpp
        var allowed: [UInt8] = []
        for (bit, type) in [(CPNG_FILTER_NONE, 0), (CPNG_FILTER_SUB, 1), (CPNG_FILTER_UP, 2), (CPNG_FILTER_AVG, 3), (CPNG_FILTER_PAETH, 4)]
            where filters & Int32(bit) != 0 { allowed.append(UInt8(type)) }
        if allowed.isEmpty { allowed = [0] }
        var out = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var scratch = [UInt8](repeating: 0, count: allowed.count > 1 ? rowBytes : 0)
        pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    for y in 0..<height {
                        let cur = px.baseAddress! + y * rowBytes
                        let prev: UnsafePointer<UInt8>? = y > 0 ? px.baseAddress! + (y - 1) * rowBytes : nil
                        let dst = o.baseAddress! + y * (rowBytes + 1)
                        if allowed.count == 1 {
                            dst[0] = allowed[0]
                            apply(allowed[0], cur, prev, dst + 1, rowBytes, bpp)
                            continue
                        }
                        var best = Int.max
                        for type in allowed {
                            apply(type, cur, prev, s.baseAddress!, rowBytes, bpp)
                            var sum = 0
                            for i in 0..<rowBytes { let v = Int(Int8(bitPattern: s[i])); sum += v < 0 ? -v : v }
                            if sum < best {
                                best = sum
                                dst[0] = type
                                (dst + 1).update(from: s.baseAddress!, count: rowBytes)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func apply(_ type: UInt8, _ cur: UnsafePointer<UInt8>, _ prev: UnsafePointer<UInt8>?, _ dst: UnsafeMutablePointer<UInt8>,
                      _ n: Int, _ bpp: Int) {
        switch type {
        case 1:
            for i in 0..<min(bpp, n) { dst[i] = cur[i] }
            for i in bpp..<max(bpp, n) { dst[i] = cur[i] &- cur[i - bpp] }
        case 2:
            guard let prev else { dst.update(from: cur, count: n); return }
            for i in 0..<n { dst[i] = cur[i] &- prev[i] }
        case 3:
            for i in 0..<n {
                let a = i >= bpp ? Int(cur[i - bpp]) : 0, b = prev.map { Int($0[i]) } ?? 0
                dst[i] = cur[i] &- UInt8((a + b) >> 1)
            }
        case 4:
            for i in 0..<n {
                let a = i >= bpp ? Int(cur[i - bpp]) : 0, b = prev.map { Int($0[i]) } ?? 0
                let c = (i >= bpp ? prev.map { Int($0[i - bpp]) } : nil) ?? 0
                let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                dst[i] = cur[i] &- UInt8(pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
            }
        default:
            dst.update(from: cur, count: n)
        }
    }
}
