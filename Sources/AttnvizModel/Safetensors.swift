import AttnvizTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory mapping of a whole file, unmapped in deinit.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer?
    let size: Int

    init(path: String) throws(ModelError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missingFile(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        base = UnsafeRawPointer(p)
    }

    /// A copy of bytes held in memory (fuzzing, files read as streams).
    init(copying data: Data, path: String) {
        self.path = path
        size = data.count
        copied = true
        guard size > 0 else { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        data.copyBytes(to: p.assumingMemoryBound(to: UInt8.self), count: size)
        base = UnsafeRawPointer(p)
    }

    private var copied = false

    deinit {
        guard let base else { return }
        if copied { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Drops the mapping's resident pages (read-only and never written, so nothing is lost: a later
    /// read pages the file in again). A copy in memory keeps its pages.
    func releasePages() {
        guard !copied, let base else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), size, MADV_DONTNEED)
    }
}

/// A [rows, cols] float tensor left in its checkpoint and read a row at a time: a vocabulary-sized
/// embedding table (MiniLM's is 30,522 × 384, 47 MB) of which one forward reads a few hundred
/// rows. Only the rows read are ever resident. Each row read is checked finite.
public final class MappedRows: @unchecked Sendable {
    let checkpoint: SafetensorsFile
    let info: TensorInfo
    public let rows: Int, cols: Int

    init(_ checkpoint: SafetensorsFile, name: String, rows: Int, cols: Int) throws(ModelError) {
        guard let info = checkpoint.tensors[name] else { throw .missingWeight(path: checkpoint.path, name: name) }
        guard info.shape == [rows, cols] else { throw .weightShape(path: checkpoint.path, name: name, expected: [rows, cols], found: info.shape) }
        guard info.dtype.isFloat else {
            throw .safetensors(path: checkpoint.path, problem: "weight '\(name)' is \(info.dtype.rawValue), expected a float type")
        }
        self.checkpoint = checkpoint
        self.info = info
        self.rows = rows
        self.cols = cols
    }

    public var count: Int { rows * cols }

    /// Rows `ids`, in order. [ids.count, cols]
    public func gather(_ ids: [Int]) throws(ModelError) -> Tensor {
        var out: [Float] = []
        out.reserveCapacity(ids.count * cols)
        for id in ids {
            guard id >= 0, id < rows else {
                throw .input(path: checkpoint.path, problem: "row \(id) of '\(info.name)' requested; it has \(rows) rows")
            }
            let row = checkpoint.floats(info, elements: (id * cols)..<((id + 1) * cols))
            if let bad = row.firstIndex(where: { !$0.isFinite }) {
                throw .safetensors(path: checkpoint.path, problem: "tensor '\(info.name)' holds \(row[bad]) at element \(id * cols + bad); weights must be finite")
            }
            out += row
        }
        return Tensor(uncheckedShape: [ids.count, cols], data: out)
    }
}

/// Element types a safetensors file may declare.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloat: Bool { [.f64, .f32, .f16, .bf16].contains(self) }
}

/// One tensor's header entry.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the data area (after the header).
    public let range: Range<Int>
}

