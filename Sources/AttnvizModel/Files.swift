import Foundation

/// Reads a whole file as UTF-8, with errors that name the file.
func readUTF8(_ path: String) throws(ModelError) -> String {
    let data = try readData(path)
    guard let text = String(validating: data, as: UTF8.self) else {
        throw .input(path: path, problem: "not valid UTF-8 text")
    }
    return text
}

func readData(_ path: String) throws(ModelError) -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .missingFile(path: path) }
    guard !isDir.boolValue else { throw .unreadable(path: path, reason: "is a directory") }
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw .unreadable(path: path, reason: error.localizedDescription)
    }
}

/// Decodes a JSON file into a typed value; a decoding failure names the key that did not fit.
func decodeJSON<T: Decodable>(_ type: T.Type, path: String) throws(ModelError) -> T {
    let data = try readData(path)
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
        throw .config(path: path, key: key.stringValue, problem: "missing")
    } catch let DecodingError.typeMismatch(expected, context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: "expected \(expected)")
    } catch let DecodingError.valueNotFound(expected, context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: "expected \(expected), found null")
    } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
        throw .config(path: path, key: "(file)", problem: "not valid JSON")
    } catch let DecodingError.dataCorrupted(context) {
        throw .config(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), problem: context.debugDescription)
    } catch {
        throw .config(path: path, key: "(file)", problem: "\(error)")
    }
}

/// Reads the text a user gave: the whole file (or stdin for "-"), which must be valid UTF-8 and
/// contain something besides whitespace.
public func readInputText(_ path: String) throws(ModelError) -> String {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        data = try readData(path)
    }
    guard let text = String(validating: data, as: UTF8.self) else {
        throw .input(path: path, problem: "not valid UTF-8 text")
    }
    guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
        throw .input(path: path, problem: "the text is empty or only whitespace")
    }
    return text
}
