import AttnvizTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file as UTF-8, with errors that name the file.
func readUTF8(_ path: String) throws(ModelError) -> String {
    let data = try readData(path)
    guard let text = String(validating: data, as: UTF8.self) else {
        throw .input(path: path, problem: "not valid UTF-8 text")
    }
    return text
}

/// The lines of a text file as HF's Rust tokenizers read them (`BufRead::lines`): split at "\n",
/// one "\r" before it dropped, no empty last line after a final newline. (`components(separatedBy:
/// "\n")` does not split "\r\n", a single Character, so a CRLF file came back as one line.)
func textLines(_ text: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if scalar == "\n" {
            if current.last == "\r" { current.removeLast() }
            lines.append(String(current))
            current = String.UnicodeScalarView()
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty {
        if current.last == "\r" { current.removeLast() }
        lines.append(String(current))
    }
    return lines
}

/// Reads a file whole: regular files, and also pipes, FIFOs and devices (`<(…)`, /dev/stdin),
/// which are read as streams. Errors name the file and say what is wrong with it.
func readData(_ path: String, limit: Int = Int.max) throws(ModelError) -> Data {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        let code = errno
        if code == ENOENT { throw .missingFile(path: path) }
        throw .unreadable(path: path, reason: String(cString: strerror(code)))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw .unreadable(path: path, reason: "is a directory") }
    return try readAll(fd: fd, path: path, limit: limit)
}

/// Reads `fd` to its end (or `limit` bytes), retrying interrupted reads.
func readAll(fd: Int32, path: String, limit: Int = Int.max) throws(ModelError) -> Data {
    var data = Data()
    let chunk = 1 << 16
    var buffer = [UInt8](repeating: 0, count: chunk)
    while data.count < limit {
        let want = min(chunk, limit - data.count)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if n == 0 { break }
        data.append(contentsOf: buffer[0..<n])
    }
    return data
}

/// Creates `path` (which must not exist) with `data`; on any failure (disk full, file too large)
/// the partial file is removed and the error says why in words.
func writeNewFile(_ path: String, _ data: Data) throws(ModelError) {
    let failure = POSIXWrite.file(path, data, exclusive: true)
    if failure != 0 { throw .unwritable(path: path, reason: POSIXWrite.text(failure)) }
}

/// Decodes a JSON file into a typed value; a decoding failure names the key that did not fit.
func decodeJSON<T: Decodable>(_ type: T.Type, path: String) throws(ModelError) -> T {
    try decodeJSON(T.self, data: try readData(path), path: path)
}

/// Decodes JSON bytes; `path` names them in errors.
func decodeJSON<T: Decodable>(_ type: T.Type, data: Data, path: String) throws(ModelError) -> T {
    let value: T
    do {
        value = try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
        throw .config(path: path, key: key.stringValue, problem: "missing")
    } catch let DecodingError.typeMismatch(expected, context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: "expected \(expected)")
    } catch let DecodingError.valueNotFound(expected, context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: "expected \(expected), found null")
    } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
        throw numberProblem(T.self, data: data, path: path) ?? .config(path: path, key: "(file)", problem: "not valid JSON")
    } catch let DecodingError.dataCorrupted(context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: context.debugDescription)
    } catch {
        throw .config(path: path, key: "(file)", problem: "\(error)")
    }
    if let checked = value as? CheckedConfig { try checked.checkValues(path: path) }
    return value
}

/// Valid JSON whose number does not fit the expected type (`48.5` or `1e300` for an integer)
/// fails without a coding path on this toolchain: find the key by trying each suspicious number.
private func numberProblem<T: Decodable>(_ type: T.Type, data: Data, path: String) -> ModelError? {
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
    // Read back through JSONSerialization, a number it rounds (1e-400 → 0) no longer fails:
    // then no single key can be blamed by the search below.
    if let again = try? JSONSerialization.data(withJSONObject: object), (try? JSONDecoder().decode(T.self, from: again)) != nil {
        return .config(path: path, key: "(file)", problem: "holds a number outside the range of a 64-bit float")
    }
    for (key, value) in object.sorted(by: { $0.key < $1.key }) {
        guard let number = value as? NSNumber, !(value is Bool) else { continue }
        let d = number.doubleValue
        guard d.rounded() != d || abs(d) >= 9.2e18 else { continue }
        var fixed = object
        fixed[key] = 1
        guard let retry = try? JSONSerialization.data(withJSONObject: fixed) else { continue }
        do { _ = try JSONDecoder().decode(T.self, from: retry); return .config(path: path, key: key, problem: "expected an integer, found \(number)") } catch let DecodingError.dataCorrupted(c) where c.codingPath.isEmpty {
            continue
        } catch {
            return .config(path: path, key: key, problem: "expected an integer, found \(number)")
        }
    }
    return nil
}

/// A config whose values are checked after decoding (finite, positive where they must be).
protocol CheckedConfig {
    func checkValues(path: String) throws(ModelError)
}

/// The longest input attnviz reads: far more text than any model's positions can hold, so the
/// rest cannot change the tokens used (a 50 MB file was tokenized whole before).
public let maxInputBytes = 4 << 20

/// Reads the text a user gave: the file (or stdin for "-", or a pipe or device), which must be
/// valid UTF-8. Input past `maxInputBytes` is not read; `truncated` says so.
public func readInput(_ path: String) throws(ModelError) -> (text: String, truncated: Bool) {
    var data: Data
    if path == "-" {
        data = try readAll(fd: 0, path: "standard input", limit: maxInputBytes + 1)
    } else {
        data = try readData(path, limit: maxInputBytes + 1)
    }
    let truncated = data.count > maxInputBytes
    if truncated {
        data = data.prefix(maxInputBytes)
        // The cut may split a character: drop up to 3 bytes of a partial UTF-8 sequence.
        if let cut = (0...3).first(where: { String(validating: data.dropLast($0), as: UTF8.self) != nil }) {
            data = data.dropLast(cut)
        }
    }
    if data.isEmpty { throw .input(path: path == "-" ? "standard input" : path, problem: "the text is empty") }
    guard let text = String(validating: data, as: UTF8.self) else {
        throw .input(path: path == "-" ? "standard input" : path, problem: "not valid UTF-8 text")
    }
    return (text, truncated)
}

/// Reads the text a user gave: the whole file (or stdin for "-"), which must be valid UTF-8.
/// Whitespace-only text is returned as it is: tokenizers follow HF on it (WordPiece gives
/// [CLS] [SEP], byte-level BPE real tokens).
public func readInputText(_ path: String) throws(ModelError) -> String {
    let (text, truncated) = try readInput(path)
    if truncated {
        FileHandle.standardError.write(Data("attnviz: warning: \(path == "-" ? "standard input" : path): only the first \(maxInputBytes >> 20) MiB are read; the model's positions are filled long before\n".utf8))
    }
    return text
}
