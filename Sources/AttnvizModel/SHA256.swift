import Foundation

/// SHA-256 (FIPS 180-4), for naming exactly which checkpoint a report was computed from.
public enum SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public static func hex(of bytes: UnsafeRawBufferPointer) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var w = [UInt32](repeating: 0, count: 64)
        let fullBlocks = bytes.count / 64
        func compress(_ block: UnsafeRawBufferPointer) {
            for t in 0..<16 {
                w[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16 | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
            }
            for t in 16..<64 {
                let s0 = w[t - 15].rotR(7) ^ w[t - 15].rotR(18) ^ (w[t - 15] >> 3)
                let s1 = w[t - 2].rotR(17) ^ w[t - 2].rotR(19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            for t in 0..<64 {
                let s1 = e.rotR(6) ^ e.rotR(11) ^ e.rotR(25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                let s0 = a.rotR(2) ^ a.rotR(13) ^ a.rotR(22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        for i in 0..<fullBlocks { compress(UnsafeRawBufferPointer(rebasing: bytes[(i * 64)..<(i * 64 + 64)])) }
        var tail = [UInt8](bytes[(fullBlocks * 64)...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bits = UInt64(bytes.count) * 8
        for s in stride(from: 56, through: 0, by: -8) { tail.append(UInt8((bits >> UInt64(s)) & 0xff)) }
        tail.withUnsafeBytes { t in
            for i in 0..<(t.count / 64) { compress(UnsafeRawBufferPointer(rebasing: t[(i * 64)..<(i * 64 + 64)])) }
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }

    public static func hex(of data: Data) -> String { data.withUnsafeBytes { hex(of: $0) } }

    /// The sha256 of a file, remembered in `cacheDirectory/sha256.json` by path, size and
    /// modification time, so a 90 MB checkpoint is hashed once, not on every run.
    /// A `<file>.sha256` written by set-up after it verified the file is trusted while it is newer
    /// than the file itself.
    public static func file(_ path: String, cacheDirectory: String?) throws(ModelError) -> String {
        let sidecar = path + ".sha256"
        if let modelDate = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
           let sideDate = (try? FileManager.default.attributesOfItem(atPath: sidecar))?[.modificationDate] as? Date,
           sideDate >= modelDate, let text = try? String(contentsOfFile: sidecar, encoding: .utf8) {
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if hex.count == 64, hex.allSatisfy(\.isHexDigit) { return hex.lowercased() }
        }
        let attrs: [FileAttributeKey: Any]
        do { attrs = try FileManager.default.attributesOfItem(atPath: path) } catch { throw .missingFile(path: path) }
        let size = (attrs[.size] as? NSNumber)?.intValue ?? -1
        let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = "\(path)|\(size)|\(mtime)"
        let cachePath = cacheDirectory.map { ($0 as NSString).appendingPathComponent("sha256.json") }
        var cache: [String: String] = [:]
        if let cachePath, let data = FileManager.default.contents(atPath: cachePath),
           let decoded = try? JSONDecoder().decode([String: String].self, from: data) {
            cache = decoded
            if let hit = cache[key] { return hit }
        }
        let mapped = try MappedFile(path: path)
        let digest = hex(of: mapped.bytes)
        if let cachePath, let cacheDirectory {
            cache[key] = digest
            try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            if let data = try? JSONEncoder().encode(cache) { try? data.write(to: URL(fileURLWithPath: cachePath), options: .atomic) }
        }
        return digest
    }
}

extension UInt32 {
    @inline(__always) fileprivate func rotR(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}
