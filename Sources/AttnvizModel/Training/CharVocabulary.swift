import Foundation

/// The character vocabulary of attnviz's own models: `</s>` (0, end of sequence), `<unk>` (1),
/// `<pad>` (2, also the decoder start token, as in Marian), then the 95 printable ASCII
/// characters U+0020…U+007E (ids 3…97). Every other Unicode scalar — accents, Chinese, emoji,
/// tabs and newlines — becomes one `<unk>`; whitespace runs are not merged here (the task does it).
public struct CharVocabulary: Sendable, Equatable {
    public static let eos = 0, unknown = 1, pad = 2
    public static let specials = ["</s>", "<unk>", "<pad>"]
    public static let fileName = "vocab.json"
    public let tokens: [String]  // id → token

    public init() {
        tokens = Self.specials + (0x20...0x7E).map { String(UnicodeScalar(UInt8($0))) }
    }

    public var count: Int { tokens.count }

    /// One id per Unicode scalar, then `</s>`.
    public func encode(_ text: String) -> [Int] {
        text.unicodeScalars.map { s in (0x20...0x7E).contains(s.value) ? Int(s.value) - 0x20 + Self.specials.count : Self.unknown } + [Self.eos]
    }

    /// The text of ids up to the first `</s>`; `<unk>` shows as U+FFFD, `<pad>` is skipped.
    public func decode(_ ids: [Int]) -> String {
        var out = ""
        for id in ids {
            if id == Self.eos { break }
            if id == Self.pad { continue }
            out += (id >= Self.specials.count && id < tokens.count) ? tokens[id] : "\u{FFFD}"
        }
        return out
    }

    /// vocab.json: {token: id}, as HF Marian directories keep it.
    public func json() -> Data {
        let object = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
        return ((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()) + Data("\n".utf8)
    }

    /// Reads a model directory's vocab.json and checks it is this vocabulary.
    public static func load(directory: String) throws(ModelError) -> CharVocabulary {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let found = try decodeJSON([String: Int].self, path: path)
        let expected = CharVocabulary()
        for (id, token) in expected.tokens.enumerated() where found[token] != id {
            throw .tokenizer(path: path, problem: "token \(String(reflecting: token)) should have id \(id), found \(found[token].map(String.init) ?? "none")")
        }
        guard found.count == expected.count else {
            throw .tokenizer(path: path, problem: "expected \(expected.count) tokens (attnviz's character vocabulary), found \(found.count)")
        }
        return expected
    }
}