/// A safetensors file: 8-byte little-endian header length, a JSON header, then raw data.
/// The header is validated fully before any tensor is read.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    public convenience init(path: String) throws(ModelError) {
        try self.init(file: try MappedFile(path: path))
    }

    /// Parses safetensors bytes held in memory; `path` names them in errors.
    public convenience init(data: Data, path: String) throws(ModelError) {
        try self.init(file: MappedFile(copying: data, path: path))
    }

    private init(file: MappedFile) throws(ModelError) {
        let path = file.path
        self.path = path
        self.file = file
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw .safetensors(path: path, problem: "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .safetensors(path: path, problem: "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes[8..<dataStart])
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw .safetensors(path: path, problem: "header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else {
            throw .safetensors(path: path, problem: "header is not a JSON object")
        }
        let dataSize = bytes.count - dataStart
        var infos: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw .safetensors(path: path, problem: "__metadata__ is not an object")
                }
                for (k, v) in m { meta[k] = v as? String ?? "\(v)" }
                continue
            }
            infos[name] = try Self.parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }
        // Ranges must not overlap.
        let sorted = infos.values.sorted { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound && !a.range.isEmpty && !b.range.isEmpty {
            throw .safetensors(path: path, problem: "tensors '\(a.name)' and '\(b.name)' overlap in the data area")
        }
        tensors = infos
        metadata = meta
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws(ModelError) -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw .safetensors(path: path, problem: "entry '\(name)' is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw .safetensors(path: path, problem: "tensor '\(name)' has no dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .safetensors(path: path, problem: "tensor '\(name)' has unknown dtype '\(dtypeName)'")
        }
        guard let shapeAny = entry["shape"] as? [Any],
              let shape = Self.integers(shapeAny), shape.allSatisfy({ $0 >= 0 })
        else {
            throw .safetensors(path: path, problem: "tensor '\(name)' has no valid shape")
        }
        guard let offsetsAny = entry["data_offsets"] as? [Any], let offsets = Self.integers(offsetsAny),
              offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1]
        else {
            throw .safetensors(path: path, problem: "tensor '\(name)' has no valid data_offsets")
        }
        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .safetensors(path: path, problem: "tensor '\(name)' shape \(shape) overflows") }
            elements = p
        }
        // Sizes come from the file: every product is overflow-checked ([2^62] F32 trapped here).
        let (expectedBytes, bytesOverflow) = elements.multipliedReportingOverflow(by: dtype.size)
        guard !bytesOverflow else { throw .safetensors(path: path, problem: "tensor '\(name)' shape \(shape) × \(dtype.rawValue) overflows") }
        guard offsets[1] - offsets[0] == expectedBytes else {
            throw .safetensors(
                path: path,
                problem: "tensor '\(name)' shape \(shape) × \(dtype.rawValue) needs \(expectedBytes) bytes, data_offsets give \(offsets[1] - offsets[0])")
        }
        guard offsets[1] <= dataSize, offsets[1] <= Int.max - 8 - dataSize else {
            throw .safetensors(path: path, problem: "tensor '\(name)' data ends at \(offsets[1]), past the \(dataSize)-byte data area")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            if let d = v as? Double, d.rounded() == d, abs(d) < 9e15 {
                out.append(Int(d))
            } else if let n = v as? Int {
                out.append(n)
            } else {
                return nil
            }
        }
        return out
    }

    public var names: [String] { tensors.keys.sorted() }

    /// A floating tensor read as Float (F32, F16, BF16, F64 are converted); integer tensors too.
    /// `requireFinite` (model weights) refuses NaN and ±∞ with an error naming the tensor; a
    /// trace's scores hold −∞ where masked, so it is off by default.
    public func tensor(_ name: String, requireFinite: Bool = false) throws(ModelError) -> Tensor {
        guard let info = tensors[name] else { throw .missingWeight(path: path, name: name) }
        let out = floats(info, elements: 0..<info.shape.reduce(1, *))
        if requireFinite, let bad = out.firstIndex(where: { !$0.isFinite }) {
            throw .safetensors(path: path, problem: "tensor '\(name)' holds \(out[bad]) at element \(bad); weights must be finite")
        }
        do { return try Tensor(shape: info.shape, data: out) } catch { throw .tensor(context: "\(path): \(name)", error) }
    }

    /// Elements `elements` of a tensor (flat, row-major) as Float.
    func floats(_ info: TensorInfo, elements: Range<Int>) -> [Float] {
        let size = info.dtype.size
        let start = dataStart + info.range.lowerBound + elements.lowerBound * size
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + elements.count * size)])
        let count = elements.count
        var out = [Float](repeating: 0, count: count)
        switch info.dtype {
        case .f32:
            out.withUnsafeMutableBytes { dst in dst.copyMemory(from: raw) }
        case .f16:
            for i in 0..<count { out[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<count {
                let bits = UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                out[i] = Float(bitPattern: bits)
            }
        case .f64:
            for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .i64, .i32, .i16, .i8, .u8, .bool:
            let ints = integerValues(info: TensorInfo(name: info.name, dtype: info.dtype, shape: [count], range: 0..<raw.count), raw: raw)
            for i in 0..<count { out[i] = Float(ints[i]) }
        }
        return out
    }

    /// A 2-D float tensor left in the file and read a row at a time.
    public func rows(_ name: String) throws(ModelError) -> MappedRows {
        guard let info = tensors[name] else { throw .missingWeight(path: path, name: name) }
        guard info.shape.count == 2 else { throw .weightShape(path: path, name: name, expected: [-1, -1], found: info.shape) }
        return try MappedRows(self, name: name, rows: info.shape[0], cols: info.shape[1])
    }

    /// Gives the mapped file's pages back to the kernel once the weights that were copied out of
    /// it are loaded; rows read later (`MappedRows`) are paged in again from the file alone.
    func releasePages() {
        file.releasePages()
    }

    /// An integer tensor's values (I64 `input_ids`, MiniLM's `embeddings.position_ids`).
    public func integers(_ name: String) throws(ModelError) -> [Int] {
        guard let info = tensors[name] else { throw .missingWeight(path: path, name: name) }
        guard !info.dtype.isFloat else {
            throw .safetensors(path: path, problem: "tensor '\(name)' is \(info.dtype.rawValue), expected an integer type")
        }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + info.range.lowerBound)..<(dataStart + info.range.upperBound)])
        return integerValues(info: info, raw: raw)
    }

    private func integerValues(info: TensorInfo, raw: UnsafeRawBufferPointer) -> [Int] {
        let count = info.shape.reduce(1, *)
        return (0..<count).map { i -> Int in
            switch info.dtype {
            case .i64: return Int(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .i32: return Int(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .i16: return Int(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
            case .i8: return Int(raw.loadUnaligned(fromByteOffset: i, as: Int8.self))
            case .u8, .bool: return Int(raw.loadUnaligned(fromByteOffset: i, as: UInt8.self))
            case .f64, .f32, .f16, .bf16: return 0
            }
        }
    }
}

/// Writes tensors as a safetensors file (F32 for floats, I64 for integer arrays), names sorted,
/// so the same values always give the same bytes.
public enum SafetensorsWriter {
    public enum Entry: Sendable {
        case float(Tensor)
        case int64(shape: [Int], values: [Int])
    }

    public static func encode(_ entries: [String: Entry], metadata: [String: String] = [:]) -> Data {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var body = Data()
        for name in entries.keys.sorted() {
            guard let entry = entries[name] else { continue }
            let start = body.count
            let dtype: String, shape: [Int]
            switch entry {
            case let .float(t):
                dtype = "F32"; shape = t.shape
                t.data.withUnsafeBytes { body.append(contentsOf: $0) }
            case let .int64(s, values):
                dtype = "I64"; shape = s
                for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { body.append(contentsOf: $0) } }
            }
            let dims = shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(dims)],\"data_offsets\":[\(start),\(body.count)]}")
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Data(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        out.append(body)
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
